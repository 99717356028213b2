package pebblestore

import (
	"hash/maphash"
	"sync/atomic"
)

// idFilter is an in-memory Bloom filter of every stored or pending event ID,
// so that the ID lookup of a new append (almost always a miss) costs two
// hashes instead of a Pebble Get. It grows by adding parts of doubling
// capacity; about 10 bits per ID, under 2 % false positives overall (a
// false positive only costs the Get). Adds happen under the store's lock;
// lookups take no lock: parts and bits are read atomically.
type idFilter struct {
	seed1, seed2 maphash.Seed
	parts        atomic.Pointer[[]*filterPart]
}

type filterPart struct {
	bits     []atomic.Uint64
	capacity int
	count    int // written under the store's lock only
}

const (
	filterFirstCapacity = 1 << 16
	filterBitsPerID     = 10
	filterHashes        = 7
)

func newIDFilter() *idFilter {
	f := &idFilter{seed1: maphash.MakeSeed(), seed2: maphash.MakeSeed()}
	parts := []*filterPart{newFilterPart(filterFirstCapacity)}
	f.parts.Store(&parts)
	return f
}

func newFilterPart(capacity int) *filterPart {
	return &filterPart{bits: make([]atomic.Uint64, capacity*filterBitsPerID/64+1), capacity: capacity}
}

func (f *idFilter) hashes(id string) (uint64, uint64) {
	return maphash.String(f.seed1, id), maphash.String(f.seed2, id) | 1
}

// add records id; the caller holds the store's lock.
func (f *idFilter) add(id string) {
	parts := *f.parts.Load()
	p := parts[len(parts)-1]
	if p.count >= p.capacity {
		p = newFilterPart(2 * p.capacity)
		grown := append(append(make([]*filterPart, 0, len(parts)+1), parts...), p)
		f.parts.Store(&grown)
	}
	p.count++
	h1, h2 := f.hashes(id)
	n := uint64(len(p.bits)) * 64
	for i := uint64(0); i < filterHashes; i++ {
		bit := (h1 + i*h2) % n
		w := &p.bits[bit/64]
		mask := uint64(1) << (bit % 64)
		if w.Load()&mask == 0 {
			w.Or(mask)
		}
	}
}

// mayContain is false only for an ID never added.
func (f *idFilter) mayContain(id string) bool {
	h1, h2 := f.hashes(id)
	for _, p := range *f.parts.Load() {
		n := uint64(len(p.bits)) * 64
		hit := true
		for i := uint64(0); i < filterHashes && hit; i++ {
			bit := (h1 + i*h2) % n
			hit = p.bits[bit/64].Load()&(uint64(1)<<(bit%64)) != 0
		}
		if hit {
			return true
		}
	}
	return false
}
