package record

import "sync"

// Ledger counts what was published and what each consumer group settled, so
// a run can wait for real quiescence — every acknowledged message settled by
// every group that consumes its topic — instead of sleeping and hoping. The
// history holds the same facts; the ledger answers "are we there yet" in
// constant time while the run goes on.
type Ledger struct {
	mu        sync.Mutex
	published map[string]map[string]struct{} // topic → message IDs published OK
	settled   map[string]map[string]struct{} // topic + "\x00" + group → message IDs acked or dead-lettered
}

// NewLedger returns an empty ledger.
func NewLedger() *Ledger {
	return &Ledger{published: map[string]map[string]struct{}{}, settled: map[string]map[string]struct{}{}}
}

func (l *Ledger) add(m map[string]map[string]struct{}, k, id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := m[k]
	if s == nil {
		s = map[string]struct{}{}
		m[k] = s
	}
	s[id] = struct{}{}
}

func (l *Ledger) publishedOK(topic, id string) { l.add(l.published, topic, id) }

func (l *Ledger) settledBy(topic, group, id string) { l.add(l.settled, topic+"\x00"+group, id) }

// Outstanding counts, over groups (topic → the groups that consume it), the
// messages published OK to a topic that a group has not yet settled.
func (l *Ledger) Outstanding(groups map[string][]string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for topic, gs := range groups {
		for _, g := range gs {
			done := l.settled[topic+"\x00"+g]
			for id := range l.published[topic] {
				if _, ok := done[id]; !ok {
					n++
				}
			}
		}
	}
	return n
}

// Option configures the recording wrappers.
type Option func(*options)

type options struct{ ledger *Ledger }

// WithLedger keeps l up to date with publishes (on a Bus) or settlements
// (on a Consumer).
func WithLedger(l *Ledger) Option { return func(o *options) { o.ledger = l } }

func apply(opts []Option) options {
	var o options
	for _, f := range opts {
		f(&o)
	}
	return o
}
