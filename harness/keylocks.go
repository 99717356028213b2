package harness

import "sync"

// KeyLocks serialises work per key. A system whose Send publishes from
// many load workers at once takes its key's lock around each publish, as
// one producer per key would: two overlapping publishes of a key have no
// order for the per-key order checker to judge. Only keys being held take
// memory, so a run over millions of keys stays bounded by its concurrency.
// The zero value is ready to use.
type KeyLocks struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	sync.Mutex
	refs int // holders and waiters; the entry goes when it drops to 0
}

// Lock takes key's lock and returns its release, which must be called
// once.
func (l *KeyLocks) Lock(key string) (unlock func()) {
	l.mu.Lock()
	if l.m == nil {
		l.m = make(map[string]*keyLock)
	}
	k, ok := l.m[key]
	if !ok {
		k = new(keyLock)
		l.m[key] = k
	}
	k.refs++
	l.mu.Unlock()
	k.Lock()
	return func() {
		k.Unlock()
		l.mu.Lock()
		if k.refs--; k.refs == 0 {
			delete(l.m, key)
		}
		l.mu.Unlock()
	}
}

// held reports how many keys have an entry (for tests of the bound).
func (l *KeyLocks) held() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}
