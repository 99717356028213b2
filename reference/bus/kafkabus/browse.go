package kafkabus

import (
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/edkit-dev/edkit/reference/bus"
)

var _ bus.Browser = (*Bus)(nil)

// Browse implements bus.Browser: it returns up to limit messages of topic
// that group has not committed, reading each partition from the group's
// committed offset (or its first offset) to its high watermark with
// groupless readers, so the group does not move and nothing is settled.
// bus.Peek uses it to list a dead-letter topic past each partition's head,
// which a subscription (one unsettled delivery per partition by default)
// could not show.
func (b *Bus) Browse(ctx context.Context, topic, group string, limit int) ([]*bus.Message, error) {
	cl := &kafka.Client{Addr: kafka.TCP(b.brokers...), Timeout: 10 * time.Second}
	md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, err
	}
	var parts []int
	for _, t := range md.Topics {
		if t.Name != topic || t.Error != nil {
			continue
		}
		for _, p := range t.Partitions {
			parts = append(parts, p.ID)
		}
	}
	if len(parts) == 0 {
		return nil, nil // no such topic: nothing was dead-lettered
	}
	committed, err := cl.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
	if err != nil {
		return nil, fmt.Errorf("offsets of group %s: %w", group, err)
	}
	reqs := make([]kafka.OffsetRequest, 0, 2*len(parts))
	for _, p := range parts {
		reqs = append(reqs, kafka.FirstOffsetOf(p), kafka.LastOffsetOf(p))
	}
	ends, err := cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("offsets of %s: %w", topic, err)
	}
	start := map[int]int64{}
	for _, po := range ends.Topics[topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("offsets of %s/%d: %w", topic, po.Partition, po.Error)
		}
		start[po.Partition] = po.FirstOffset
	}
	for _, pc := range committed.Topics[topic] {
		if pc.Error == nil && pc.CommittedOffset >= 0 {
			start[pc.Partition] = pc.CommittedOffset
		}
	}
	var out []*bus.Message
	for _, po := range ends.Topics[topic] {
		msgs, err := b.readRange(ctx, topic, po.Partition, start[po.Partition], po.LastOffset)
		if err != nil {
			return nil, err
		}
		out = append(out, msgs...)
		if limit > 0 && len(out) >= limit {
			return out[:limit], nil
		}
	}
	return out, nil
}

// readRange reads partition offsets [from, to) of topic.
func (b *Bus) readRange(ctx context.Context, topic string, partition int, from, to int64) ([]*bus.Message, error) {
	if from >= to {
		return nil, nil
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: b.brokers, Topic: topic, Partition: partition,
		MinBytes: 1, MaxBytes: 10e6, MaxWait: 100 * time.Millisecond})
	defer func() { _ = r.Close() }()
	if err := r.SetOffset(from); err != nil {
		return nil, err
	}
	var out []*bus.Message
	for {
		km, err := r.FetchMessage(ctx)
		if err != nil {
			return nil, fmt.Errorf("read %s/%d@%d: %w", topic, partition, from, err)
		}
		out = append(out, fromKafka(km))
		if km.Offset >= to-1 {
			return out, nil
		}
	}
}
