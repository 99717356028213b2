package harness

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestKeyLocks proves per-key serialisation: two holders of one key
// never overlap, holders of different keys do (the lock is not global),
// and no entry is left once every holder released.
func TestKeyLocks(t *testing.T) {
	var l KeyLocks
	overlap := func(keyOf func(i int) int) (sameKey, anyKey int32) {
		var inKey [2]atomic.Int32
		var inAll, maxSame, maxAll atomic.Int32
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				for range 20 {
					k := keyOf(i)
					unlock := l.Lock(strconv.Itoa(k))
					s, a := inKey[k].Add(1), inAll.Add(1)
					for maxSame.Load() < s && !maxSame.CompareAndSwap(maxSame.Load(), s) {
					}
					for maxAll.Load() < a && !maxAll.CompareAndSwap(maxAll.Load(), a) {
					}
					time.Sleep(100 * time.Microsecond)
					inKey[k].Add(-1)
					inAll.Add(-1)
					unlock()
				}
			})
		}
		wg.Wait()
		return maxSame.Load(), maxAll.Load()
	}
	if same, _ := overlap(func(int) int { return 0 }); same != 1 {
		t.Errorf("%d holders of one key at once, want 1", same)
	}
	if _, all := overlap(func(i int) int { return i % 2 }); all < 2 {
		t.Errorf("holders of two keys never overlapped (max %d at once): the lock is global", all)
	}
	if n := l.held(); n != 0 {
		t.Errorf("%d keys still have an entry after every holder released: memory grows with keys", n)
	}
}
