package membus

import (
	"context"
	"fmt"
	"hash/fnv"
	"sync"

	"github.com/edkit-dev/edkit/reference/bus"
)

// Option configures a Bus.
type Option func(*Bus)

// Partitions sets how many partitions each topic has (default 4). More
// partitions let more deliveries of distinct keys be in flight at once.
func Partitions(n int) Option {
	return func(b *Bus) {
		if n > 0 {
			b.partitions = n
		}
	}
}

// DefaultRetention is how many settled messages a partition keeps behind
// its slowest consumer group unless Retention says otherwise.
const DefaultRetention = 1024

// Retention sets how many messages each partition keeps after every
// consumer group known on its topic has settled them (default
// DefaultRetention), for groups that subscribe later; a negative n keeps
// the whole log for the Bus's lifetime, as membus did before it trimmed.
// See Bus for what a late group reads.
func Retention(n int) Option {
	return func(b *Bus) { b.retention = n }
}

// Bus is an in-memory broker. The zero value is not usable; call New.
//
// Memory is bounded by what is unsettled, not by how long the Bus runs:
// once a topic has at least one consumer group, each partition drops the
// messages that every group ever seen on the topic has settled (acked or
// dropped), except the last Retention of them. Offsets keep their meaning
// across the trim. A topic nobody has subscribed to keeps everything, so
// publishing before the first Subscribe loses nothing; a group that joins
// a topic later starts at the oldest message still retained, as a Kafka
// group with auto.offset.reset=earliest starts at what retention left. A
// group that stops consuming holds its topic's log from its position, as a
// slow consumer does.
type Bus struct {
	partitions int
	retention  int

	mu     sync.Mutex
	closed bool
	done   chan struct{}
	topics map[string]*topic
}

var _ bus.Bus = (*Bus)(nil)

// New returns an empty broker.
func New(opts ...Option) *Bus {
	b := &Bus{partitions: 4, retention: DefaultRetention, done: make(chan struct{}), topics: make(map[string]*topic)}
	for _, o := range opts {
		o(b)
	}
	return b
}

type topic struct {
	parts  []partLog
	groups map[string]*group
}

// partLog is one partition's retained messages: the log from offset base
// on. Offsets are absolute, so trimming the head changes no group's offset.
type partLog struct {
	base int // offset of msgs[0]
	msgs []*bus.Message
	dead int // slots trimmed off the front of msgs' backing array
}

// end is the offset the next published message gets.
func (l *partLog) end() int { return l.base + len(l.msgs) }

// at returns the message at offset off, which must be retained.
func (l *partLog) at(off int) *bus.Message { return l.msgs[off-l.base] }

// trimTo drops the messages below offset off.
func (l *partLog) trimTo(off int) {
	n := min(off-l.base, len(l.msgs))
	if n <= 0 {
		return
	}
	clear(l.msgs[:n]) // the backing array must not keep them alive
	l.msgs = l.msgs[n:]
	l.base += n
	l.dead += n
	// Slicing keeps the whole backing array; once its dead head outweighs
	// what is retained, copy the rest out so the array can be freed.
	if l.dead >= 256 && l.dead > len(l.msgs) {
		l.msgs = append([]*bus.Message(nil), l.msgs...)
		l.dead = 0
	}
}

// group is a consumer group's position in one topic.
type group struct {
	parts   []partState
	next    int           // partition to try first, for fairness
	changed chan struct{} // closed and replaced whenever a claim may succeed
}

type partState struct {
	offset   int    // next offset to deliver; advances on ack or drop
	inflight bool   // a delivery of offset is out
	gen      uint64 // identifies the current delivery, so stale settles fail
}

// topicLocked returns the topic, creating it on first use.
func (b *Bus) topicLocked(name string) *topic {
	t, ok := b.topics[name]
	if !ok {
		t = &topic{parts: make([]partLog, b.partitions), groups: make(map[string]*group)}
		b.topics[name] = t
	}
	return t
}

func (b *Bus) partitionFor(key string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int(h.Sum32() % uint32(b.partitions))
}

// Publish appends the messages to their topics' logs. It returns once all
// are stored (the broker's confirmation), or fails without storing any.
func (b *Bus) Publish(ctx context.Context, msgs ...*bus.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for i, m := range msgs {
		if m == nil {
			return fmt.Errorf("message %d: %w", i, ErrNilMessage)
		}
		if m.Topic == "" {
			return fmt.Errorf("message %d (%s): %w", i, m.ID, ErrNoTopic)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return bus.ErrClosed
	}
	touched := make(map[*topic]bool)
	for _, m := range msgs {
		t := b.topicLocked(m.Topic)
		p := b.partitionFor(m.Key)
		t.parts[p].msgs = append(t.parts[p].msgs, m.Clone())
		touched[t] = true
	}
	for t := range touched {
		for _, g := range t.groups {
			g.notifyLocked()
		}
	}
	return nil
}

func (g *group) notifyLocked() {
	close(g.changed)
	g.changed = make(chan struct{})
}

// Subscribe joins group on topic. The channel yields deliveries until ctx is
// done or the Bus closes; deliveries still unsettled then are handed back to
// the group (settling them later returns ErrRevoked).
func (b *Bus) Subscribe(ctx context.Context, topicName, groupName string) (<-chan bus.Delivery, error) {
	if topicName == "" {
		return nil, ErrNoTopic
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, bus.ErrClosed
	}
	t := b.topicLocked(topicName)
	g, ok := t.groups[groupName]
	if !ok {
		g = &group{parts: make([]partState, b.partitions), changed: make(chan struct{})}
		for p := range g.parts {
			g.parts[p].offset = t.parts[p].base // what retention kept
		}
		t.groups[groupName] = g
	}
	mem := &member{b: b, t: t, g: g, out: make(chan bus.Delivery), open: make(map[*delivery]struct{})}
	go mem.pump(ctx)
	return mem.out, nil
}

// member is one subscription: it claims the next deliverable message of its
// group and hands it to its channel.
type member struct {
	b    *Bus
	t    *topic
	g    *group
	out  chan bus.Delivery
	open map[*delivery]struct{} // handed out, not settled; guarded by b.mu
}

func (mem *member) pump(ctx context.Context) {
	defer close(mem.out)
	defer mem.revokeAll()
	for {
		d, wait := mem.claim()
		if d == nil {
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return
			case <-mem.b.done:
				return
			}
		}
		select {
		case mem.out <- d:
		case <-ctx.Done():
			mem.release(d)
			return
		case <-mem.b.done:
			mem.release(d)
			return
		}
	}
}

// claim takes the next deliverable message of the group, or returns a channel
// that closes when one may have become available.
func (mem *member) claim() (*delivery, <-chan struct{}) {
	b, t, g := mem.b, mem.t, mem.g
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(g.parts)
	for i := 0; i < n; i++ {
		p := (g.next + i) % n
		ps := &g.parts[p]
		if ps.inflight || ps.offset >= t.parts[p].end() {
			continue
		}
		ps.inflight = true
		ps.gen++
		g.next = (p + 1) % n
		d := &delivery{mem: mem, part: p, offset: ps.offset, gen: ps.gen, msg: t.parts[p].at(ps.offset).Clone()}
		mem.open[d] = struct{}{}
		return d, nil
	}
	return nil, g.changed
}

// release hands an unsent or unsettled delivery back to the group.
func (mem *member) release(d *delivery) {
	mem.b.mu.Lock()
	defer mem.b.mu.Unlock()
	mem.releaseLocked(d)
}

func (mem *member) releaseLocked(d *delivery) {
	delete(mem.open, d)
	ps := &mem.g.parts[d.part]
	if ps.inflight && ps.gen == d.gen {
		ps.inflight = false
		ps.gen++
		mem.g.notifyLocked()
	}
}

func (mem *member) revokeAll() {
	mem.b.mu.Lock()
	defer mem.b.mu.Unlock()
	for d := range mem.open {
		mem.releaseLocked(d)
	}
}

type delivery struct {
	mem    *member
	part   int
	offset int
	gen    uint64
	msg    *bus.Message

	settled bool // guarded by mem.b.mu
}

func (d *delivery) Message() *bus.Message { return d.msg }

func (d *delivery) Ack(context.Context) error { return d.settle(true) }

func (d *delivery) Nack(_ context.Context, requeue bool) error { return d.settle(!requeue) }

// settle moves the partition past the message (advance) or hands it back for
// redelivery at the same offset.
func (d *delivery) settle(advance bool) error {
	b := d.mem.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if d.settled {
		return bus.ErrAlreadySettled
	}
	ps := &d.mem.g.parts[d.part]
	if !ps.inflight || ps.gen != d.gen {
		return ErrRevoked
	}
	d.settled = true
	delete(d.mem.open, d)
	ps.inflight = false
	ps.gen++
	if advance {
		ps.offset++
		b.trimLocked(d.mem.t, d.part)
	}
	d.mem.g.notifyLocked()
	return nil
}

// trimLocked drops what every group of t has settled in partition p,
// except the last b.retention messages of it.
func (b *Bus) trimLocked(t *topic, p int) {
	if b.retention < 0 || len(t.groups) == 0 {
		return
	}
	low := -1
	for _, g := range t.groups {
		if off := g.parts[p].offset; low < 0 || off < low {
			low = off
		}
	}
	t.parts[p].trimTo(low - b.retention)
}

// Close stops every subscription (their channels close) and rejects later
// calls. The second and later calls return bus.ErrClosed.
func (b *Bus) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return bus.ErrClosed
	}
	b.closed = true
	close(b.done)
	return nil
}

// Lag reports, per group of topic, how many messages are not yet settled,
// so tests can wait for quiescence without sleeping.
func (b *Bus) Lag(topicName string) map[string]int {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.topics[topicName]
	if !ok {
		return nil
	}
	out := make(map[string]int, len(t.groups))
	for name, g := range t.groups {
		n := 0
		for p := range g.parts {
			n += t.parts[p].end() - g.parts[p].offset
		}
		out[name] = n
	}
	return out
}
