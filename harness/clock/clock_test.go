package clock_test

import (
	"context"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/harness/clock"
)

func TestVirtualFiresInOrderOnlyWhenAdvanced(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	v := clock.NewVirtual(start)
	a := v.After(2 * time.Second)
	b := v.After(time.Second)
	select {
	case <-a:
		t.Fatal("fired before advance")
	case <-b:
		t.Fatal("fired before advance")
	default:
	}
	v.Advance(time.Second)
	select {
	case got := <-b:
		if !got.Equal(start.Add(time.Second)) {
			t.Fatalf("b fired at %v", got)
		}
	default:
		t.Fatal("b did not fire at its deadline")
	}
	select {
	case <-a:
		t.Fatal("a fired early")
	default:
	}
	v.Advance(time.Second)
	<-a
	if v.Waiters() != 0 {
		t.Fatalf("waiters left: %d", v.Waiters())
	}
}

func TestVirtualSleepHonoursContext(t *testing.T) {
	v := clock.NewVirtual(time.Unix(0, 0))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := v.Sleep(ctx, time.Hour); err == nil {
		t.Fatal("Sleep on a cancelled context returned nil")
	}
}

func TestVirtualNeverGoesBack(t *testing.T) {
	v := clock.NewVirtual(time.Unix(100, 0))
	v.Set(time.Unix(50, 0))
	if got := v.Now(); !got.Equal(time.Unix(100, 0)) {
		t.Fatalf("clock moved back to %v", got)
	}
}
