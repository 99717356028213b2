package chaos

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/edkit-dev/edkit/harness/clock"
	"github.com/edkit-dev/edkit/reference/bus"
)

// Fault kinds a MessageFault injects.
const (
	KindDuplicate = "duplicate"
	KindDelay     = "delay"
)

// MessageFaultConfig says which fraction of deliveries to disturb.
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
}

// Validate reports every problem at once.
func (c MessageFaultConfig) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    float64
	}{{"duplicate", c.Duplicate}, {"delay", c.Delay}} {
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
	return errors.Join(errs...)
}

// Injection is one fault the journal recorded.
type Injection struct {
	// At is when the fault was injected, on the fault's clock.
	At    time.Time     `json:"at"`
	Kind  string        `json:"kind"`
	Group string        `json:"group"`
	MsgID string        `json:"msg"`
	Delay time.Duration `json:"delay,omitempty"`
}

// MessageFault is a message-level fault: bus middleware that duplicates and
// delays a seeded fraction of deliveries. It plugs in outside the consumer's
// recording middleware, so the history sees a duplicate exactly as it would
// see a broker's redelivery.
type MessageFault struct {
	cfg MessageFaultConfig
	clk clock.Clock

	mu      sync.Mutex
	journal []Injection
	counts  map[string]int
}

// NewMessageFault validates cfg. A nil clk means the wall clock.
func NewMessageFault(cfg MessageFaultConfig, clk clock.Clock) (*MessageFault, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if clk == nil {
		clk = clock.Real{}
	}
	return &MessageFault{cfg: cfg, clk: clk, counts: map[string]int{}}, nil
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

func (f *MessageFault) note(in Injection) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.journal = append(f.journal, in)
	f.counts[in.Kind]++
}

// Middleware returns the fault for one consumer group.
func (f *MessageFault) Middleware(group string) bus.Middleware {
	return func(next bus.Handler) bus.Handler {
		return func(ctx context.Context, m *bus.Message) error {
			if f.cfg.Delay > 0 && f.roll("delay", group, m.ID) < f.cfg.Delay {
				d := time.Duration(f.roll("delay-len", group, m.ID) * float64(f.cfg.MaxDelay))
				f.note(Injection{At: f.clk.Now(), Kind: KindDelay, Group: group, MsgID: m.ID, Delay: d})
				if err := f.clk.Sleep(ctx, d); err != nil {
					return err
				}
			}
			if err := next(ctx, m); err != nil {
				return err
			}
			if f.cfg.Duplicate > 0 && f.roll("duplicate", group, m.ID) < f.cfg.Duplicate {
				f.note(Injection{At: f.clk.Now(), Kind: KindDuplicate, Group: group, MsgID: m.ID})
				dup := m.Clone()
				dup.SetHeader(bus.HeaderAttempt, strconv.Itoa(2))
				return next(ctx, dup)
			}
			return nil
		}
	}
}

// Journal returns every injection so far, in order.
func (f *MessageFault) Journal() []Injection {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Injection(nil), f.journal...)
}

// Count is how many faults of a kind were injected.
func (f *MessageFault) Count(kind string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[kind]
}
