package bustest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/membus"
)

func TestViolations(t *testing.T) {
	strict := Features{PerKeyOrder: true, GroupPerKeyOrder: true, RequeueInPlace: true, MaxUnsettled: 4}
	loose := Features{MaxDuplicates: 2}
	tests := []struct {
		name  string
		f     Features
		scope Scope
		c     Counts
		want  []string // substrings, one per expected violation
	}{
		{"clean", strict, ScopeSubscription, Counts{Published: 10, Delivered: 10}, nil},
		{"loss fails any profile", loose, ScopeNone, Counts{Lost: 1}, []string{"lost=1"}},
		{"phantom fails any profile", loose, ScopeNone, Counts{Phantom: 2}, []string{"phantoms=2"}},
		{"duplicate beyond allowance", strict, ScopeSubscription, Counts{Duplicated: 1}, []string{"duplicated=1: profile allows 0"}},
		{"duplicate within allowance", loose, ScopeSubscription, Counts{Duplicated: 2}, nil},
		{"reorder where promised", strict, ScopeSubscription, Counts{Reordered: 3}, []string{"reordered=3"}},
		{"reorder across group, promised", strict, ScopeGroup, Counts{Reordered: 1}, []string{"group scope"}},
		{"reorder across group, not promised", Features{PerKeyOrder: true}, ScopeGroup, Counts{Reordered: 9}, nil},
		{"reorder after requeue, not promised", Features{PerKeyOrder: true}, ScopeRequeue, Counts{Reordered: 1}, nil},
		{"reorder without scope never fails", strict, ScopeNone, Counts{Reordered: 1}, nil},
		{"unsettled beyond bound", strict, ScopeSubscription, Counts{MaxUnsettled: 5}, []string{"max-unsettled=5: profile bounds it at 4"}},
		{"unsettled without bound", loose, ScopeSubscription, Counts{MaxUnsettled: 5000}, nil},
		{"stall fails any profile", loose, ScopeGroup, Counts{Stalled: 1}, []string{"stalled=1: a requeued key waited over"}},
		{"several at once", strict, ScopeSubscription, Counts{Lost: 1, Duplicated: 1, Reordered: 1},
			[]string{"lost=1", "duplicated=1", "reordered=1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.f.Violations(tt.scope, tt.c)
			if len(got) != len(tt.want) {
				t.Fatalf("Violations = %q, want %d matching %q", got, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("violation %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

// faultyEnv makes TestFaultyBackend run: it is the child process of
// TestSuiteCatchesFaults, whose sub-tests are meant to fail.
const faultyEnv = "EDKIT_BUSTEST_FAULTY"

// TestFaultyBackend runs the suite over membus wrapped in deliberate faults.
// It only runs as TestSuiteCatchesFaults's child, which reads its verdicts.
func TestFaultyBackend(t *testing.T) {
	if os.Getenv(faultyEnv) == "" {
		t.Skip("child of TestSuiteCatchesFaults only")
	}
	strict := Features{PerKeyOrder: true, GroupPerKeyOrder: true, RequeueInPlace: true, MaxUnsettled: 4,
		BackpressureMessages: 200, Timeout: 3 * time.Second}
	variants := []struct {
		name  string
		fault string
		edit  func(*Features)
	}{
		{"clean", "", nil},
		{"lossy", "lose", nil},
		{"duplicating", "duplicate", nil},
		{"duplicating-allowed", "duplicate", func(f *Features) { f.MaxDuplicates = 100 }},
		{"reordering", "reorder", nil},
		{"reordering-allowed", "reorder", func(f *Features) { f.PerKeyOrder, f.GroupPerKeyOrder = false, false }},
		{"unbounded", "unbounded", nil},
		{"stalling", "stall", nil},
	}
	for _, v := range variants {
		f := strict
		f.Name = v.name
		if v.edit != nil {
			v.edit(&f)
		}
		Run(t, f, func(*testing.T) bus.Bus {
			switch v.fault {
			case "":
				return membus.New()
			case "stall":
				return &stallingBus{Bus: membus.New()}
			}
			return &faultyBus{Bus: membus.New(), fault: v.fault}
		})
	}
}

// TestSuiteCatchesFaults shows the checker can fail: each faulty bus breaks
// the case and promise it should, the clean one and the faulty ones whose
// profile allows the fault pass.
func TestSuiteCatchesFaults(t *testing.T) {
	if os.Getenv(faultyEnv) != "" {
		t.Skip("parent only")
	}
	tests := []struct {
		variant, cases string
		fail           bool
		want           string // in the output of a failing run
	}{
		{"clean", "PublishThenSubscribe|PerKeyOrderConcurrentPublishers|SlowConsumerBackpressure|RequeueStorm", false, ""},
		{"lossy", "PublishThenSubscribe", true, "every backend promises no loss"},
		{"lossy", "ManyTopics", true, "every backend promises no loss"},
		{"duplicating", "PublishThenSubscribe", true, "duplicated=3: profile allows 0"},
		{"duplicating-allowed", "PublishThenSubscribe", false, ""},
		{"reordering", "PublishThenSubscribe", true, "profile promises per-key order (subscription scope)"},
		{"reordering", "ConcurrentPublishersAndSubscribers", true, "profile promises per-key order (group scope)"},
		{"reordering-allowed", "PublishThenSubscribe|ConcurrentPublishersAndSubscribers", false, ""},
		{"unbounded", "SlowConsumerBackpressure", true, "profile bounds it at 4"},
		{"stalling", "RequeueStorm", true, "stalled=1: a requeued key waited over 1s"},
		{"stalling", "PublishThenSubscribe", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.variant+"/"+tt.cases, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			pattern := "^TestFaultyBackend$/^" + regexp.QuoteMeta(tt.variant) + "$/^(" + tt.cases + ")$"
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run="+pattern, "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), faultyEnv+"=1", GuaranteesOutEnv+"=")
			out, err := cmd.CombinedOutput()
			text := string(out)
			for _, c := range strings.Split(tt.cases, "|") {
				verdict := "--- PASS: "
				if tt.fail {
					verdict = "--- FAIL: "
				}
				if name := "TestFaultyBackend/" + tt.variant + "/" + c; !strings.Contains(text, verdict+name+" ") {
					t.Errorf("want %s%s; output:\n%s", verdict, name, text)
				}
			}
			if tt.fail != (err != nil) {
				t.Errorf("child exit = %v, want failure %v", err, tt.fail)
			}
			if tt.want != "" && !strings.Contains(text, tt.want) {
				t.Errorf("output lacks %q:\n%s", tt.want, text)
			}
		})
	}
}

// TestMergeMarkdown checks that runs of two backends merge into one file
// and that text outside the generated region survives.
func TestMergeMarkdown(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.md")
	if err := os.WriteFile(path, []byte("# Guarantees\n\nprose\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a := report{Backend: "a", Features: Features{PerKeyOrder: true, MaxUnsettled: 4},
		Rows: []row{{Case: "X", Scope: ScopeSubscription, Counts: Counts{Published: 5, Reordered: 1}, Violations: 1}}}
	b := report{Backend: "b", Rows: []row{{Case: "Y", Scope: ScopeGroup, Counts: Counts{Published: 3, Duplicated: 2}}}}
	for _, r := range []report{a, b, a} { // a twice: replaced, not repeated
		if err := mergeMarkdown(path, r, now); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(got)
	for _, want := range []string{
		"# Guarantees\n\nprose\n",
		"| a | 0 | 0 (0) | 1 (yes) | 0 (no) | 0 (no) | 0 (4) | 0 | 1 |",
		"| b | 0 | 2 (0) | 0 (no) | 0 (no) | 0 (no) | 0 (none) | 0 | 0 |",
		"| X | **0 / 0 / 1** | – |",
		"| Y | – | 0 / 2 / 0 |",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("merged file lacks %q:\n%s", want, s)
		}
	}
	if n := strings.Count(s, dataPrefix); n != 2 {
		t.Errorf("%d data lines, want 2:\n%s", n, s)
	}
}

// faultyBus wraps a bus and breaks its deliveries on purpose. It takes each
// delivery off the inner bus at once (acking it there), so its own
// deliveries' Ack and Nack do nothing, and applies fault:
//
//	lose       drops the first delivery of every message with sequence 2
//	duplicate  delivers every message with sequence 2 twice
//	reorder    swaps each key's odd message with the next one
//	unbounded  nothing more: it hands out without bound
type faultyBus struct {
	bus.Bus
	fault string
}

func (f *faultyBus) Subscribe(ctx context.Context, topic, group string) (<-chan bus.Delivery, error) {
	in, err := f.Bus.Subscribe(ctx, topic, group)
	if err != nil {
		return nil, err
	}
	out := make(chan bus.Delivery)
	go func() {
		defer close(out)
		emit := func(m *bus.Message) bool {
			select {
			case out <- &fakeDelivery{m: m}:
				return true
			case <-ctx.Done():
				return false
			}
		}
		held := map[string]*bus.Message{}
		var flush <-chan time.Time
		for {
			select {
			case d, ok := <-in:
				if !ok {
					return
				}
				m := d.Message().Clone()
				_ = d.Ack(ctx)
				seq := m.Header(bus.HeaderSeq)
				switch {
				case f.fault == "lose" && seq == "2":
					continue
				case f.fault == "duplicate" && seq == "2":
					if !emit(m) || !emit(m.Clone()) {
						return
					}
				case f.fault == "reorder" && held[m.Key] != nil:
					h := held[m.Key]
					delete(held, m.Key)
					if !emit(m) || !emit(h) {
						return
					}
				case f.fault == "reorder" && seq != "" && seq[len(seq)-1]%2 == 1:
					held[m.Key] = m
					flush = time.After(50 * time.Millisecond)
				default:
					if !emit(m) {
						return
					}
				}
			case <-flush: // a key's last odd message has no partner
				for k, m := range held {
					delete(held, k)
					if !emit(m) {
						return
					}
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

type fakeDelivery struct {
	m       *bus.Message
	settled bool
}

func (d *fakeDelivery) Message() *bus.Message { return d.m }

func (d *fakeDelivery) Ack(context.Context) error { return d.settle() }

func (d *fakeDelivery) Nack(context.Context, bool) error { return d.settle() }

func (d *fakeDelivery) settle() error {
	if d.settled {
		return bus.ErrAlreadySettled
	}
	d.settled = true
	return nil
}

// stallingBus passes every Nack(requeue) on to membus only after
// stallFor, so each requeue stalls its key (as a RabbitMQ quorum queue
// did before issue 10); everything else is membus's.
type stallingBus struct{ bus.Bus }

const stallFor = 1500 * time.Millisecond

func (s *stallingBus) Subscribe(ctx context.Context, topic, group string) (<-chan bus.Delivery, error) {
	in, err := s.Bus.Subscribe(ctx, topic, group)
	if err != nil {
		return nil, err
	}
	out := make(chan bus.Delivery)
	go func() {
		defer close(out)
		for d := range in {
			select {
			case out <- &stallingDelivery{Delivery: d}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

type stallingDelivery struct{ bus.Delivery }

func (d *stallingDelivery) Nack(ctx context.Context, requeue bool) error {
	if !requeue {
		return d.Delivery.Nack(ctx, false)
	}
	time.AfterFunc(stallFor, func() { _ = d.Delivery.Nack(context.Background(), true) })
	return nil
}
