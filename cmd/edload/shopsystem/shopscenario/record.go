package shopscenario

import (
	"context"
	"sync"
	"time"

	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/shop"
)

// consumers names the groups that consume each shop topic: a run is
// quiescent when each has handled every message published to its topic.
var consumers = map[string][]string{
	shop.TopicCommands: {shop.GroupCommands},
	shop.TopicEvents:   {shop.GroupSaga, shop.GroupProjection},
}

// recorder keeps the transcript and the accounting that tells when a run
// is quiescent: every message published to a consumed topic has been
// handled by every group consuming it, and no handler is running.
type recorder struct {
	start time.Time

	mu        sync.Mutex
	entries   []Entry
	inflight  int
	last      time.Time
	published map[string]map[string]int // topic → message ID → publishes
	handled   map[string]map[string]int // group → message ID → completed deliveries
}

func newRecorder(start time.Time) *recorder {
	return &recorder{start: start, last: start, published: map[string]map[string]int{}, handled: map[string]map[string]int{}}
}

func (r *recorder) addLocked(e Entry) int {
	now := time.Now()
	r.last = now
	e.Seq = len(r.entries) + 1
	e.At = now.Sub(r.start)
	r.entries = append(r.entries, e)
	return len(r.entries) - 1
}

// send notes a message the scenario itself published.
func (r *recorder) send(topic, typ, id, key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addLocked(Entry{Kind: KindSend, Group: "scenario", Topic: topic, Type: typ, ID: id, Key: key})
}

// wrap is the service's Config.Wrap: outermost around each group's handler,
// so it sees every broker delivery once, retries included in one entry.
func (r *recorder) wrap(group string, h bus.Handler) bus.Handler {
	return func(ctx context.Context, m *bus.Message) error {
		r.mu.Lock()
		i := r.addLocked(Entry{Kind: KindDeliver, Group: group, Topic: m.Topic, Type: m.Header(bus.HeaderType), ID: m.ID, Key: m.Key, Result: "running"})
		r.inflight++
		r.mu.Unlock()

		err := h(ctx, m)

		r.mu.Lock()
		defer r.mu.Unlock()
		r.inflight--
		r.last = time.Now()
		if err != nil {
			r.entries[i].Result = "error: " + err.Error()
		} else {
			r.entries[i].Result = "ok"
		}
		if r.handled[group] == nil {
			r.handled[group] = map[string]int{}
		}
		r.handled[group][m.ID]++
		return err
	}
}

// deadLetter is the service's Config.OnDeadLetter.
func (r *recorder) deadLetter(_ context.Context, group string, m *bus.Message, reason string, attempts int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addLocked(Entry{Kind: KindDeadLetter, Group: group, Topic: m.Header(bus.HeaderDLQOriginalTopic), Type: m.Header(bus.HeaderType),
		ID: m.ID, Key: m.Key, Result: reason, Attempts: attempts})
}

func (r *recorder) publishing(msgs []*bus.Message, delta int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last = time.Now()
	for _, m := range msgs {
		if r.published[m.Topic] == nil {
			r.published[m.Topic] = map[string]int{}
		}
		r.published[m.Topic][m.ID] += delta
	}
}

// quiescent reports whether nothing is running, every published message
// was handled by each group consuming its topic, and nothing happened for
// the quiet window.
func (r *recorder) quiescent(quiet time.Duration) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.inflight > 0 || time.Since(r.last) < quiet {
		return false
	}
	for topic, groups := range consumers {
		for id, n := range r.published[topic] {
			for _, g := range groups {
				if r.handled[g][id] < n {
					return false
				}
			}
		}
	}
	return true
}

func (r *recorder) transcript() Transcript {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append(Transcript(nil), r.entries...)
}

// recordingBus counts every publish before it happens, so a message is
// accounted for before any consumer can see it.
type recordingBus struct {
	bus.Bus
	rec *recorder
}

func (b *recordingBus) Publish(ctx context.Context, msgs ...*bus.Message) error {
	b.rec.publishing(msgs, 1)
	err := b.Bus.Publish(ctx, msgs...)
	if err != nil {
		b.rec.publishing(msgs, -1)
	}
	return err
}
