package chaos_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/chaos"
	"github.com/edkit-dev/edkit/harness/clock"
	"github.com/edkit-dev/edkit/reference/bus"
)

// seen is a handler that logs the messages it gets.
type seen struct {
	mu   sync.Mutex
	msgs []*bus.Message
	fail string // a message ID to fail
}

func (s *seen) handle(_ context.Context, m *bus.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, m)
	if m.ID == s.fail {
		return errors.New("boom")
	}
	return nil
}

func (s *seen) ids() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.msgs))
	for i, m := range s.msgs {
		out[i] = m.ID
	}
	return out
}

func newFault(t *testing.T, cfg chaos.MessageFaultConfig, clk clock.Clock) *chaos.MessageFault {
	t.Helper()
	f, err := chaos.NewMessageFault(cfg, clk)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// msgs makes n messages on topic t with key k and a 100-byte payload.
func msgs(n int, key string) []*bus.Message {
	out := make([]*bus.Message, n)
	for i := range out {
		out[i] = &bus.Message{ID: fmt.Sprintf("m-%d", i), Topic: "t", Key: key,
			Payload: bytes.Repeat([]byte{byte('a' + i%26)}, 100)}
	}
	return out
}

// feed passes ms through the fault one at a time, as Consume with
// Concurrency(1) would, and returns the handler's log.
func feed(ctx context.Context, t *testing.T, f *chaos.MessageFault, ms []*bus.Message) *seen {
	t.Helper()
	var s seen
	h := f.Middleware("g")(s.handle)
	for _, m := range ms {
		if err := h(ctx, m); err != nil {
			t.Fatalf("%s: %v", m.ID, err)
		}
	}
	return &s
}

func TestValidateNewKinds(t *testing.T) {
	tests := []struct {
		name string
		cfg  chaos.MessageFaultConfig
		want []string
	}{
		{"all kinds", chaos.MessageFaultConfig{Drop: 0.1, Reorder: 0.1, MaxHold: time.Second, Corrupt: 1, Duplicate: 1}, nil},
		{"out of range", chaos.MessageFaultConfig{Drop: 2, Reorder: -0.1, MaxHold: time.Second, Corrupt: 1.01},
			[]string{"drop fraction 2", "reorder fraction -0.1", "corrupt fraction 1.01"}},
		{"reorder without max hold", chaos.MessageFaultConfig{Reorder: 0.5}, []string{"max hold is 0"}},
		{"negative max hold", chaos.MessageFaultConfig{MaxHold: -1}, []string{"max hold -1ns is negative"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err == nil) != (len(tt.want) == 0) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestDropSkipsTheHandlerAndAcks(t *testing.T) {
	f := newFault(t, chaos.MessageFaultConfig{Seed: 3, Drop: 0.25}, nil)
	in := msgs(400, "k")
	s := feed(t.Context(), t, f, in) // feed fails the test on any error: drops ack
	got := s.ids()
	dropped := map[string]bool{}
	for _, e := range f.Journal() {
		if e.Kind != chaos.KindDrop {
			t.Fatalf("unexpected injection %+v", e)
		}
		dropped[e.MsgID] = true
	}
	if n := len(dropped); n < 60 || n > 140 || f.Count(chaos.KindDrop) != n {
		t.Fatalf("%d of 400 dropped (count %d), want about 100", n, f.Count(chaos.KindDrop))
	}
	if len(got)+len(dropped) != len(in) {
		t.Fatalf("handled %d + dropped %d != %d", len(got), len(dropped), len(in))
	}
	for _, id := range got {
		if dropped[id] {
			t.Fatalf("dropped %s reached the handler", id)
		}
	}
}

func TestCorruptFlipsACopy(t *testing.T) {
	f := newFault(t, chaos.MessageFaultConfig{Seed: 5, Corrupt: 1}, nil)
	in := msgs(50, "k")
	in = append(in, &bus.Message{ID: "empty", Topic: "t", Key: "k"})
	orig := make([][]byte, len(in))
	for i, m := range in {
		orig[i] = slices.Clone(m.Payload)
	}
	s := feed(t.Context(), t, f, in)
	j := f.Journal()
	if len(j) != 50 || f.Count(chaos.KindCorrupt) != 50 {
		t.Fatalf("%d injections, want 50 (the empty payload has nothing to flip)", len(j))
	}
	for i, m := range s.msgs {
		if !bytes.Equal(in[i].Payload, orig[i]) {
			t.Fatalf("%s: the original payload was modified", m.ID)
		}
		if m.ID == "empty" {
			if m != in[i] {
				t.Fatal("empty payload was copied for nothing")
			}
			continue
		}
		if bytes.Equal(m.Payload, orig[i]) {
			t.Fatalf("%s: handler got an unchanged payload", m.ID)
		}
		var diff []int
		for k := range m.Payload {
			if m.Payload[k] != orig[i][k] {
				diff = append(diff, k)
			}
		}
		want := slices.Sorted(slices.Values(j[i].Offsets))
		if !slices.Equal(diff, want) || len(want) > 2 {
			t.Fatalf("%s: bytes %v differ, journal says %v (100 bytes: at most 2)", m.ID, diff, want)
		}
	}
}

func TestReorderSwapsWithTheNextOfTheSameKey(t *testing.T) {
	f := newFault(t, chaos.MessageFaultConfig{Reorder: 1, MaxHold: time.Hour}, clock.NewVirtual(time.Unix(0, 0)))
	// Every delivery is chosen, but a slot holds one at a time: m-0 is held
	// and released after m-1, m-2 after m-3, and so on.
	s := feed(t.Context(), t, f, msgs(6, "k"))
	if got, want := s.ids(), []string{"m-1", "m-0", "m-3", "m-2", "m-5", "m-4"}; !slices.Equal(got, want) {
		t.Fatalf("handled %v, want %v", got, want)
	}
	for i, e := range f.Journal() {
		if e.Kind != chaos.KindReorder || e.MsgID != fmt.Sprintf("m-%d", 2*i) || e.After != fmt.Sprintf("m-%d", 2*i+1) {
			t.Fatalf("journal entry %d: %+v", i, e)
		}
	}
	if f.Count(chaos.KindReorder) != 3 || f.Held() != 0 {
		t.Fatalf("count %d, held %d", f.Count(chaos.KindReorder), f.Held())
	}
	f.Wait()
}

func TestReorderKeepsOtherKeysFlowing(t *testing.T) {
	f := newFault(t, chaos.MessageFaultConfig{Reorder: 1, MaxHold: time.Hour}, clock.NewVirtual(time.Unix(0, 0)))
	ms := []*bus.Message{{ID: "a1", Topic: "t", Key: "a"}, {ID: "b1", Topic: "t", Key: "b"},
		{ID: "a2", Topic: "t", Key: "a"}, {ID: "b2", Topic: "u", Key: "b"}}
	ctx, cancel := context.WithCancel(t.Context())
	s := feed(ctx, t, f, ms)
	// a1 and b1 held (separate slots); a2 releases a1; b2 is another topic,
	// so it is held too and b1 stays held.
	if got, want := s.ids(), []string{"a2", "a1"}; !slices.Equal(got, want) {
		t.Fatalf("handled %v, want %v", got, want)
	}
	if f.Held() != 2 {
		t.Fatalf("held %d, want 2", f.Held())
	}
	// Stopping the consumer releases both; nothing is lost.
	cancel()
	f.Wait()
	if got := s.ids(); len(got) != 4 || f.Held() != 0 {
		t.Fatalf("after shutdown handled %v, held %d", got, f.Held())
	}
}

func TestReorderReleasesAfterMaxHold(t *testing.T) {
	v := clock.NewVirtual(time.Unix(0, 0))
	f := newFault(t, chaos.MessageFaultConfig{Reorder: 1, MaxHold: time.Second}, v)
	var s seen
	h := f.Middleware("g")(s.handle)
	if err := h(t.Context(), &bus.Message{ID: "m", Topic: "t", Key: "k"}); err != nil {
		t.Fatal(err)
	}
	if len(s.ids()) != 0 || f.Held() != 1 {
		t.Fatalf("handled %v, held %d: want it held", s.ids(), f.Held())
	}
	v.Advance(999 * time.Millisecond)
	if len(s.ids()) != 0 || f.Held() != 1 {
		t.Fatal("released before MaxHold")
	}
	v.Advance(time.Millisecond)
	f.Wait()
	if got := s.ids(); !slices.Equal(got, []string{"m"}) {
		t.Fatalf("handled %v after MaxHold", got)
	}
	if j := f.Journal(); len(j) != 1 || j[0].After != "" || j[0].Delay != time.Second {
		t.Fatalf("journal %+v, want one release by MaxHold after 1s", j)
	}
}

func TestReorderReleasesOnShutdownWithALiveContext(t *testing.T) {
	f := newFault(t, chaos.MessageFaultConfig{Reorder: 1, MaxHold: time.Hour}, clock.NewVirtual(time.Unix(0, 0)))
	ctx, cancel := context.WithCancel(t.Context())
	var ctxErr error
	h := f.Middleware("g")(func(ctx context.Context, m *bus.Message) error {
		ctxErr = ctx.Err()
		return errors.New("handler failed")
	})
	if err := h(ctx, &bus.Message{ID: "m", Topic: "t", Key: "k"}); err != nil {
		t.Fatal(err)
	}
	cancel()
	f.Wait()
	if ctxErr != nil {
		t.Fatalf("held delivery handled with an ended context: %v", ctxErr)
	}
	if j := f.Journal(); len(j) != 1 || j[0].Err != "handler failed" {
		t.Fatalf("journal %+v, want the held handler's error", j)
	}
}

// allKinds runs 300 messages over 3 keys through every kind but delay
// (which would wait on the virtual clock) and returns the journal and what
// the handler saw.
func allKinds(t *testing.T, seed int64, fraction float64) ([]chaos.Injection, []string) {
	t.Helper()
	f := newFault(t, chaos.MessageFaultConfig{Seed: seed, Drop: fraction, Duplicate: fraction, Reorder: fraction,
		MaxHold: time.Hour, Corrupt: fraction}, clock.NewVirtual(time.Unix(0, 0)))
	var in []*bus.Message
	for i, m := range msgs(300, "") {
		m.Key = fmt.Sprintf("k%d", i%3)
		in = append(in, m)
	}
	ctx, cancel := context.WithCancel(t.Context())
	s := feed(ctx, t, f, in)
	cancel() // release what is still held
	f.Wait()
	var saw []string
	for _, m := range s.msgs {
		saw = append(saw, m.ID+":"+string(m.Payload))
	}
	return f.Journal(), saw
}

func TestSameSeedSameJournal(t *testing.T) {
	j1, s1 := allKinds(t, 11, 0.1)
	j2, s2 := allKinds(t, 11, 0.1)
	if !reflect.DeepEqual(j1, j2) || !slices.Equal(s1, s2) {
		t.Fatal("same seed, different run")
	}
	kinds := map[string]int{}
	for _, e := range j1 {
		kinds[e.Kind]++
	}
	for _, k := range []string{chaos.KindDrop, chaos.KindDuplicate, chaos.KindReorder, chaos.KindCorrupt} {
		if kinds[k] == 0 {
			t.Errorf("no %s in 300 messages at 10%%", k)
		}
	}
	j3, _ := allKinds(t, 12, 0.1)
	if reflect.DeepEqual(j1, j3) {
		t.Fatal("a different seed gave the same journal")
	}
}

func TestFractionZeroInjectsNothing(t *testing.T) {
	j, saw := allKinds(t, 11, 0)
	if len(j) != 0 {
		t.Fatalf("journal %+v", j)
	}
	in := msgs(300, "")
	if len(saw) != len(in) {
		t.Fatalf("handled %d of %d", len(saw), len(in))
	}
	for i, s := range saw {
		if s != in[i].ID+":"+string(in[i].Payload) {
			t.Fatalf("message %d arrived as %q", i, s)
		}
	}
}
