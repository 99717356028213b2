package record

import (
	"slices"
	"sync"
)

// earlyGeneration is how many settlements of messages the ledger does not
// know yet one generation of its early map holds. Two generations are
// kept, so a settlement waits for its publish-OK through at least this many
// others; a duplicate of a retired message ages out the same way.
const earlyGeneration = 1 << 14

// Ledger counts what was published and what each consumer group settled, so
// a run can wait for real quiescence — every acknowledged message settled by
// every group that consumes its topic — instead of sleeping and hoping. The
// history holds the same facts; the ledger answers "are we there yet" in
// constant time while the run goes on.
//
// Its memory is bounded by what is in flight once it knows the groups
// (SetGroups, or the first Outstanding): a message is forgotten as soon as
// every group owed it has settled it. Until then it keeps every publish and
// judges them when the groups arrive. A settlement of a message it does not
// know — one that overtook its publish-OK, or a duplicate of one already
// forgotten, normal under at-least-once delivery — waits in a map of two
// rotating generations of earlyGeneration entries, so it still counts when
// the publish-OK follows and ages out when none does.
//
// A message published again with the ID of one already forgotten is owed
// again to every group (the old ledger, which kept every ID, counted it
// settled), unless a settlement of it still waits in the early map.
type Ledger struct {
	mu          sync.Mutex
	groups      map[string][]string // topic → the groups that must settle it; nil until known
	live        map[msgKey][]string // before groups are known: groups that settled; after: groups still owed
	outstanding int                 // (message, group) pairs owed, once groups are known
	early, prev map[msgKey][]string // settlements of messages not (or no longer) live, two generations
}

type msgKey struct{ topic, id string }

// NewLedger returns an empty ledger.
func NewLedger() *Ledger {
	return &Ledger{live: map[msgKey][]string{}, early: map[msgKey][]string{}}
}

// SetGroups tells the ledger which groups must settle each topic (topic →
// groups), judging the messages published so far. Tell it once the system
// has started, so that messages can be forgotten as they settle; the first
// call wins, later ones are ignored, as are topics no group consumes.
func (l *Ledger) SetGroups(groups map[string][]string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.setGroupsLocked(groups)
}

func (l *Ledger) setGroupsLocked(groups map[string][]string) {
	if l.groups != nil {
		return
	}
	l.groups = make(map[string][]string, len(groups))
	for topic, gs := range groups {
		l.groups[topic] = slices.Compact(slices.Sorted(slices.Values(gs)))
	}
	for k, settled := range l.live {
		owed := l.owed(k.topic, settled)
		if len(owed) == 0 {
			delete(l.live, k)
			continue
		}
		l.live[k] = owed
		l.outstanding += len(owed)
	}
}

// owed returns the groups of topic not in settled, in a new slice.
func (l *Ledger) owed(topic string, settled []string) []string {
	var out []string
	for _, g := range l.groups[topic] {
		if !slices.Contains(settled, g) {
			out = append(out, g)
		}
	}
	return out
}

func (l *Ledger) publishedOK(topic, id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := msgKey{topic, id}
	if _, ok := l.live[k]; ok {
		return // published again while in flight: the same message
	}
	settled := l.takeEarly(k)
	if l.groups == nil {
		l.live[k] = settled
		return
	}
	if owed := l.owed(topic, settled); len(owed) > 0 {
		l.live[k] = owed
		l.outstanding += len(owed)
	}
}

// takeEarly removes and returns the early settlements of k.
func (l *Ledger) takeEarly(k msgKey) []string {
	settled := l.early[k]
	if s, ok := l.prev[k]; ok {
		delete(l.prev, k)
		for _, g := range s {
			settled = addGroup(settled, g)
		}
	}
	delete(l.early, k)
	return settled
}

// Settle records that group settled message id of topic, for consumers
// that are not wrapped by Consumer (an observer of a dead-letter topic).
func (l *Ledger) Settle(topic, group, id string) { l.settledBy(topic, group, id) }

func (l *Ledger) settledBy(topic, group, id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := msgKey{topic, id}
	gs, ok := l.live[k]
	switch {
	case ok && l.groups == nil:
		l.live[k] = addGroup(gs, group)
	case ok:
		i := slices.Index(gs, group)
		if i < 0 {
			return // settled before, or not owed to this group
		}
		l.outstanding--
		if len(gs) == 1 {
			delete(l.live, k)
			return
		}
		l.live[k] = slices.Delete(gs, i, i+1)
	case l.groups != nil && !slices.Contains(l.groups[topic], group):
		// Nobody waits for this group on this topic.
	default:
		if len(l.early) >= earlyGeneration {
			l.prev, l.early = l.early, make(map[msgKey][]string)
		}
		l.early[k] = addGroup(l.early[k], group)
	}
}

func addGroup(gs []string, g string) []string {
	if slices.Contains(gs, g) {
		return gs
	}
	return append(gs, g)
}

// Outstanding counts, over groups (topic → the groups that consume it), the
// messages published OK to a topic that a group has not yet settled. The
// first call records groups as SetGroups would, unless SetGroups was called
// before; the count is always over the recorded groups, in constant time.
func (l *Ledger) Outstanding(groups map[string][]string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.groups == nil && len(groups) == 0 {
		return 0 // nothing to wait for, and nothing learnt about the groups
	}
	l.setGroupsLocked(groups)
	return l.outstanding
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
