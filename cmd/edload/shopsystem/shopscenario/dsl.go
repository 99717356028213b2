package shopscenario

import (
	"encoding/json"
	"time"

	"github.com/edkit-dev/edkit/reference/shop"
)

// Builder assembles a Scenario in Go. Its methods return the builder so a
// scenario reads as one given/when/then expression; Build returns the same
// *Scenario value a YAML file would parse to.
type Builder struct{ sc Scenario }

// New starts a scenario with the given name.
func New(name string) *Builder { return &Builder{sc: Scenario{Name: name}} }

// Describe sets the scenario's description.
func (b *Builder) Describe(text string) *Builder { b.sc.Description = text; return b }

// Stock sets a SKU's initial quantity on hand.
func (b *Builder) Stock(sku string, onHand int) *Builder {
	if b.sc.Setup.Stock == nil {
		b.sc.Setup.Stock = map[string]int{}
	}
	b.sc.Setup.Stock[sku] = onHand
	return b
}

// Decline makes the payment gateway decline every charge of these customers.
func (b *Builder) Decline(customers ...string) *Builder {
	b.sc.Setup.Declined = append(b.sc.Setup.Declined, customers...)
	return b
}

// ChargeLimit makes the gateway decline charges above cents.
func (b *Builder) ChargeLimit(cents int64) *Builder { b.sc.Setup.LimitCents = cents; return b }

// MaxAttempts bounds handler attempts before dead-lettering.
func (b *Builder) MaxAttempts(n int) *Builder { b.sc.Setup.MaxAttempts = n; return b }

// Dedup switches the command service's inbox on or off.
func (b *Builder) Dedup(on bool) *Builder { b.sc.Setup.Dedup = on; return b }

// Timeout bounds each wait of the run.
func (b *Builder) Timeout(d time.Duration) *Builder { b.sc.Timeout = d; return b }

// Given appends steps that run, to quiescence, before When.
func (b *Builder) Given(steps ...Step) *Builder { b.sc.Given = append(b.sc.Given, steps...); return b }

// When appends the steps under test.
func (b *Builder) When(steps ...Step) *Builder { b.sc.When = append(b.sc.When, steps...); return b }

// Then appends expectations.
func (b *Builder) Then(exps ...Expectation) *Builder {
	b.sc.Then = append(b.sc.Then, exps...)
	return b
}

// Build returns the scenario. It does not validate: Run does, and
// (*Scenario).Validate reports every problem at once.
func (b *Builder) Build() *Scenario {
	sc := b.sc
	return &sc
}

// Command is a step that sends a shop command with the given ID.
func Command(id string, c shop.Command) Step {
	return Step{Command: &CommandStep{ID: id, Command: c}}
}

// Event is a step that appends a raw event to the store; data is encoded
// as JSON (an encoding failure is reported by Validate).
func Event(id, stream, typ string, data any) Step {
	e := &EventStep{ID: id, Stream: stream, Type: typ}
	if data != nil {
		e.Data, e.err = json.Marshal(data)
	}
	return Step{Event: e}
}

// Poison is a step that publishes a raw payload to a topic, bypassing the
// command encoder.
func Poison(id, topic, key, payload string) Step {
	return Step{Poison: &PoisonStep{ID: id, Topic: topic, Key: key, Payload: payload}}
}

// OrderStatus expects the read model to show the order with status.
func OrderStatus(orderID, status string) Expectation {
	return Expectation{Order: &OrderExpectation{ID: orderID, Status: status}}
}

// Events expects the stream to hold exactly these event types, in order.
func Events(stream string, types ...string) Expectation {
	return Expectation{Events: &EventsExpectation{Stream: stream, Types: append([]string{}, types...)}}
}

// Commands expects the command service to have received exactly this
// sequence of commands for the order, besides the scenario's own.
func Commands(orderID string, types ...string) Expectation {
	return Expectation{Commands: &CommandsExpectation{Order: orderID, Sequence: append([]string{}, types...)}}
}

// Charges expects the gateway to have charged the order exactly n times.
func Charges(orderID string, n int) Expectation {
	return Expectation{Charges: &ChargesExpectation{Order: orderID, Count: n}}
}

// StockOnHand expects the SKU to have exactly n on hand.
func StockOnHand(sku string, n int) Expectation {
	return Expectation{Stock: &StockExpectation{SKU: sku, OnHand: n}}
}

// DeadLettered expects the message to be dead-lettered after attempts
// attempts (0: any number) with a reason containing reasonContains.
func DeadLettered(id string, attempts int, reasonContains string) Expectation {
	return Expectation{DLQ: &DLQExpectation{ID: id, Attempts: attempts, ReasonContains: reasonContains}}
}

// OrderCount expects the read model to hold exactly n orders.
func OrderCount(n int) Expectation { return Expectation{Orders: &OrdersExpectation{Count: n}} }
