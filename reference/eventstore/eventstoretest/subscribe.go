package eventstoretest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/reference/eventstore"
)

func subscribe(t *testing.T, s eventstore.Store, from uint64) (*eventstore.Subscription, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	sub, err := s.SubscribeAll(ctx, from)
	if err != nil {
		t.Fatalf("subscribe from %d: %v", from, err)
	}
	return sub, cancel
}

func testSubscribeCatchUpThenLive(t *testing.T, s eventstore.Store) {
	t.Helper()
	mustAppend(t, s, "a", eventstore.Any, "e1", "e2", "e3")
	sub, _ := subscribe(t, s, 1)
	caught := receive(t, sub, 3)
	if !slices.Equal(ids(caught), []string{"e1", "e2", "e3"}) {
		t.Fatalf("catch-up got %v", ids(caught))
	}
	if err := sub.Err(); err != nil {
		t.Fatalf("Err on an open subscription = %v, want nil", err)
	}
	mustAppend(t, s, "b", eventstore.Any, "e4")
	mustAppend(t, s, "a", eventstore.Any, "e5", "e6")
	live := receive(t, sub, 3)
	if !slices.Equal(ids(live), []string{"e4", "e5", "e6"}) {
		t.Fatalf("live got %v", ids(live))
	}
	checkPositions(t, append(caught, live...), 1)
}

func testSubscribeFromMiddle(t *testing.T, s eventstore.Store) {
	t.Helper()
	for i := 1; i <= 10; i++ {
		mustAppend(t, s, "m", eventstore.Any, fmt.Sprintf("e%d", i))
	}
	sub, _ := subscribe(t, s, 6)
	got := receive(t, sub, 5)
	checkPositions(t, got, 6)
	mustAppend(t, s, "m", eventstore.Any, "e11")
	got = receive(t, sub, 1)
	checkPositions(t, got, 11)

	future, _ := subscribe(t, s, 13)
	mustAppend(t, s, "m", eventstore.Any, "e12", "e13")
	got = receive(t, future, 1)
	if got[0].ID != "e13" {
		t.Fatalf("subscription from 13 got %s first", got[0].ID)
	}
}

// testSubscribeSwitchOver subscribes while writers append: the subscriber must
// see every position exactly once, in order, and agree with ReadAll.
func testSubscribeSwitchOver(t *testing.T, s eventstore.Store) {
	t.Helper()
	const before, writers, each = 50, 4, 100
	for i := 0; i < before; i++ {
		mustAppend(t, s, "pre", eventstore.Any, fmt.Sprintf("pre-%d", i))
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := 0; i < each; i++ {
				if _, err := s.Append(context.Background(), fmt.Sprintf("w%d", w), eventstore.Any, ev(fmt.Sprintf("w%d-%d", w, i))); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	close(start) // writers race the subscription's catch-up
	sub, _ := subscribe(t, s, 1)
	got := receive(t, sub, before+writers*each)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	checkPositions(t, got, 1)
	all := readAll(t, s)
	if !slices.Equal(ids(got), ids(all)) {
		t.Fatalf("SubscribeAll and ReadAll disagree")
	}
	for i := range all {
		if got[i].Stream != all[i].Stream || got[i].Version != all[i].Version || string(got[i].Data) != string(all[i].Data) {
			t.Fatalf("position %d: subscription %+v, ReadAll %+v", i+1, got[i], all[i])
		}
	}
	select {
	case e, ok := <-sub.C:
		if ok {
			t.Fatalf("extra event after the last position: %+v", e)
		}
	default:
	}
}

// testSubscribeSlow checks that a subscriber that does not read never blocks
// writers, and still gets everything once it reads.
func testSubscribeSlow(t *testing.T, s eventstore.Store) {
	t.Helper()
	const n = 500
	sub, _ := subscribe(t, s, 1)
	done := make(chan error, 1)
	go func() {
		for i := 0; i < n; i++ {
			if _, err := s.Append(context.Background(), "slow", eventstore.Any, ev(fmt.Sprintf("e%d", i))); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitLimit):
		t.Fatal("appends blocked behind a subscriber that was not reading")
	}
	checkPositions(t, receive(t, sub, n), 1)
}

func testSubscribeCancel(t *testing.T, s eventstore.Store) {
	t.Helper()
	mustAppend(t, s, "a", eventstore.Any, "e1", "e2")
	sub, cancel := subscribe(t, s, 1)
	receive(t, sub, 1)
	cancel()
	waitClosed(t, sub)
	if err := sub.Err(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Err after cancel = %v, want context.Canceled", err)
	}
	// The store keeps working for everyone else.
	mustAppend(t, s, "a", eventstore.Exact(2), "e3")
}

func testSubscribeStoreClose(t *testing.T, s eventstore.Store) {
	t.Helper()
	mustAppend(t, s, "a", eventstore.Any, "e1")
	sub, _ := subscribe(t, s, 1)
	receive(t, sub, 1)
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	waitClosed(t, sub)
	if err := sub.Err(); !errors.Is(err, eventstore.ErrClosed) {
		t.Fatalf("Err after store close = %v, want ErrClosed", err)
	}
}

func testClosed(t *testing.T, s eventstore.Store) {
	t.Helper()
	ctx := context.Background()
	mustAppend(t, s, "a", eventstore.Any, "e1")
	if err := s.Close(); err != nil {
		t.Fatalf("first close: %v", err)
	}
	calls := []struct {
		name string
		call func() error
	}{
		{"Close", s.Close},
		{"Append", func() error { _, err := s.Append(ctx, "a", eventstore.Any, ev("e2")); return err }},
		{"ReadStream", func() error { _, err := s.ReadStream(ctx, "a", 1, 0); return err }},
		{"ReadAll", func() error { _, err := s.ReadAll(ctx, 1, 0); return err }},
		{"SubscribeAll", func() error { _, err := s.SubscribeAll(ctx, 1); return err }},
		{"ReadStreamBackwards", func() error { _, err := s.ReadStreamBackwards(ctx, "a", eventstore.End, 0); return err }},
		{"SubscribeStream", func() error { _, err := s.SubscribeStream(ctx, "a", 1); return err }},
		{"SetStreamMetadata", func() error { return s.SetStreamMetadata(ctx, "a", eventstore.StreamMetadata{MaxCount: 1}) }},
		{"StreamMetadata", func() error { _, err := s.StreamMetadata(ctx, "a"); return err }},
		{"DeleteStream", func() error { return s.DeleteStream(ctx, "a", eventstore.Any) }},
		{"SaveSnapshot", func() error {
			return s.SaveSnapshot(ctx, eventstore.Snapshot{Stream: "a", Version: 1, Data: []byte(`{}`)})
		}},
		{"LoadSnapshot", func() error { _, err := s.LoadSnapshot(ctx, "a"); return err }},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			if err := c.call(); !errors.Is(err, eventstore.ErrClosed) {
				t.Fatalf("%s after Close: err = %v, want ErrClosed", c.name, err)
			}
		})
	}
}
