package blackbox

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/edkit-dev/edkit/harness"
	"github.com/edkit-dev/edkit/harness/check"
	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reports"
)

// System is a workload as an edkit system under test: Send publishes an
// input, a tap of edkit's own watches the outputs, and the ledger judges
// them. The system itself — the user's service — is whatever consumes the
// inputs and publishes the outputs, in any language; edkit starts it when
// the workload has a service section.
type System struct {
	w *Workload
}

// New returns the workload as a system.
func New(w *Workload) *System { return &System{w: w} }

// Name is the workload's.
func (s *System) Name() string { return s.w.Name }

// Topics are the inputs' and outputs' topics, made before the run starts.
func (s *System) Topics() []string { return s.w.Topics() }

// Workload is the workload the system runs.
func (s *System) Workload() *Workload { return s.w }

// Config describes the workload for the report.
func (s *System) Config() []reports.KV {
	kv := []reports.KV{{Key: "workload", Value: s.w.File}}
	corr := "header " + s.w.Correlation.Header
	if s.w.Correlation.Header == "" {
		corr = "input " + s.w.Correlation.Input + " → output " + s.w.Correlation.Output
	}
	kv = append(kv, reports.KV{Key: "correlation", Value: corr})
	var ins, outs []string
	for _, x := range s.w.Inputs {
		ins = append(ins, x.Name+"→"+x.Topic)
	}
	for _, o := range s.w.Outputs {
		outs = append(outs, o.Topic+" ("+o.Group+")")
	}
	kv = append(kv, reports.KV{Key: "inputs", Value: strings.Join(ins, ", ")}, reports.KV{Key: "outputs", Value: strings.Join(outs, ", ")})
	if s.w.Service != nil {
		kv = append(kv, reports.KV{Key: "service", Value: strings.Join(s.w.Service.Source, " ")})
	}
	return kv
}

// Start starts the service (when the workload has one) on the run's broker
// and subscribes edkit's tap to every output topic, so that nothing
// published from the first input on is missed.
func (s *System) Start(ctx context.Context, env *harness.Env) (harness.Instance, error) {
	now := env.Clock.Now()
	in := &instance{
		sys: s, env: env, w: s.w,
		nonce: strconv.FormatInt(now.UnixNano(), 36),
		mem:   NewMemory(), seqs: map[string]uint64{},
	}
	in.ledger = newLedger(s.w, now, env.Visible, env.Settled)
	if s.w.Correlation.Header != "" {
		in.ledger.foreignTo = in.idPrefix()
	}
	subCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	in.cancel = cancel
	if err := in.startService(ctx); err != nil {
		cancel()
		return nil, err
	}
	for _, o := range s.w.Outputs {
		ch, err := env.Bus.Subscribe(subCtx, o.Topic, o.Group)
		if err != nil {
			_ = in.Close()
			return nil, fmt.Errorf("tap %s (group %s): %w", o.Topic, o.Group, err)
		}
		in.taps = append(in.taps, tap{out: o, ch: ch})
	}
	return in, nil
}

type instance struct {
	sys    *System
	env    *harness.Env
	w      *Workload
	nonce  string
	mem    *Memory
	ledger *ledger
	taps   []tap
	cancel context.CancelFunc
	svc    *service

	// turns send one key's inputs one at a time, in the load's order.
	turns  turns
	seqMu  sync.Mutex
	seqs   map[string]uint64
	closed sync.Once
}

type tap struct {
	out Output
	ch  <-chan bus.Delivery
}

// sweepEvery is how often inputs past their deadline are judged.
const sweepEvery = 50 * time.Millisecond

// Run drains the taps and judges deadlines until ctx is done.
func (in *instance) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, t := range in.taps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in.drain(ctx, t)
		}()
	}
	tick := time.NewTicker(sweepEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			in.cancel()
			wg.Wait()
			return nil
		case <-tick.C:
			in.ledger.sweep(in.env.Clock.Now())
		}
	}
}

// drain handles one tap's deliveries in arrival order.
func (in *instance) drain(ctx context.Context, t tap) {
	h := in.env.Consumer(t.out.Group, func(_ context.Context, m *bus.Message) error {
		in.ledger.observe(t.out.Topic, m, in.correlation(m), in.env.Clock.Now())
		return nil
	})
	for {
		select {
		case <-ctx.Done():
			return
		case d, ok := <-t.ch:
			if !ok {
				return
			}
			if err := h(ctx, d.Message()); err != nil {
				_ = d.Nack(ctx, true)
				continue
			}
			_ = d.Ack(ctx)
		}
	}
}

// correlation is the correlation value an output carries, "" for none.
func (in *instance) correlation(m *bus.Message) string {
	if h := in.w.Correlation.Header; h != "" {
		return m.Header(h)
	}
	v, err := pointerValue(m.Payload, in.w.Correlation.Output)
	if err != nil {
		return ""
	}
	return v
}

// Send renders and publishes the operation's input.
func (in *instance) Send(ctx context.Context, op harness.Op) error {
	done, err := in.turns.wait(ctx, op.Key, op.KeySeq)
	if err != nil {
		return err
	}
	defer done()
	v := newVars("", in.w.Load.Seed, op.Seq, op.Key, op.KeySeq, op.Step, op.Intended, in.mem)
	inp := in.pick(op, v)
	v.Input = inp.Name
	r, err := inp.render(v, in.w.Correlation)
	if err != nil {
		return fmt.Errorf("input %s: %w", inp.Name, err)
	}
	id := in.idPrefix() + strconv.FormatUint(op.Seq, 10)
	corr := r.corr
	if corr == "" {
		corr = id
	}
	msg := &bus.Message{ID: id, Topic: inp.Topic, Key: r.key, Payload: r.payload, Headers: r.headers}
	if h := in.w.Correlation.Header; h != "" {
		msg.SetHeader(h, corr)
	}
	e := &entry{corr: corr, input: inp.Name, topic: inp.Topic, key: r.key, msgID: id,
		seq: in.nextSeq(r.key), intended: op.Intended, sent: in.env.Clock.Now()}
	if err := in.ledger.add(e, inp); err != nil {
		return err
	}
	err = in.env.Bus.Publish(ctx, msg)
	in.ledger.published(e, err, errors.Is(err, bus.ErrOutcomeUnknown))
	return err
}

// pick is the input for op: the one for its step under a sequence
// distribution, else one of the stepless inputs by weight.
func (in *instance) pick(op harness.Op, v *Vars) *Input {
	total := 0
	for i := range in.w.Inputs {
		x := &in.w.Inputs[i]
		if x.Step == op.Step {
			return x
		}
		if x.Step == AnyStep {
			total += x.Weight
		}
	}
	n := v.rng.IntN(max(total, 1))
	for i := range in.w.Inputs {
		x := &in.w.Inputs[i]
		if x.Step != AnyStep {
			continue
		}
		if n < x.Weight {
			return x
		}
		n -= x.Weight
	}
	return &in.w.Inputs[0] // parse guarantees an input for every step
}

// idPrefix begins the ID of every input of the run: "bb-" and a nonce of
// the run's start, so that runs sharing a broker never share an ID.
func (in *instance) idPrefix() string { return "bb-" + in.nonce + "-" }

func (in *instance) nextSeq(key string) uint64 {
	in.seqMu.Lock()
	defer in.seqMu.Unlock()
	in.seqs[key]++
	return in.seqs[key]
}

// Consumers is empty: the service's consumers are its own, and edkit
// learns of the inputs' fate from the outputs.
func (in *instance) Consumers() map[string][]string { return map[string][]string{} }

// ForeignTopics are the outputs: the service publishes them, edkit only
// watches.
func (in *instance) ForeignTopics() []string {
	out := make([]string, 0, len(in.w.Outputs))
	for _, o := range in.w.Outputs {
		out = append(out, o.Topic)
	}
	return out
}

// Idle says no input waits for an output.
func (in *instance) Idle() bool { return in.ledger.idle() }

// CheckState judges the inputs and outputs.
func (in *instance) CheckState(_ context.Context, _ uint64, _ bool) ([]check.Result, error) {
	return in.ledger.results(in.env.Clock.Now(), in.w.Duplicates), nil
}

// LatencyNames says what the latencies measure.
func (in *instance) LatencyNames() (visible, settled string) {
	return "end-to-end (intended → first correlated output)", "settled (intended → every expected output)"
}

// Counts are the ledger's.
func (in *instance) Counts(context.Context) []reports.Count {
	l := in.ledger
	l.mu.Lock()
	defer l.mu.Unlock()
	return []reports.Count{
		{Name: "inputs sent", Value: int64(l.sent)},
		{Name: "inputs answered", Value: int64(l.answered)},
		{Name: "outputs observed", Value: int64(l.checks)},
		{Name: "outputs after deadline", Value: int64(l.late)},
		{Name: "outputs of other runs", Value: int64(l.foreign)},
	}
}

// Close stops the taps and the service edkit started.
func (in *instance) Close() error {
	var err error
	in.closed.Do(func() {
		in.cancel()
		if in.svc != nil {
			err = in.svc.close()
		}
	})
	return err
}
