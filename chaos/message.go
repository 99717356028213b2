package chaos

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edkit-dev/edkit/harness/clock"
	"github.com/edkit-dev/edkit/reference/bus"
)

// Fault kinds a MessageFault injects.
const (
	KindDuplicate = "duplicate"
	KindDelay     = "delay"
	KindDrop      = "drop"
	KindReorder   = "reorder"
	KindCorrupt   = "corrupt"
	KindLoseAck   = "lose-ack"
)

// MessageFaultConfig says which fraction of deliveries to disturb. Each
// kind is chosen independently, by its own seeded roll per (group, message
// ID), so adding one kind never changes which messages another kind picks.
// A dropped delivery suffers nothing else; the others combine, applied in
// the order delay, corrupt, reorder, duplicate.
type MessageFaultConfig struct {
	// Seed makes the choice of victims replayable: the same seed picks the
	// same messages in the same groups, whatever the goroutine interleaving.
	Seed int64
	// Duplicate is the fraction of deliveries handled twice, as when a
	// broker redelivers a message whose ack was lost.
	Duplicate float64
	// Delay is the fraction of deliveries held back before handling.
	Delay float64
	// MaxDelay bounds a delay; each delayed delivery waits a seeded fraction
	// of it.
	MaxDelay time.Duration
	// Drop is the fraction of deliveries acked without calling the handler:
	// the message is lost to the group, as when a consumer acks before
	// processing and crashes.
	Drop float64
	// Reorder is the fraction of deliveries held back and handled after the
	// next delivery of the same topic and key in the group, or after
	// MaxHold, whichever comes first. See MessageFault for how.
	Reorder float64
	// MaxHold bounds how long a reordered delivery waits for a successor,
	// on the fault's clock.
	MaxHold time.Duration
	// Corrupt is the fraction of deliveries whose handler gets a copy of
	// the message with seeded payload bytes flipped. Empty payloads have
	// nothing to flip and are left alone.
	Corrupt float64
	// LoseAck is the fraction of deliveries whose handler runs to the end
	// and whose ack is then lost: the handler gets the message again, as
	// the broker's redelivery of an unacknowledged message would bring it
	// (after a seeded wait up to MaxDelay). It is simulated at the
	// consumer — the broker sees one ack — and is what an inbox exists
	// for: without one, the effect happens twice.
	LoseAck float64
}

// Validate reports every problem at once.
func (c MessageFaultConfig) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    float64
	}{{"duplicate", c.Duplicate}, {"delay", c.Delay}, {"drop", c.Drop}, {"reorder", c.Reorder}, {"corrupt", c.Corrupt}, {"lose-ack", c.LoseAck}} {
		if math.IsNaN(f.v) || f.v < 0 || f.v > 1 {
			errs = append(errs, fmt.Errorf("chaos: %s fraction %v is not within [0, 1]", f.name, f.v))
		}
	}
	if c.MaxDelay < 0 {
		errs = append(errs, fmt.Errorf("chaos: max delay %v is negative", c.MaxDelay))
	}
	if c.Delay > 0 && c.MaxDelay == 0 {
		errs = append(errs, errors.New("chaos: delay fraction set but max delay is 0"))
	}
	if c.MaxHold < 0 {
		errs = append(errs, fmt.Errorf("chaos: max hold %v is negative", c.MaxHold))
	}
	if c.Reorder > 0 && c.MaxHold == 0 {
		errs = append(errs, errors.New("chaos: reorder fraction set but max hold is 0"))
	}
	return errors.Join(errs...)
}

// Injection is one fault the journal recorded.
type Injection struct {
	// At is when the fault was injected, on the fault's clock.
	At    time.Time `json:"at"`
	Kind  string    `json:"kind"`
	Group string    `json:"group"`
	MsgID string    `json:"msg"`
	// Delay is how long a delayed delivery waited, or how long a reordered
	// one was held (on the fault's clock).
	Delay time.Duration `json:"delay,omitempty"`
	// After is, for a reorder, the ID of the message handled before the
	// held one; empty when MaxHold or shutdown released it.
	After string `json:"after,omitempty"`
	// Offsets are the payload bytes a corrupt flipped.
	Offsets []int `json:"offsets,omitempty"`
	// Err is the error of a reordered delivery's handler: the delivery was
	// acked when it was held, so the error cannot nack it and is kept here.
	Err string `json:"err,omitempty"`
}

// MessageFault is a message-level fault: bus middleware that drops,
// duplicates, reorders, delays and corrupts a seeded fraction of
// deliveries. It plugs in outside the consumer's recording middleware, so
// the history sees a duplicate exactly as it would see a broker's
// redelivery, and a dropped message not at all.
//
// Reorder works by buffering, not by blocking: the chosen delivery is acked
// at once (its Middleware call returns nil) and a copy is held until the
// next delivery of the same topic and key in the group has been handled,
// then handled itself. Blocking the held call instead would stall a
// Concurrency(1) consumer until MaxHold and could never swap two messages
// of one key, which Consume always runs on one worker. Buffering swaps
// same-key messages at any concurrency, and since the held delivery's
// successor is the next one of its key, the swap is the same for a seed
// whenever the broker keeps per-key order. While Reorder is set the group's
// handler calls are serialised, because a held delivery released by
// MaxHold runs off the consume goroutine and must not overlap a handler
// written for one call at a time. A delivery held when its context ends is
// handled at once with a context that is no longer cancelled, so stopping a
// consumer does not lose it; Wait waits for those. Acking before handling
// is the fault: a crash while a delivery is held loses it, as it would in a
// consumer that acks early.
type MessageFault struct {
	cfg MessageFaultConfig
	clk clock.Clock

	mu      sync.Mutex
	journal journal
	counts  map[string]int
	holds   map[string]*groupHold

	releases sync.WaitGroup // goroutines waiting to release held deliveries
	// off switches the fault off: deliveries pass untouched (Window).
	off atomic.Bool
}

// groupHold is one group's reorder state.
type groupHold struct {
	// mu serialises the group's handler calls while Reorder is on.
	mu    sync.Mutex
	slots map[string]*held // topic + "\x00" + key → the delivery held back
}

type held struct {
	ctx   context.Context
	m     *bus.Message
	next  bus.Handler
	at    time.Time
	entry int           // its journal index, filled in on release if still kept
	taken chan struct{} // closed when a successor released it
}

// NewMessageFault validates cfg. A nil clk means the wall clock.
func NewMessageFault(cfg MessageFaultConfig, clk clock.Clock) (*MessageFault, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if clk == nil {
		clk = clock.Real{}
	}
	return &MessageFault{cfg: cfg, clk: clk, counts: map[string]int{}, holds: map[string]*groupHold{}}, nil
}

// roll maps (seed, salt, group, message ID) to [0, 1) deterministically.
func (f *MessageFault) roll(salt, group, msgID string) float64 {
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(f.cfg.Seed))
	_, _ = h.Write(b[:])
	_, _ = h.Write([]byte(salt))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(group))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(msgID))
	// FNV's high bits mix poorly for inputs that differ in their last
	// bytes (m-1, m-2, ...); the splitmix64 finaliser spreads them.
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / float64(1<<53)
}

// journalHead and journalTail bound the journal: it keeps the first
// journalHead injections and the latest journalTail, so a long run's
// memory stays flat. Counts stay exact.
const (
	journalHead = 1000
	journalTail = 1000
)

// journal keeps the first journalHead injections and, in a ring, the last
// journalTail; n counts them all, so an injection's index is its number.
type journal struct {
	head []Injection
	tail []Injection // ring: injection i is at tail[(i-journalHead)%journalTail]
	n    int
}

func (j *journal) add(in Injection) int {
	i := j.n
	j.n++
	switch {
	case i < journalHead:
		j.head = append(j.head, in)
	case len(j.tail) < journalTail:
		j.tail = append(j.tail, in)
	default:
		j.tail[(i-journalHead)%journalTail] = in
	}
	return i
}

// at returns injection i, or nil when the journal has dropped it.
func (j *journal) at(i int) *Injection {
	switch {
	case i < 0 || i >= j.n:
		return nil
	case i < journalHead:
		return &j.head[i]
	case i < j.n-journalTail:
		return nil
	default:
		return &j.tail[(i-journalHead)%journalTail]
	}
}

// dropped is how many injections between the head and the tail are gone.
func (j *journal) dropped() int { return max(0, j.n-journalHead-journalTail) }

// entries returns a copy of what is kept, in order.
func (j *journal) entries() []Injection {
	out := make([]Injection, 0, len(j.head)+len(j.tail))
	out = append(out, j.head...)
	if len(j.tail) < journalTail {
		return append(out, j.tail...)
	}
	split := (j.n - journalHead) % journalTail // the oldest kept
	out = append(out, j.tail[split:]...)
	return append(out, j.tail[:split]...)
}

// note journals in and returns its index, for journal.at.
func (f *MessageFault) note(in Injection) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counts[in.Kind]++
	return f.journal.add(in)
}

func (f *MessageFault) chosen(kind string, fraction float64, group, msgID string) bool {
	return fraction > 0 && f.roll(kind, group, msgID) < fraction
}

// Middleware returns the fault for one consumer group. One group's
// middleware may wrap the handlers of several topics (a router's routes).
func (f *MessageFault) Middleware(group string) bus.Middleware {
	f.mu.Lock()
	gh := f.holds[group]
	if gh == nil {
		gh = &groupHold{slots: map[string]*held{}}
		f.holds[group] = gh
	}
	f.mu.Unlock()
	return func(next bus.Handler) bus.Handler {
		return func(ctx context.Context, m *bus.Message) error {
			if f.off.Load() {
				return next(ctx, m)
			}
			if f.chosen("drop", f.cfg.Drop, group, m.ID) {
				f.note(Injection{At: f.clk.Now(), Kind: KindDrop, Group: group, MsgID: m.ID})
				return nil
			}
			if f.chosen("delay", f.cfg.Delay, group, m.ID) {
				d := time.Duration(f.roll("delay-len", group, m.ID) * float64(f.cfg.MaxDelay))
				f.note(Injection{At: f.clk.Now(), Kind: KindDelay, Group: group, MsgID: m.ID, Delay: d})
				if err := f.clk.Sleep(ctx, d); err != nil {
					return err
				}
			}
			if len(m.Payload) > 0 && f.chosen("corrupt", f.cfg.Corrupt, group, m.ID) {
				var offs []int
				m, offs = f.corrupt(group, m)
				f.note(Injection{At: f.clk.Now(), Kind: KindCorrupt, Group: group, MsgID: m.ID, Offsets: offs})
			}
			if f.cfg.Reorder == 0 {
				return f.handle(ctx, group, next, m)
			}
			gh.mu.Lock()
			defer gh.mu.Unlock()
			slot := m.Topic + "\x00" + m.Key
			prev := gh.slots[slot]
			if prev == nil {
				if f.chosen("reorder", f.cfg.Reorder, group, m.ID) {
					f.hold(ctx, group, gh, slot, next, m)
					return nil
				}
				return f.handle(ctx, group, next, m)
			}
			err := f.handle(ctx, group, next, m)
			delete(gh.slots, slot)
			close(prev.taken)
			f.release(group, prev, m.ID)
			return err
		}
	}
}

// handle runs next, then, for a chosen message that succeeded, runs it
// again as a redelivery would.
func (f *MessageFault) handle(ctx context.Context, group string, next bus.Handler, m *bus.Message) error {
	if err := next(ctx, m); err != nil {
		return err
	}
	if f.chosen("lose-ack", f.cfg.LoseAck, group, m.ID) {
		d := time.Duration(f.roll("lose-ack-wait", group, m.ID) * float64(f.cfg.MaxDelay))
		f.note(Injection{At: f.clk.Now(), Kind: KindLoseAck, Group: group, MsgID: m.ID, Delay: d})
		if err := f.clk.Sleep(ctx, d); err != nil {
			return err
		}
		again := m.Clone()
		again.SetHeader(bus.HeaderAttempt, strconv.Itoa(2))
		return next(ctx, again)
	}
	if f.chosen("duplicate", f.cfg.Duplicate, group, m.ID) {
		f.note(Injection{At: f.clk.Now(), Kind: KindDuplicate, Group: group, MsgID: m.ID})
		dup := m.Clone()
		dup.SetHeader(bus.HeaderAttempt, strconv.Itoa(2))
		return next(ctx, dup)
	}
	return nil
}

// corrupt returns a copy of m with one seeded byte in every 64 (at least
// one) XORed with a seeded non-zero mask. Offsets are distinct, so no flip
// undoes another and the copy always differs from m.
func (f *MessageFault) corrupt(group string, m *bus.Message) (*bus.Message, []int) {
	c := m.Clone()
	n := 1 + len(c.Payload)/64
	offs := make([]int, 0, n)
	for i := range n {
		salt := "corrupt-" + strconv.Itoa(i)
		pos := int(f.roll(salt+"-pos", group, m.ID) * float64(len(c.Payload)))
		if slices.Contains(offs, pos) {
			continue
		}
		c.Payload[pos] ^= byte(1 + f.roll(salt+"-mask", group, m.ID)*255)
		offs = append(offs, pos)
	}
	return c, offs
}

// hold keeps a copy of m in slot until a successor, MaxHold or the end of
// ctx releases it. Called with gh.mu held.
func (f *MessageFault) hold(ctx context.Context, group string, gh *groupHold, slot string, next bus.Handler, m *bus.Message) {
	now := f.clk.Now()
	h := &held{ctx: ctx, m: m.Clone(), next: next, at: now, taken: make(chan struct{})}
	h.entry = f.note(Injection{At: now, Kind: KindReorder, Group: group, MsgID: m.ID})
	gh.slots[slot] = h
	// Ask for the timer now, not in the goroutine, so that on a virtual
	// clock it exists before the caller can advance time.
	expired := f.clk.After(f.cfg.MaxHold)
	f.releases.Add(1)
	go func() {
		defer f.releases.Done()
		select {
		case <-h.taken:
			return
		case <-expired:
		case <-ctx.Done():
		}
		gh.mu.Lock()
		defer gh.mu.Unlock()
		if gh.slots[slot] != h {
			return // a successor took it meanwhile
		}
		delete(gh.slots, slot)
		f.release(group, h, "")
	}()
}

// release handles a held delivery and completes its journal entry.
func (f *MessageFault) release(group string, h *held, after string) {
	ctx := h.ctx
	if ctx.Err() != nil {
		ctx = context.WithoutCancel(ctx)
	}
	err := f.handle(ctx, group, h.next, h.m)
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.journal.at(h.entry)
	if e == nil {
		return // the journal has dropped the entry; only its count remains
	}
	e.Delay = f.clk.Now().Sub(h.at)
	e.After = after
	if err != nil {
		e.Err = err.Error()
	}
}

// Held is how many deliveries are held back for reordering right now.
func (f *MessageFault) Held() int {
	// Collect the groups first: handler paths take a group's lock, then
	// f.mu (to journal), so f.mu must never be held while taking one.
	f.mu.Lock()
	ghs := make([]*groupHold, 0, len(f.holds))
	for _, gh := range f.holds {
		ghs = append(ghs, gh)
	}
	f.mu.Unlock()
	n := 0
	for _, gh := range ghs {
		gh.mu.Lock()
		n += len(gh.slots)
		gh.mu.Unlock()
	}
	return n
}

// Wait blocks until every held delivery has been released and handled.
// Call it after stopping the consumers (their contexts' end releases what
// is held) and before closing what the handlers use.
func (f *MessageFault) Wait() { f.releases.Wait() }

// Journal returns the injections so far, in order: all of them up to 2000,
// then the first 1000 and the latest 1000, so a long run's memory stays
// flat (JournalDropped says how many are missing between them; Count stays
// exact). A reorder's entry gets its Delay, After and Err on release, unless
// it was dropped while held.
func (f *MessageFault) Journal() []Injection {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.journal.entries()
}

// JournalDropped is how many injections Journal no longer returns: those
// after its first 1000 entries and before its latest 1000.
func (f *MessageFault) JournalDropped() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.journal.dropped()
}

// Count is how many faults of a kind were injected.
func (f *MessageFault) Count(kind string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[kind]
}

// Off switches the fault off until a Window's injection: a run can carry
// it from the start and an experiment's method decide when it bites.
func (f *MessageFault) Off() *MessageFault {
	f.off.Store(true)
	return f
}

// Window is the message fault as a Fault of the given name: injecting it
// switches it on, healing switches it off, so a schedule can hold it for
// an interval like any other fault.
func (f *MessageFault) Window(name string) Fault {
	return FaultFunc(name, func(context.Context) (Heal, error) {
		f.off.Store(false)
		return func(context.Context) error { f.off.Store(true); return nil }, nil
	})
}
