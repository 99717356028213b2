package shopscenario

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/edkit-dev/edkit/reference/shop"
)

// Scenario is one given/when/then specification of the shop. The same value
// comes from a YAML file (Parse, LoadFile) or from the Go DSL (New), and
// runs unchanged on every Target.
type Scenario struct {
	Name        string
	Description string
	// Setup is the world before Given: stock, payment gateway, service
	// configuration.
	Setup Setup
	// Given steps run first, and the runner waits until the system is
	// quiescent before When, so When starts from a settled state.
	Given []Step
	// When steps are the stimulus under test.
	When []Step
	// Then expectations must each hold within the timeout and still hold
	// once the system is quiescent.
	Then []Expectation
	// Timeout bounds each wait of the run (0: the runner's default).
	Timeout time.Duration
	// Pos is where the scenario was written (zero for the Go DSL).
	Pos Pos
}

// Setup is the world a scenario starts in.
type Setup struct {
	// Stock is each SKU's initial quantity on hand; other SKUs are out of
	// stock.
	Stock map[string]int
	// Declined customers have every charge declined.
	Declined []string
	// LimitCents declines charges above it (0: no limit).
	LimitCents int64
	// MaxAttempts bounds handler attempts before dead-lettering (0: the
	// service default, 3).
	MaxAttempts int
	// Dedup switches the command service's inbox on.
	Dedup bool
}

// Pos is a place in a scenario file.
type Pos struct {
	File   string
	Line   int
	Column int
}

func (p Pos) err(format string, args ...any) *SpecError {
	return &SpecError{File: p.File, Line: p.Line, Column: p.Column, Msg: fmt.Sprintf(format, args...)}
}

// Step is one thing the scenario does to the system: exactly one of
// Command, Event or Poison is set.
type Step struct {
	Command *CommandStep
	Event   *EventStep
	Poison  *PoisonStep
	// Pos is where the step was written; fields holds its keys' positions
	// so errors can point at the offending field.
	Pos    Pos
	fields map[string]Pos
}

// MaxTimes bounds CommandStep.Times: a scenario sends each copy and keeps
// it in its transcript.
const MaxTimes = 1000

// CommandStep sends a shop command through the service, Times times with
// the same ID (the idempotency key), to exercise duplicate delivery.
type CommandStep struct {
	ID      string
	Command shop.Command
	// Times is how often the command is sent (0 or 1: once).
	Times int
}

// EventStep appends a raw event to the store, as if an earlier version of
// the system had written it; the relay then publishes it like any other.
type EventStep struct {
	ID       string
	Stream   string
	Type     string
	Data     json.RawMessage
	Metadata map[string]string
	err      error // from the DSL's encoding of Data
}

// PoisonStep publishes a raw message straight to the bus, bypassing the
// service's encoder: the way to test what happens to undecodable input.
type PoisonStep struct {
	ID      string
	Topic   string
	Key     string
	Payload string
	Headers map[string]string
}

// Times returns a copy of a command step that is sent n times with the
// same ID; on other steps it is a no-op.
func (s Step) Times(n int) Step {
	if s.Command != nil {
		c := *s.Command
		c.Times = n
		s.Command = &c
	}
	return s
}

// at returns the position of one of the step's fields, or the step's own.
func (s Step) at(field string) Pos {
	if p, ok := s.fields[field]; ok {
		return p
	}
	return s.Pos
}

// Expectation is one thing that must be true after When: exactly one of
// its fields is set.
type Expectation struct {
	Order    *OrderExpectation
	Events   *EventsExpectation
	Commands *CommandsExpectation
	Charges  *ChargesExpectation
	Stock    *StockExpectation
	DLQ      *DLQExpectation
	Orders   *OrdersExpectation
	Pos      Pos
	fields   map[string]Pos
}

func (e Expectation) at(field string) Pos {
	if p, ok := e.fields[field]; ok {
		return p
	}
	return e.Pos
}

// OrderExpectation: the order-summary read model shows the order with this
// status.
type OrderExpectation struct{ ID, Status string }

// EventsExpectation: the stream holds exactly these event types, in order.
type EventsExpectation struct {
	Stream string
	Types  []string
}

// CommandsExpectation: the command service received exactly this sequence
// of commands for the order, not counting the ones the scenario sent
// itself. Each command counts once (its first delivery), so this asserts
// what the saga asked for and in which order — compensation in reverse.
type CommandsExpectation struct {
	Order    string
	Sequence []string
}

// ChargesExpectation: the gateway charged the order exactly Count times.
type ChargesExpectation struct {
	Order string
	Count int
}

// StockExpectation: the SKU has exactly OnHand in stock.
type StockExpectation struct {
	SKU    string
	OnHand int
}

// DLQExpectation: the message with this ID was dead-lettered after
// Attempts attempts (0: any) with a reason containing ReasonContains.
type DLQExpectation struct {
	ID             string
	Attempts       int
	ReasonContains string
}

// OrdersExpectation: the read model holds exactly Count orders.
type OrdersExpectation struct{ Count int }

// String describes the expectation the way a scenario file would.
func (e Expectation) String() string {
	switch {
	case e.Order != nil:
		return fmt.Sprintf("order %s is %s", e.Order.ID, e.Order.Status)
	case e.Events != nil:
		return fmt.Sprintf("stream %s holds [%s]", e.Events.Stream, strings.Join(e.Events.Types, ", "))
	case e.Commands != nil:
		return fmt.Sprintf("order %s received commands [%s]", e.Commands.Order, strings.Join(e.Commands.Sequence, ", "))
	case e.Charges != nil:
		return fmt.Sprintf("order %s charged %d time(s)", e.Charges.Order, e.Charges.Count)
	case e.Stock != nil:
		return fmt.Sprintf("sku %s has %d on hand", e.Stock.SKU, e.Stock.OnHand)
	case e.DLQ != nil:
		s := fmt.Sprintf("message %s dead-lettered", e.DLQ.ID)
		if e.DLQ.Attempts > 0 {
			s += fmt.Sprintf(" after %d attempt(s)", e.DLQ.Attempts)
		}
		if e.DLQ.ReasonContains != "" {
			s += fmt.Sprintf(" with reason containing %q", e.DLQ.ReasonContains)
		}
		return s
	case e.Orders != nil:
		return fmt.Sprintf("%d order(s) exist", e.Orders.Count)
	}
	return "empty expectation"
}

// Validate reports every problem in the scenario, joined with errors.Join;
// each is a *SpecError pointing at the step or field at fault.
func (sc *Scenario) Validate() error {
	var errs []error
	add := func(e *SpecError) { errs = append(errs, e) }
	if sc.Name == "" {
		add(sc.Pos.err("scenario needs a name"))
	}
	if sc.Timeout < 0 {
		add(sc.Pos.err("timeout %s is negative", sc.Timeout))
	}
	st := sc.Setup
	skus := make([]string, 0, len(st.Stock))
	for sku := range st.Stock {
		skus = append(skus, sku)
	}
	sort.Strings(skus)
	for _, sku := range skus {
		if sku == "" {
			add(sc.Pos.err("setup.stock: empty sku"))
		} else if st.Stock[sku] < 0 {
			add(sc.Pos.err("setup.stock.%s: quantity %d is negative", sku, st.Stock[sku]))
		}
	}
	if st.LimitCents < 0 {
		add(sc.Pos.err("setup.limitCents %d is negative", st.LimitCents))
	}
	if st.MaxAttempts < 0 {
		add(sc.Pos.err("setup.maxAttempts %d is negative", st.MaxAttempts))
	}
	if len(sc.When) == 0 {
		add(sc.Pos.err("scenario %q needs at least one when step", sc.Name))
	}
	if len(sc.Then) == 0 {
		add(sc.Pos.err("scenario %q needs at least one then expectation", sc.Name))
	}
	for i, s := range sc.Given {
		errs = append(errs, validateStep(fmt.Sprintf("given[%d]", i), s)...)
	}
	for i, s := range sc.When {
		errs = append(errs, validateStep(fmt.Sprintf("when[%d]", i), s)...)
	}
	for i, e := range sc.Then {
		errs = append(errs, validateExpectation(fmt.Sprintf("then[%d]", i), e)...)
	}
	return errors.Join(errs...)
}

func validateStep(where string, s Step) []error {
	var errs []error
	add := func(p Pos, format string, args ...any) {
		errs = append(errs, p.err(where+": "+format, args...))
	}
	n := 0
	for _, set := range []bool{s.Command != nil, s.Event != nil, s.Poison != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		add(s.Pos, "a step needs exactly one of command, event or poison, found %d", n)
		return errs
	}
	switch {
	case s.Command != nil:
		c := s.Command
		if c.ID == "" {
			add(s.Pos, "missing required field id (the command ID)")
		}
		if c.Times < 0 || c.Times > MaxTimes {
			add(s.at("times"), "times %d: want 0 to %d", c.Times, MaxTimes)
		}
		if err := c.Command.Validate(); err != nil {
			p := s.at("command")
			if !knownCommand(c.Command.Type) {
				p = s.at("command.type")
			}
			add(p, "%v", err)
		}
	case s.Event != nil:
		e := s.Event
		if e.err != nil {
			add(s.at("event.data"), "data: %v", e.err)
		}
		for _, f := range []struct{ name, v string }{{"id", e.ID}, {"stream", e.Stream}, {"type", e.Type}} {
			if f.v == "" {
				add(s.at("event"), "event: missing required field %s", f.name)
			}
		}
		if len(e.Data) > 0 && !json.Valid(e.Data) {
			add(s.at("event.data"), "data is not valid JSON")
		}
	case s.Poison != nil:
		p := s.Poison
		if p.ID == "" {
			add(s.at("poison"), "poison: missing required field id")
		}
		if p.Topic == "" {
			add(s.at("poison"), "poison: missing required field topic")
		}
	}
	return errs
}

func knownCommand(t string) bool {
	switch t {
	case shop.CmdPlaceOrder, shop.CmdReserveStock, shop.CmdReleaseStock, shop.CmdChargePayment, shop.CmdConfirmOrder, shop.CmdCancelOrder:
		return true
	}
	return false
}

var commandTypes = []string{shop.CmdPlaceOrder, shop.CmdReserveStock, shop.CmdReleaseStock, shop.CmdChargePayment, shop.CmdConfirmOrder, shop.CmdCancelOrder}

var statuses = []string{shop.StatusPlaced, shop.StatusConfirmed, shop.StatusCancelled}

func validateExpectation(where string, e Expectation) []error {
	var errs []error
	add := func(p Pos, format string, args ...any) {
		errs = append(errs, p.err(where+": "+format, args...))
	}
	n := 0
	for _, set := range []bool{e.Order != nil, e.Events != nil, e.Commands != nil, e.Charges != nil, e.Stock != nil, e.DLQ != nil, e.Orders != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		add(e.Pos, "an expectation needs exactly one of order, events, commands, charges, stock, dlq or orders, found %d", n)
		return errs
	}
	need := func(kind, field, v string) {
		if v == "" {
			add(e.at(kind), "%s: missing required field %s", kind, field)
		}
	}
	nonNeg := func(kind, field string, v int) {
		if v < 0 {
			add(e.at(kind+"."+field), "%s: %s %d is negative", kind, field, v)
		}
	}
	switch {
	case e.Order != nil:
		need("order", "id", e.Order.ID)
		need("order", "status", e.Order.Status)
		if e.Order.Status != "" && !contains(statuses, e.Order.Status) {
			add(e.at("order.status"), "order: unknown status %q (want one of %s)", e.Order.Status, strings.Join(statuses, ", "))
		}
	case e.Events != nil:
		need("events", "stream", e.Events.Stream)
	case e.Commands != nil:
		need("commands", "order", e.Commands.Order)
		for i, t := range e.Commands.Sequence {
			if !knownCommand(t) {
				add(e.at("commands.sequence"), "commands: sequence[%d]: unknown command type %q (want one of %s)", i, t, strings.Join(commandTypes, ", "))
			}
		}
	case e.Charges != nil:
		need("charges", "order", e.Charges.Order)
		nonNeg("charges", "count", e.Charges.Count)
	case e.Stock != nil:
		need("stock", "sku", e.Stock.SKU)
		nonNeg("stock", "onHand", e.Stock.OnHand)
	case e.DLQ != nil:
		need("dlq", "id", e.DLQ.ID)
		nonNeg("dlq", "attempts", e.DLQ.Attempts)
	case e.Orders != nil:
		nonNeg("orders", "count", e.Orders.Count)
	}
	return errs
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
