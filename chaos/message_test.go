package chaos_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/chaos"
	"github.com/edkit-dev/edkit/harness/clock"
	"github.com/edkit-dev/edkit/reference/bus"
)

func TestMessageFaultValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  chaos.MessageFaultConfig
		want []string
	}{
		{"ok", chaos.MessageFaultConfig{Duplicate: 0.1, Delay: 0.1, MaxDelay: time.Millisecond}, nil},
		{"fractions out of range", chaos.MessageFaultConfig{Duplicate: 1.5, Delay: -1}, []string{"duplicate fraction 1.5", "delay fraction -1"}},
		{"delay without max", chaos.MessageFaultConfig{Delay: 0.5}, []string{"max delay is 0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// run sends n messages through the fault and counts handler calls per ID.
func run(t *testing.T, f *chaos.MessageFault, n int) map[string]int {
	t.Helper()
	var mu sync.Mutex
	calls := map[string]int{}
	h := f.Middleware("g")(func(_ context.Context, m *bus.Message) error {
		mu.Lock()
		defer mu.Unlock()
		calls[m.ID]++
		return nil
	})
	for i := range n {
		if err := h(context.Background(), &bus.Message{ID: fmt.Sprintf("m-%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	return calls
}

func TestDuplicateFractionAndReplay(t *testing.T) {
	cfg := chaos.MessageFaultConfig{Seed: 7, Duplicate: 0.2}
	f1, _ := chaos.NewMessageFault(cfg, nil)
	f2, _ := chaos.NewMessageFault(cfg, nil)
	c1, c2 := run(t, f1, 2000), run(t, f2, 2000)
	dups := 0
	for id, n := range c1 {
		if n == 2 {
			dups++
		}
		if c2[id] != n {
			t.Fatalf("same seed, different victim: %s ran %d then %d times", id, n, c2[id])
		}
	}
	if dups < 300 || dups > 500 {
		t.Fatalf("%d of 2000 duplicated, want about 400", dups)
	}
	if f1.Count(chaos.KindDuplicate) != dups || len(f1.Journal()) != dups {
		t.Fatalf("journal %d, count %d, seen %d", len(f1.Journal()), f1.Count(chaos.KindDuplicate), dups)
	}
	f3, _ := chaos.NewMessageFault(chaos.MessageFaultConfig{Seed: 8, Duplicate: 0.2}, nil)
	c3 := run(t, f3, 2000)
	same := 0
	for id, n := range c1 {
		if n == 2 && c3[id] == 2 {
			same++
		}
	}
	if same == dups {
		t.Fatal("a different seed picked exactly the same victims")
	}
}

func TestDelayWaitsOnTheInjectedClock(t *testing.T) {
	v := clock.NewVirtual(time.Unix(0, 0))
	f, err := chaos.NewMessageFault(chaos.MessageFaultConfig{Seed: 1, Delay: 1, MaxDelay: time.Second}, v)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	h := f.Middleware("g")(func(context.Context, *bus.Message) error { close(done); return nil })
	go func() { _ = h(context.Background(), &bus.Message{ID: "m"}) }()
	for v.Waiters() == 0 {
		time.Sleep(time.Millisecond)
	}
	select {
	case <-done:
		t.Fatal("handled before the delay elapsed")
	default:
	}
	v.Advance(time.Second)
	<-done
	if j := f.Journal(); len(j) != 1 || j[0].Kind != chaos.KindDelay || j[0].Delay > time.Second {
		t.Fatalf("journal %+v", j)
	}
}

func TestDuplicateSkippedWhenHandlerFails(t *testing.T) {
	f, _ := chaos.NewMessageFault(chaos.MessageFaultConfig{Duplicate: 1}, nil)
	calls := 0
	h := f.Middleware("g")(func(context.Context, *bus.Message) error { calls++; return fmt.Errorf("boom") })
	if err := h(context.Background(), &bus.Message{ID: "m"}); err == nil {
		t.Fatal("error swallowed")
	}
	if calls != 1 {
		t.Fatalf("handler ran %d times after failing", calls)
	}
}

// TestLoseAckRedeliversOnlyInItsWindow: a lost ack gets the handler the
// message again (as the broker's redelivery would), only while the
// fault's window is open.
func TestLoseAckRedeliversOnlyInItsWindow(t *testing.T) {
	f, err := chaos.NewMessageFault(chaos.MessageFaultConfig{Seed: 1, LoseAck: 1, MaxDelay: time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.Off()
	calls := map[string]int{}
	h := f.Middleware("g")(func(_ context.Context, m *bus.Message) error { calls[m.ID]++; return nil })
	send := func(id string) {
		if err := h(t.Context(), &bus.Message{ID: id, Topic: "t", Payload: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	send("before")
	heal, err := f.Window("lose-ack").Inject(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	send("during")
	if err := heal(t.Context()); err != nil {
		t.Fatal(err)
	}
	send("after")
	if calls["before"] != 1 || calls["during"] != 2 || calls["after"] != 1 {
		t.Fatalf("handler calls %v: want the ack lost (a second call) only during the window", calls)
	}
	if f.Count(chaos.KindLoseAck) != 1 {
		t.Fatalf("journal counts %d lost acks", f.Count(chaos.KindLoseAck))
	}
}
