package shopscenario

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
	"github.com/edkit-dev/edkit/reference/eventstore/memstore"
	"github.com/edkit-dev/edkit/reference/service"
	"github.com/edkit-dev/edkit/reference/shop"
)

// DefaultTimeout bounds each wait of a run unless the scenario or a
// RunOption says otherwise.
const DefaultTimeout = 10 * time.Second

// RunOption configures Run.
type RunOption func(*runConfig)

type runConfig struct {
	timeout time.Duration
	quiet   time.Duration
	poll    time.Duration
}

// WithTimeout sets the default bound on each wait: quiescence after Given,
// the expectations, quiescence after Then. A scenario's own Timeout wins.
func WithTimeout(d time.Duration) RunOption { return func(c *runConfig) { c.timeout = d } }

// WithQuietWindow sets how long the run must be idle, on top of every
// published message being handled, to count as quiescent.
func WithQuietWindow(d time.Duration) RunOption { return func(c *runConfig) { c.quiet = d } }

// Run runs the scenario on the target: a fresh memory store, inventory,
// gateway and shop service over a fresh bus from target; it applies Given,
// waits until the system is quiescent, applies When, then waits (bounded)
// for each expectation to hold and checks again once the system is
// quiescent, so a count that grows late (a second charge) fails.
//
// The error is for runs that could not be carried out (an invalid
// scenario, a bus that would not start, a step that could not be sent);
// expectations that do not hold are reported in the Outcome.
func Run(ctx context.Context, sc *Scenario, target Target, opts ...RunOption) (*Outcome, error) {
	if err := sc.Validate(); err != nil {
		return nil, fmt.Errorf("scenario %q: %w", sc.Name, err)
	}
	cfg := runConfig{timeout: DefaultTimeout, quiet: 5 * time.Millisecond, poll: 2 * time.Millisecond}
	if q, ok := target.(interface{ quietWindow() time.Duration }); ok {
		cfg.quiet = q.quietWindow()
	}
	for _, o := range opts {
		o(&cfg)
	}
	if sc.Timeout > 0 {
		cfg.timeout = sc.Timeout
	}

	start := time.Now()
	rec := newRecorder(start)
	out := &Outcome{Scenario: sc.Name, Target: target.Name()}
	finish := func() { out.Transcript, out.Duration = rec.transcript(), time.Since(start) }

	b, err := target.NewBus(ctx, namespaceFor(sc.Name))
	if err != nil {
		return nil, fmt.Errorf("scenario %q on %s: bus: %w", sc.Name, target.Name(), err)
	}
	r := &run{
		cfg:   cfg,
		rec:   rec,
		bus:   &recordingBus{Bus: b, rec: rec},
		store: memstore.New(),
		inv:   shop.NewMemoryInventory(sc.Setup.Stock, false),
		gw:    shop.NewMemoryGateway(sc.Setup.LimitCents, sc.Setup.Declined...),
		sums:  shop.NewSummaries(),
	}
	r.svc, err = service.New(service.Config{
		Store: r.store, Bus: r.bus, Inventory: r.inv, Gateway: r.gw, Summaries: r.sums,
		Dedup: sc.Setup.Dedup, MaxAttempts: sc.Setup.MaxAttempts,
		Wrap: rec.wrap, OnDeadLetter: rec.deadLetter,
	})
	if err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("scenario %q: %w", sc.Name, err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	r.done = make(chan struct{})
	go func() {
		defer close(r.done)
		r.runErr = r.svc.Run(runCtx)
	}()
	defer func() {
		cancel()
		<-r.done
		_ = b.Close()
		_ = r.store.Close()
	}()

	for i, s := range sc.Given {
		if err := r.apply(ctx, s); err != nil {
			finish()
			return out, fmt.Errorf("scenario %q: given[%d]: %w", sc.Name, i, err)
		}
	}
	if len(sc.Given) > 0 {
		if err := r.waitQuiescent(ctx); err != nil {
			finish()
			return out, fmt.Errorf("scenario %q: after given: %w", sc.Name, err)
		}
	}
	for i, s := range sc.When {
		if err := r.apply(ctx, s); err != nil {
			finish()
			return out, fmt.Errorf("scenario %q: when[%d]: %w", sc.Name, i, err)
		}
	}

	deadline := time.Now().Add(cfg.timeout)
	for _, e := range sc.Then {
		out.Results = append(out.Results, r.eventually(ctx, e, deadline))
	}
	if err := r.waitQuiescent(ctx); err != nil {
		out.Problems = append(out.Problems, err.Error())
	}
	for i, res := range out.Results {
		if !res.Passed {
			continue
		}
		if err := r.check(ctx, res.Expectation); err != nil {
			out.Results[i] = Result{Expectation: res.Expectation, Message: "held at first, but not once the system was quiescent: " + err.Error()}
		}
	}
	if err := r.serviceErr(); err != nil {
		out.Problems = append(out.Problems, err.Error())
	}
	finish()
	return out, nil
}

type run struct {
	cfg   runConfig
	rec   *recorder
	bus   *recordingBus
	store *memstore.Store
	inv   *shop.MemoryInventory
	gw    *shop.MemoryGateway
	sums  *shop.Summaries
	svc   *service.Shop

	done   chan struct{}
	runErr error
}

// serviceErr reports a service that stopped on its own.
func (r *run) serviceErr() error {
	select {
	case <-r.done:
		if r.runErr == nil {
			return fmt.Errorf("%w: stopped without an error", ErrServiceFailed)
		}
		return fmt.Errorf("%w: %w", ErrServiceFailed, r.runErr)
	default:
		return nil
	}
}

func (r *run) apply(ctx context.Context, s Step) error {
	switch {
	case s.Command != nil:
		c := s.Command
		for range max(c.Times, 1) {
			r.rec.send(shop.TopicCommands, c.Command.Type, c.ID, c.Command.OrderID)
			if err := r.svc.Send(ctx, c.ID, c.Command); err != nil {
				return fmt.Errorf("send %s: %w", c.ID, err)
			}
		}
	case s.Event != nil:
		e := s.Event
		data := e.Data
		if len(data) == 0 {
			data = json.RawMessage("{}")
		}
		env := event.Envelope{ID: e.ID, Type: e.Type, Stream: e.Stream, Data: data, SchemaVersion: 1, Metadata: map[string]string{}}
		var ref shop.OrderRef
		if json.Unmarshal(data, &ref) == nil && ref.OrderID != "" {
			// The relay keys events by correlation ID and the saga finds
			// its order there; default it from the body like the service does.
			env.Metadata[event.MetaCorrelationID] = ref.OrderID
		}
		for k, v := range e.Metadata {
			env.Metadata[k] = v
		}
		r.rec.send("(store) "+e.Stream, e.Type, e.ID, env.Metadata[event.MetaCorrelationID])
		if _, err := r.store.Append(ctx, e.Stream, eventstore.Any, env); err != nil {
			return fmt.Errorf("append %s to %s: %w", e.ID, e.Stream, err)
		}
	case s.Poison != nil:
		p := s.Poison
		m := &bus.Message{ID: p.ID, Topic: p.Topic, Key: p.Key, Payload: []byte(p.Payload)}
		for k, v := range p.Headers {
			m.SetHeader(k, v)
		}
		r.rec.send(p.Topic, m.Header(bus.HeaderType), p.ID, p.Key)
		if err := r.bus.Publish(ctx, m); err != nil {
			return fmt.Errorf("publish poison %s: %w", p.ID, err)
		}
	}
	return nil
}

// waitQuiescent polls until every published message is handled, the relay
// has published every stored event and nothing ran for the quiet window.
func (r *run) waitQuiescent(ctx context.Context) error {
	deadline := time.Now().Add(r.cfg.timeout)
	for {
		if r.rec.quiescent(r.cfg.quiet) && r.svc.Relayed() >= r.store.LastPosition() {
			return nil
		}
		if err := r.serviceErr(); err != nil {
			return err
		}
		if !time.Now().Before(deadline) {
			return fmt.Errorf("%w within %s", ErrNotQuiescent, r.cfg.timeout)
		}
		if err := r.pause(ctx); err != nil {
			return err
		}
	}
}

func (r *run) pause(ctx context.Context) error {
	t := time.NewTimer(r.cfg.poll)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// eventually polls one expectation until it holds or the deadline passes.
func (r *run) eventually(ctx context.Context, e Expectation, deadline time.Time) Result {
	for {
		err := r.check(ctx, e)
		if err == nil {
			return Result{Expectation: e, Passed: true}
		}
		if !time.Now().Before(deadline) {
			return Result{Expectation: e, Message: err.Error()}
		}
		if perr := r.pause(ctx); perr != nil {
			return Result{Expectation: e, Message: fmt.Sprintf("%v (gave up: %v)", err, perr)}
		}
	}
}

// check evaluates an expectation once against the current state.
func (r *run) check(ctx context.Context, e Expectation) error {
	switch {
	case e.Order != nil:
		row, ok := r.sums.Get(e.Order.ID)
		if !ok {
			return fmt.Errorf("order %s is not in the read model", e.Order.ID)
		}
		if row.Status != e.Order.Status {
			return fmt.Errorf("order %s is %s (reason %q)", e.Order.ID, row.Status, row.Reason)
		}
	case e.Events != nil:
		evs, err := r.store.ReadStream(ctx, e.Events.Stream, 1, 0)
		if err != nil && !errors.Is(err, eventstore.ErrStreamNotFound) {
			return fmt.Errorf("read %s: %w", e.Events.Stream, err)
		}
		got := make([]string, 0, len(evs))
		for _, ev := range evs {
			got = append(got, ev.Type)
		}
		if !reflect.DeepEqual(got, e.Events.Types) {
			return fmt.Errorf("stream %s holds [%s]", e.Events.Stream, strings.Join(got, ", "))
		}
	case e.Commands != nil:
		got := r.rec.transcript().Commands(e.Commands.Order)
		if !reflect.DeepEqual(got, e.Commands.Sequence) {
			return fmt.Errorf("order %s received [%s]", e.Commands.Order, strings.Join(got, ", "))
		}
	case e.Charges != nil:
		if n := r.gw.Charges(e.Charges.Order); n != e.Charges.Count {
			return fmt.Errorf("order %s was charged %d time(s)", e.Charges.Order, n)
		}
	case e.Stock != nil:
		if n := r.inv.OnHand(e.Stock.SKU); n != e.Stock.OnHand {
			return fmt.Errorf("sku %s has %d on hand", e.Stock.SKU, n)
		}
	case e.DLQ != nil:
		return checkDLQ(r.rec.transcript().DeadLetters(), *e.DLQ)
	case e.Orders != nil:
		if n := len(r.sums.All()); n != e.Orders.Count {
			return fmt.Errorf("%d order(s) exist", n)
		}
	}
	return nil
}

func checkDLQ(dls []Entry, x DLQExpectation) error {
	var ids []string
	for _, d := range dls {
		ids = append(ids, d.ID)
		if d.ID != x.ID {
			continue
		}
		if x.Attempts > 0 && d.Attempts != x.Attempts {
			return fmt.Errorf("message %s was dead-lettered after %d attempt(s)", x.ID, d.Attempts)
		}
		if !strings.Contains(d.Result, x.ReasonContains) {
			return fmt.Errorf("message %s was dead-lettered with reason %q", x.ID, d.Result)
		}
		return nil
	}
	return fmt.Errorf("message %s was not dead-lettered (dead letters: [%s])", x.ID, strings.Join(ids, ", "))
}
