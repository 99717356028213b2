package bus_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/reference/bus"
)

type fakeDelivery struct {
	m       *bus.Message
	settled chan string // "ack", "nack", "requeue"
}

func (d *fakeDelivery) Message() *bus.Message { return d.m }
func (d *fakeDelivery) Ack(context.Context) error {
	d.settled <- "ack:" + d.m.ID
	return nil
}
func (d *fakeDelivery) Nack(_ context.Context, requeue bool) error {
	if requeue {
		d.settled <- "requeue:" + d.m.ID
	} else {
		d.settled <- "nack:" + d.m.ID
	}
	return nil
}

type fakeSub struct{ ch chan bus.Delivery }

func (s *fakeSub) Subscribe(context.Context, string, string) (<-chan bus.Delivery, error) {
	return s.ch, nil
}
func (s *fakeSub) Close() error { return nil }

func TestConsumeSettles(t *testing.T) {
	sub := &fakeSub{ch: make(chan bus.Delivery, 4)}
	settled := make(chan string, 4)
	sub.ch <- &fakeDelivery{m: &bus.Message{ID: "ok"}, settled: settled}
	sub.ch <- &fakeDelivery{m: &bus.Message{ID: "bad"}, settled: settled}
	close(sub.ch)
	err := bus.Consume(context.Background(), sub, "t", "g", func(_ context.Context, m *bus.Message) error {
		if m.ID == "bad" {
			return errBoom
		}
		return nil
	})
	if !errors.Is(err, bus.ErrSubscriptionEnded) {
		t.Fatalf("Consume = %v, want ErrSubscriptionEnded", err)
	}
	if a, b := <-settled, <-settled; a != "ack:ok" || b != "nack:bad" {
		t.Fatalf("settled %s, %s", a, b)
	}
}

func TestConsumeContextCancelReturnsNilAndRequeues(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	sub := &fakeSub{ch: make(chan bus.Delivery, 1)}
	settled := make(chan string, 1)
	sub.ch <- &fakeDelivery{m: &bus.Message{ID: "m"}, settled: settled}
	done := make(chan error, 1)
	go func() {
		done <- bus.Consume(ctx, sub, "t", "g", func(ctx context.Context, _ *bus.Message) error {
			cancel()
			<-ctx.Done()
			close(sub.ch) // the subscriber closes its channel on ctx end
			return ctx.Err()
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Consume = %v, want nil on cancel", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Consume did not return")
	}
	if got := <-settled; got != "requeue:m" {
		t.Fatalf("settled %s, want requeue on shutdown", got)
	}
}

func TestConsumeConcurrencyKeepsKeyOrder(t *testing.T) {
	const keys, perKey = 5, 40
	sub := &fakeSub{ch: make(chan bus.Delivery, keys*perKey)}
	settled := make(chan string, keys*perKey)
	for i := 0; i < perKey; i++ {
		for k := 0; k < keys; k++ {
			sub.ch <- &fakeDelivery{m: &bus.Message{ID: fmt.Sprintf("%d-%d", k, i), Key: fmt.Sprint(k),
				Headers: map[string]string{bus.HeaderSeq: fmt.Sprint(i)}}, settled: settled}
		}
	}
	close(sub.ch)
	var mu sync.Mutex
	last := map[string]int{}
	var reordered, total int
	err := bus.Consume(context.Background(), sub, "t", "g", func(_ context.Context, m *bus.Message) error {
		var seq int
		if _, err := fmt.Sscan(m.Header(bus.HeaderSeq), &seq); err != nil {
			t.Errorf("message %s: %s header: %v", m.ID, bus.HeaderSeq, err)
		}
		mu.Lock()
		defer mu.Unlock()
		total++
		if prev, ok := last[m.Key]; ok && seq != prev+1 {
			reordered++
		}
		last[m.Key] = seq
		return nil
	}, bus.Concurrency(3))
	if !errors.Is(err, bus.ErrSubscriptionEnded) {
		t.Fatalf("Consume = %v", err)
	}
	if total != keys*perKey || reordered != 0 {
		t.Fatalf("handled %d (want %d), reordered %d", total, keys*perKey, reordered)
	}
}
