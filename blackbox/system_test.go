package blackbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/blackbox"
	"github.com/edkit-dev/edkit/harness"
	"github.com/edkit-dev/edkit/harness/check"
	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reports"
)

// misbehaviour is what the test service does wrong, each every n-th output
// (0: never).
type misbehaviour struct {
	drop, duplicate, reorder, phantom, mismatch, foreign int
}

// withService runs an accounts service beside the workload on the run's
// own broker: the in-process stand-in for a separate service (the bank
// example's bank-service proves the same through a real process on four
// brokers). The service ends when the run closes its bus.
type withService struct {
	*blackbox.System
	bad misbehaviour
	wg  *sync.WaitGroup
}

func (s withService) Start(ctx context.Context, env *harness.Env) (harness.Instance, error) {
	ch, err := env.Bus.Subscribe(ctx, "accounts.commands", "accounts-service")
	if err != nil {
		return nil, err
	}
	svc := &accounts{b: env.Bus, bad: s.bad, held: map[string]*bus.Message{}}
	s.wg.Go(func() { svc.serve(ctx, ch) })
	return s.System.Start(ctx, env)
}

// accounts answers each command with one event, copying the correlation
// header, and misbehaves as told.
type accounts struct {
	mu   sync.Mutex // the flush of a held output runs beside serve
	b    bus.Publisher
	bad  misbehaviour
	n    int
	held map[string]*bus.Message
}

func (a *accounts) serve(ctx context.Context, ch <-chan bus.Delivery) {
	for d := range ch {
		m := d.Message()
		var cmd struct{ Type, Account string }
		_ = json.Unmarshal(m.Payload, &cmd)
		typ := map[string]string{"open": "opened", "deposit": "deposited"}[cmd.Type]
		out := &bus.Message{ID: "out-" + m.ID, Topic: "accounts.events", Key: m.Key,
			Payload: fmt.Appendf(nil, `{"type":%q,"account":%q}`, typ, cmd.Account),
			Headers: map[string]string{"correlation-id": m.Header("correlation-id")}}
		a.emit(ctx, out)
		_ = d.Ack(ctx)
	}
}

func every(k, n int) bool { return k > 0 && n%k == 0 }

func (a *accounts) emit(ctx context.Context, out *bus.Message) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n++
	switch {
	case every(a.bad.drop, a.n):
		return
	case every(a.bad.mismatch, a.n):
		out.Payload = []byte(`{"type":"refused"}`)
	case every(a.bad.phantom, a.n):
		ph := out.Clone()
		ph.ID = "phantom-" + out.ID
		ph.Headers["correlation-id"] += "-ghost" // this run's prefix, no input of it
		_ = a.b.Publish(ctx, ph)
	case every(a.bad.foreign, a.n):
		other := out.Clone()
		other.ID, other.Headers["correlation-id"] = "other-"+out.ID, "bb-anotherrun-1"
		_ = a.b.Publish(ctx, other)
	case every(a.bad.reorder, a.n) && a.held[out.Key] == nil:
		a.held[out.Key] = out
		// Late, not lost, when the key has no further output to pass it.
		time.AfterFunc(300*time.Millisecond, func() {
			a.mu.Lock()
			defer a.mu.Unlock()
			if a.held[out.Key] == out {
				delete(a.held, out.Key)
				_ = a.b.Publish(ctx, out)
			}
		})
		return
	}
	_ = a.b.Publish(ctx, out)
	if held := a.held[out.Key]; held != nil && held != out {
		delete(a.held, out.Key)
		_ = a.b.Publish(ctx, held)
	}
	if every(a.bad.duplicate, a.n) {
		dup := out.Clone()
		dup.ID = "dup-" + out.ID
		_ = a.b.Publish(ctx, dup)
	}
}

func runAccounts(t *testing.T, bad misbehaviour) *reports.Run {
	t.Helper()
	w, err := blackbox.ParseFile("testdata/accounts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	o, err := w.Options()
	if err != nil {
		t.Fatal(err)
	}
	o.Out = t.TempDir()
	o.Quiesce = 3 * time.Second
	var wg sync.WaitGroup
	rep, err := harness.Run(t.Context(), withService{System: blackbox.New(w), bad: bad, wg: &wg}, o)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func invariant(t *testing.T, rep *reports.Run, name string) check.Result {
	t.Helper()
	for _, r := range rep.Invariants {
		if r.Invariant == name {
			return r
		}
	}
	t.Fatalf("no %s verdict in %+v", name, rep.Invariants)
	return check.Result{}
}

// TestBlackBoxCatchesEachMisbehaviour: a clean service passes every
// invariant (and edkit's own checkers raise no false alarm over outputs
// they never saw published); each misbehaviour fails exactly the invariant
// that exists for it, naming an input or output.
func TestBlackBoxCatchesEachMisbehaviour(t *testing.T) {
	cases := []struct {
		name  string
		bad   misbehaviour
		fails string
		says  string
	}{
		{"clean", misbehaviour{}, "", ""},
		// Outputs answering another run on a shared broker are no phantoms.
		{"another run's outputs", misbehaviour{foreign: 3}, "", ""},
		{"drop", misbehaviour{drop: 7}, blackbox.InvOutputForEveryInput, "no output on accounts.events within 2s"},
		{"duplicate", misbehaviour{duplicate: 5}, blackbox.InvNoDuplicateOutput, "answered again on accounts.events"},
		{"reorder", misbehaviour{reorder: 4}, blackbox.InvPerKeyOutputOrder, "came after the output for input"},
		{"phantom", misbehaviour{phantom: 9}, blackbox.InvNoPhantomOutput, "answers no input of this run"},
		{"mismatch", misbehaviour{mismatch: 6}, blackbox.InvOutputsMatch, "accounts.events for input"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			rep := runAccounts(t, c.bad)
			for _, r := range rep.Invariants {
				if r.Invariant == c.fails {
					continue
				}
				if !r.Valid {
					t.Errorf("%s failed, want only %q to: %+v", r.Invariant, c.fails, r)
				}
			}
			if c.fails == "" {
				if !rep.OK() {
					t.Fatalf("clean run failed: %+v", rep)
				}
				if got := count(rep, "outputs of other runs"); (c.bad.foreign > 0) != (got > 0) {
					t.Fatalf("outputs of other runs: %d", got)
				}
				return
			}
			r := invariant(t, rep, c.fails)
			if r.Valid || len(r.Anomalies) == 0 {
				t.Fatalf("%s passed: %+v", c.fails, r)
			}
			if !strings.Contains(r.Anomalies[0].Summary, c.says) {
				t.Errorf("anomaly %q, want it to say %q", r.Anomalies[0].Summary, c.says)
			}
		})
	}
}

func count(rep *reports.Run, name string) int64 {
	for _, c := range rep.Counts {
		if c.Name == name {
			return c.Value
		}
	}
	return -1
}
