package blackbox

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestTurnsKeepEachKeysOrder: sends of one key arriving in any order go out
// in KeySeq order; other keys do not wait for them; a cancelled wait
// returns.
func TestTurnsKeepEachKeysOrder(t *testing.T) {
	var tr turns
	var mu sync.Mutex
	var got []int64
	var wg sync.WaitGroup
	for _, seq := range []int64{4, 2, 5, 1, 3} {
		wg.Go(func() {
			done, err := tr.wait(t.Context(), "k", seq)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			got = append(got, seq)
			mu.Unlock()
			done()
		})
		time.Sleep(time.Millisecond) // arrive in the listed order, mostly
	}
	other, err := tr.wait(t.Context(), "other", 1)
	if err != nil {
		t.Fatal(err)
	}
	other()
	wg.Wait()
	for i, s := range got {
		if s != int64(i+1) {
			t.Fatalf("sent in order %v", got)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := tr.wait(ctx, "k", 9); err == nil {
		t.Fatal("a wait for a turn that never comes returned no error when cancelled")
	}
}
