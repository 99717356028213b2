package blackbox

import (
	"context"
	"sync"
)

// turns makes each key's inputs go out in the load's order for the key
// (Op.KeySeq: 1, 2, …): the load's workers pick operations concurrently,
// and an account's credit overtaking its opening is a different workload
// from the one the file describes. It keeps one entry per key the load
// uses — bounded by the load's key count, not by the run's length.
type turns struct {
	mu   sync.Mutex
	keys map[string]*turn
}

type turn struct {
	next    int64         // the KeySeq whose turn it is
	advance chan struct{} // closed when next moves
}

// wait blocks until it is keySeq's turn for key (or ctx ends) and returns
// the call that passes the turn on; call it whatever happens to the send.
func (t *turns) wait(ctx context.Context, key string, keySeq int64) (done func(), err error) {
	t.mu.Lock()
	if t.keys == nil {
		t.keys = map[string]*turn{}
	}
	k := t.keys[key]
	if k == nil {
		k = &turn{next: 1, advance: make(chan struct{})}
		t.keys[key] = k
	}
	for k.next < keySeq {
		ch := k.advance
		t.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		t.mu.Lock()
	}
	t.mu.Unlock()
	return func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		if keySeq >= k.next {
			k.next = keySeq + 1
			close(k.advance)
			k.advance = make(chan struct{})
		}
	}, nil
}
