package membus

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/reference/bus"
)

// retained counts the messages topic keeps in memory, and the slots of
// their backing arrays.
func retained(b *Bus, topic string) (msgs, slots int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.topics[topic]
	if t == nil {
		return 0, 0
	}
	for p := range t.parts {
		msgs += len(t.parts[p].msgs)
		slots += cap(t.parts[p].msgs)
	}
	return msgs, slots
}

// waitLag waits until every group of topic has settled everything.
func waitLag(t *testing.T, b *Bus, topic string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		done := true
		for _, n := range b.Lag(topic) {
			done = done && n == 0
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("lag %v after 30s", b.Lag(topic))
		}
		time.Sleep(time.Millisecond)
	}
}

func publishN(ctx context.Context, t *testing.T, b *Bus, topic, prefix string, n, keys int) {
	t.Helper()
	for i := 0; i < n; i += 100 {
		var batch []*bus.Message
		for j := i; j < min(i+100, n); j++ {
			batch = append(batch, &bus.Message{ID: fmt.Sprintf("%s-%d", prefix, j), Topic: topic,
				Key: "k" + strconv.Itoa(j%keys), Headers: map[string]string{"n": strconv.Itoa(j)}})
		}
		if err := b.Publish(ctx, batch...); err != nil {
			t.Fatal(err)
		}
	}
}

// ackAll acks every delivery of ch until ctx ends.
func ackAll(ctx context.Context, ch <-chan bus.Delivery) {
	for d := range ch {
		_ = d.Ack(ctx)
	}
}

// TestLogIsTrimmedOnceSettled is the memory bound of a long run: after
// 20,000 messages are settled, a topic keeps at most Retention of them per
// partition, and its backing arrays are not much larger.
func TestLogIsTrimmedOnceSettled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	b := New(Partitions(4))
	t.Cleanup(func() { _ = b.Close() })
	ch, err := b.Subscribe(ctx, "t", "g")
	if err != nil {
		t.Fatal(err)
	}
	go ackAll(ctx, ch)
	const total = 20000
	publishN(ctx, t, b, "t", "m", total, 64)
	waitLag(t, b, "t")
	msgs, slots := retained(b, "t")
	t.Logf("retained %d messages in %d slots after %d", msgs, slots, total)
	if msgs > 4*DefaultRetention {
		t.Fatalf("retained %d messages, want at most %d", msgs, 4*DefaultRetention)
	}
	if slots > 4*4*DefaultRetention {
		t.Fatalf("backing arrays hold %d slots for %d messages", slots, msgs)
	}
}

// TestLateGroupStartsAtRetained: a group that subscribes after the others
// settled a prefix reads what retention kept, then everything new; a topic
// nobody subscribed to keeps all of it.
func TestLateGroupStartsAtRetained(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	b := New(Partitions(1), Retention(10))
	t.Cleanup(func() { _ = b.Close() })
	publishN(ctx, t, b, "t", "m", 100, 1)
	if n, _ := retained(b, "t"); n != 100 {
		t.Fatalf("retained %d before any group, want 100", n)
	}
	ch1, _ := b.Subscribe(ctx, "t", "g1")
	go ackAll(ctx, ch1)
	waitLag(t, b, "t")
	if n, _ := retained(b, "t"); n != 10 {
		t.Fatalf("retained %d, want 10", n)
	}
	ch2, _ := b.Subscribe(ctx, "t", "g2")
	if lag := b.Lag("t")["g2"]; lag != 10 {
		t.Fatalf("late group's lag %d, want 10", lag)
	}
	publishN(ctx, t, b, "t", "n", 5, 1)
	var got []string
	for len(got) < 15 {
		d := <-ch2
		got = append(got, d.Message().ID)
		if err := d.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got[0] != "m-90" || got[9] != "m-99" || got[10] != "n-0" || got[14] != "n-4" {
		t.Fatalf("late group read %v", got)
	}
	waitLag(t, b, "t")
	if n, _ := retained(b, "t"); n != 10 {
		t.Fatalf("retained %d after both groups settled, want 10", n)
	}
}

// TestSlowGroupHoldsTheLog: trimming waits for the slowest group.
func TestSlowGroupHoldsTheLog(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	b := New(Partitions(2), Retention(0))
	t.Cleanup(func() { _ = b.Close() })
	fast, _ := b.Subscribe(ctx, "t", "fast")
	sctx, stopSlow := context.WithCancel(ctx)
	slow, _ := b.Subscribe(sctx, "t", "slow")
	go ackAll(ctx, fast)
	publishN(ctx, t, b, "t", "m", 500, 8)
	// slow takes one delivery per partition and never settles them.
	d1, d2 := <-slow, <-slow
	_, _ = d1, d2
	deadline := time.Now().Add(30 * time.Second)
	for b.Lag("t")["fast"] != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("lag %v", b.Lag("t"))
		}
		time.Sleep(time.Millisecond)
	}
	if n, _ := retained(b, "t"); n != 500 {
		t.Fatalf("retained %d while slow has settled nothing, want 500", n)
	}
	stopSlow() // revokes d1 and d2: they must come back
	for range slow {
	}
	slow2, _ := b.Subscribe(ctx, "t", "slow")
	seen := map[string]bool{}
	for len(seen) < 500 {
		d := <-slow2
		seen[d.Message().ID] = true
		if err := d.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	waitLag(t, b, "t")
	if n, _ := retained(b, "t"); n != 0 {
		t.Fatalf("retained %d after every group settled, want 0", n)
	}
}

// TestTrimKeepsRedeliveryAndOrder consumes with two groups of two members
// over a log trimmed as it goes (Retention(0)): requeues and revoked
// deliveries come back in per-key order and nothing is lost.
func TestTrimKeepsRedeliveryAndOrder(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	b := New(Partitions(3), Retention(0))
	t.Cleanup(func() { _ = b.Close() })
	const total, keys = 3000, 16
	type result struct {
		group string
		err   error
	}
	results := make(chan result, 2)
	for _, g := range []string{"g1", "g2"} {
		// Join both groups before publishing: a group joining after the
		// other settled a prefix would rightly start past it.
		jctx, leave := context.WithCancel(ctx)
		if _, err := b.Subscribe(jctx, "t", g); err != nil {
			t.Fatal(err)
		}
		leave()
		go func() { results <- result{g, consumeChecked(ctx, b, g, total, keys)} }()
	}
	publishN(ctx, t, b, "t", "m", total, keys)
	for range 2 {
		select {
		case r := <-results:
			if r.err != nil {
				t.Fatalf("%s: %v", r.group, r.err)
			}
		case <-time.After(60 * time.Second):
			t.Fatal("consumers did not finish in a minute")
		}
	}
	waitLag(t, b, "t")
	if n, _ := retained(b, "t"); n != 0 {
		t.Fatalf("retained %d, want 0", n)
	}
}

// consumeChecked runs a group of two members that requeue every fifth
// delivery and drop their subscription on every 97th (a handler crash),
// until total messages are acked; it fails on a loss, a duplicate ack or
// an ack out of per-key order.
func consumeChecked(ctx context.Context, b *Bus, group string, total, keys int) error {
	acks := make(chan *bus.Message, 64)
	var ackMu sync.Mutex // an ack and its report are one step, so acks keep their order
	for member := range 2 {
		go func() {
			for n := 0; ctx.Err() == nil; {
				sctx, cancel := context.WithCancel(ctx)
				ch, err := b.Subscribe(sctx, "t", group)
				if err != nil {
					cancel()
					return
				}
				for d := range ch {
					n++
					switch {
					case (n+member)%97 == 0:
						cancel() // crash holding d: it is revoked
					case n%5 == 0:
						_ = d.Nack(ctx, true)
					default:
						ackMu.Lock()
						if d.Ack(ctx) == nil {
							acks <- d.Message()
						}
						ackMu.Unlock()
					}
				}
				cancel()
			}
		}()
	}
	next := make([]int, keys) // per key, the next message number expected
	for seen := 0; seen < total; seen++ {
		var m *bus.Message
		select {
		case m = <-acks:
		case <-time.After(30 * time.Second):
			return fmt.Errorf("%d of %d acked, then nothing", seen, total)
		}
		n, _ := strconv.Atoi(m.Header("n"))
		k := n % keys
		if want := next[k]*keys + k; n != want {
			return fmt.Errorf("acked %s, want m-%d next on key k%d", m.ID, want, k)
		}
		next[k]++
	}
	return nil
}
