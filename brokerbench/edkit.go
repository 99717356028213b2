package brokerbench

import (
	"context"

	"github.com/edkit-dev/edkit/reference/bus"
)

// busDriver is the edkit client: a bus backend used as an edkit user uses
// it, one Bus per producer and per consumer. The broker-specific parts are
// how a Bus opens, what is prepared before the run and what is deleted
// after it.
type busDriver struct {
	lib     string
	names   names
	open    func(ctx context.Context) (bus.Bus, error)
	prepare func(ctx context.Context) error // may be nil
	remove  func(ctx context.Context) error
	wrap    func(bus.Bus) bus.Bus // may be nil
}

func (d *busDriver) library() string { return d.lib }

func (d *busDriver) setup(ctx context.Context) error {
	if d.prepare == nil {
		return nil
	}
	return d.prepare(ctx)
}

func (d *busDriver) teardown(ctx context.Context) error { return d.remove(ctx) }

func (d *busDriver) bus(ctx context.Context) (bus.Bus, error) {
	b, err := d.open(ctx)
	if err != nil {
		return nil, err
	}
	if d.wrap != nil {
		b = d.wrap(b)
	}
	return b, nil
}

func (d *busDriver) producer(ctx context.Context) (producer, error) {
	b, err := d.bus(ctx)
	if err != nil {
		return nil, err
	}
	return &busProducer{b: b, topic: d.names.topic}, nil
}

func (d *busDriver) consumer(ctx context.Context) (consumer, error) {
	b, err := d.bus(ctx)
	if err != nil {
		return nil, err
	}
	ch, err := b.Subscribe(ctx, d.names.topic, d.names.group)
	if err != nil {
		_ = b.Close() // never used
		return nil, err
	}
	return &busConsumer{b: b, ch: ch}, nil
}

type busProducer struct {
	b     bus.Bus
	topic string
	msgs  []bus.Message
	ptrs  []*bus.Message
}

func (p *busProducer) publish(ctx context.Context, batch []message) error {
	if len(p.msgs) < len(batch) {
		p.msgs = make([]bus.Message, len(batch))
		p.ptrs = make([]*bus.Message, len(batch))
		for i := range p.msgs {
			p.ptrs[i] = &p.msgs[i]
		}
	}
	for i, m := range batch {
		p.msgs[i] = bus.Message{ID: m.id, Topic: p.topic, Key: m.key, Payload: m.payload}
	}
	return p.b.Publish(ctx, p.ptrs[:len(batch)]...)
}

func (p *busProducer) close() error { return p.b.Close() }

type busConsumer struct {
	b    bus.Bus
	ch   <-chan bus.Delivery
	last bus.Delivery
}

func (c *busConsumer) next(ctx context.Context) (int64, error) {
	select {
	case d, ok := <-c.ch:
		if !ok {
			return 0, errSubscriptionEnded
		}
		c.last = d
		return stamp(d.Message().Payload), nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (c *busConsumer) ack(ctx context.Context) error { return c.last.Ack(ctx) }

func (c *busConsumer) close() error { return c.b.Close() }
