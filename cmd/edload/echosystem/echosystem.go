// Package echosystem is the smallest system edload can run: each
// operation is one message on one topic, consumed by one group that
// deduplicates it and records one effect. Its own state is bounded (a
// windowed inbox, trackers of what is in flight), so a run of it measures
// edkit itself — load generation, recording, the broker, the checks — and
// is the baseline beside which a real system's figures are read.
package echosystem

import (
	"context"
	"sync"
	"time"

	"github.com/edkit-dev/edkit/harness"
	"github.com/edkit-dev/edkit/reference/bus"
)

// Name is the system's name on the command line.
const Name = "echo"

// Topic and Group are the one topic and the one consumer group.
const (
	Topic = "echo"
	Group = "echo-worker"
)

// System is the echo system.
type System struct{}

// New returns the echo system.
func New() System { return System{} }

// Name returns "echo".
func (System) Name() string { return Name }

// Topics is the one topic.
func (System) Topics() []string { return []string{Topic} }

// Start wires the consumer on env.
func (System) Start(_ context.Context, env *harness.Env) (harness.Instance, error) {
	return &instance{env: env, inbox: newWindow(1 << 16)}, nil
}

type instance struct {
	env   *harness.Env
	inbox *window
	// sending serialises the publishes of one key, as one producer per key
	// would: the load's workers send concurrently.
	sending harness.KeyLocks
}

// Run consumes until ctx is done.
func (in *instance) Run(ctx context.Context) error {
	err := bus.Consume(ctx, in.env.Bus, Topic, Group, in.env.Consumer(Group, in.handle))
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (in *instance) handle(ctx context.Context, m *bus.Message) error {
	if in.env.Dedup && !in.inbox.add(m.ID) {
		return nil
	}
	in.env.Effect(ctx, "echo")
	now := time.Now()
	in.env.Visible.Done(m.ID, now)
	in.env.Settled.Done(m.ID, now)
	return nil
}

// Send publishes one message for the operation.
func (in *instance) Send(ctx context.Context, op harness.Op) error {
	id := "e-" + itoa(op.Seq)
	in.env.Visible.Start(id, op.Intended)
	in.env.Settled.Start(id, op.Intended)
	defer in.sending.Lock(op.Key)()
	return in.env.Bus.Publish(ctx, &bus.Message{ID: id, Topic: Topic, Key: op.Key, Payload: op.Payload})
}

// Consumers is the one group on the one topic.
func (in *instance) Consumers() map[string][]string { return map[string][]string{Topic: {Group}} }

// LatencyNames says what the latencies measure.
func (in *instance) LatencyNames() (visible, settled string) {
	return "end-to-end (intended → handled)", "settled (intended → handled)"
}

func itoa(n uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// window remembers the last message IDs seen, in two generations of up to
// size each: a redelivery arrives within moments of the first delivery,
// and a run of any length keeps at most 2×size IDs.
type window struct {
	mu        sync.Mutex
	size      int
	cur, prev map[string]struct{}
}

func newWindow(size int) *window {
	return &window{size: size, cur: make(map[string]struct{}, size)}
}

// add records id and reports whether it was new.
func (w *window) add(id string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.cur[id]; ok {
		return false
	}
	if _, ok := w.prev[id]; ok {
		return false
	}
	if len(w.cur) >= w.size {
		w.prev, w.cur = w.cur, make(map[string]struct{}, w.size)
	}
	w.cur[id] = struct{}{}
	return true
}
