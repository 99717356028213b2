package natsbus

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/edkit-dev/edkit/reference/bus"
)

// DLQReasonMaxDeliveries is the bus.HeaderDLQReason of messages routed to
// the dead-letter topic because they reached MaxDeliver.
const DLQReasonMaxDeliveries = "natsbus: max deliveries reached"

// maxDeliveriesAdvisory is the part of JetStream's
// io.nats.jetstream.advisory.v1.max_deliver event that routing needs.
type maxDeliveriesAdvisory struct {
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
}

// watchMaxDeliveries subscribes, once per stream and consumer, to the
// MAX_DELIVERIES advisory and copies each message named there to the
// dead-letter topic. A queue subscription makes one bus of the group
// handle each advisory.
func (b *Bus) watchMaxDeliveries(st jetstream.Stream, consumer, topic, group string) error {
	if b.cfg.dlqTopic == "" || b.cfg.maxDeliver == 0 {
		return nil
	}
	stream := b.StreamName(topic)
	subject := "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + stream + "." + consumer
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return bus.ErrClosed
	}
	if _, ok := b.dlqSubs[subject]; ok {
		return nil
	}
	sub, err := b.nc.QueueSubscribe(subject, "edkit-natsbus-dlq", func(m *nats.Msg) {
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return
		}
		b.bg.Add(1)
		b.mu.Unlock()
		defer b.bg.Done()
		if err := b.deadLetter(st, topic, group, m.Data); err != nil && b.cfg.onError != nil {
			b.cfg.onError(err)
		}
	})
	if err != nil {
		return fmt.Errorf("natsbus: watch max deliveries of %s/%s: %w", topic, group, err)
	}
	b.dlqSubs[subject] = sub
	return nil
}

// deadLetter copies the stream message an advisory names to the DLQ topic.
func (b *Bus) deadLetter(st jetstream.Stream, topic, group string, advisory []byte) error {
	var adv maxDeliveriesAdvisory
	if err := json.Unmarshal(advisory, &adv); err != nil {
		return fmt.Errorf("natsbus: max deliveries advisory: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.opTimeout)
	defer cancel()
	go func() { // Close must not wait out the timeout
		select {
		case <-b.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	raw, err := st.GetMsg(ctx, adv.StreamSeq)
	if err != nil {
		return fmt.Errorf("natsbus: dead-letter %s seq %d: get: %w", topic, adv.StreamSeq, err)
	}
	m := fromNATS(b.cfg.dlqTopic, raw.Header, raw.Data)
	m.SetHeader(bus.HeaderDLQReason, DLQReasonMaxDeliveries)
	m.SetHeader(bus.HeaderDLQAttempts, strconv.FormatUint(adv.Deliveries, 10))
	m.SetHeader(bus.HeaderDLQOriginalTopic, topic)
	m.SetHeader(bus.HeaderDLQGroup, group)
	if err := b.Publish(ctx, m); err != nil {
		return fmt.Errorf("natsbus: dead-letter %s seq %d to %s: %w", topic, adv.StreamSeq, b.cfg.dlqTopic, err)
	}
	return nil
}
