package brokerbench

import (
	"context"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/amqpbus"
)

// amqpBare is amqp091-go used directly, with amqpbus's topology and
// settings: a durable topic exchange per topic and the group's quorum
// queue bound to it with "#"; persistent messages on a confirm-mode
// channel, a batch published and then every confirm awaited; a
// manual-ack consumer with prefetch 16, acking each delivery.
type amqpBare struct {
	url   string
	names names
	w     Workload
}

func (d *amqpBare) library() string { return "amqp091-go" }

func (d *amqpBare) queue() string { return d.names.topic + "." + d.names.group }

// amqpChannel dials url and opens a channel; closing the connection
// closes the channel too.
func amqpChannel(url string) (*amqp.Connection, *amqp.Channel, error) {
	conn, err := amqp.DialConfig(url, amqp.Config{Dial: amqp.DefaultDial(5 * time.Second)})
	if err != nil {
		return nil, nil, err
	}
	ch, err := conn.Channel()
	if err != nil {
		_ = conn.Close() // never used
		return nil, nil, err
	}
	return conn, ch, nil
}

func (d *amqpBare) setup(context.Context) error {
	conn, ch, err := amqpChannel(d.url)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }() // declarations only
	if err := ch.ExchangeDeclare(d.names.topic, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %s: %w", d.names.topic, err)
	}
	q := d.queue()
	if _, err := ch.QueueDeclare(q, true, false, false, false, amqp.Table{amqp.QueueTypeArg: amqp.QueueTypeQuorum}); err != nil {
		return fmt.Errorf("declare queue %s: %w", q, err)
	}
	if err := ch.QueueBind(q, "#", d.names.topic, false, nil); err != nil {
		return fmt.Errorf("bind queue %s: %w", q, err)
	}
	return nil
}

func (d *amqpBare) teardown(context.Context) error {
	return amqpDelete(d.url, d.names.topic, d.queue())
}

func amqpDelete(url, exchange, queue string) error {
	conn, ch, err := amqpChannel(url)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }() // deletions only
	if _, err := ch.QueueDelete(queue, false, false, false); err != nil {
		return err
	}
	return ch.ExchangeDelete(exchange, false, false)
}

func (d *amqpBare) producer(context.Context) (producer, error) {
	conn, ch, err := amqpChannel(d.url)
	if err != nil {
		return nil, err
	}
	if err := ch.Confirm(false); err != nil {
		_ = conn.Close() // never used
		return nil, err
	}
	return &amqpProducer{conn: conn, ch: ch, exchange: d.names.topic}, nil
}

type amqpProducer struct {
	conn     *amqp.Connection
	ch       *amqp.Channel
	exchange string
	dcs      []*amqp.DeferredConfirmation
}

func (p *amqpProducer) publish(ctx context.Context, batch []message) error {
	p.dcs = p.dcs[:0]
	for _, m := range batch {
		dc, err := p.ch.PublishWithDeferredConfirmWithContext(ctx, p.exchange, m.key, false, false, amqp.Publishing{
			MessageId: m.id, DeliveryMode: amqp.Persistent, Body: m.payload, Headers: amqp.Table{"key": m.key},
		})
		if err != nil {
			return err
		}
		p.dcs = append(p.dcs, dc)
	}
	for _, dc := range p.dcs {
		ok, err := dc.WaitContext(ctx)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("publish %d: nacked by the broker", dc.DeliveryTag)
		}
	}
	return nil
}

func (p *amqpProducer) close() error { return p.conn.Close() }

func (d *amqpBare) consumer(context.Context) (consumer, error) {
	conn, ch, err := amqpChannel(d.url)
	if err != nil {
		return nil, err
	}
	err = ch.Qos(16, 0, false)
	var ds <-chan amqp.Delivery
	if err == nil {
		ds, err = ch.Consume(d.queue(), "", false, false, false, false, nil)
	}
	if err != nil {
		_ = conn.Close() // never used
		return nil, err
	}
	return &amqpConsumer{conn: conn, ds: ds}, nil
}

type amqpConsumer struct {
	conn *amqp.Connection
	ds   <-chan amqp.Delivery
	last amqp.Delivery
}

func (c *amqpConsumer) next(ctx context.Context) (int64, error) {
	select {
	case d, ok := <-c.ds:
		if !ok {
			return 0, errSubscriptionEnded
		}
		c.last = d
		return stamp(d.Body), nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (c *amqpConsumer) ack(context.Context) error { return c.last.Ack(false) }

func (c *amqpConsumer) close() error { return c.conn.Close() }

// amqpEdkit is amqpbus with its defaults (quorum queues, prefetch 16);
// the group's queue is declared before the run, as amqpbus requires of
// groups that must see what is published before they subscribe.
func amqpEdkit(url string, n names, wrap func(bus.Bus) bus.Bus) *busDriver {
	open := func(ctx context.Context) (*amqpbus.Bus, error) { return amqpbus.New(ctx, url) }
	return &busDriver{
		lib: "amqpbus", names: n, wrap: wrap,
		open: func(ctx context.Context) (bus.Bus, error) { return open(ctx) },
		prepare: func(ctx context.Context) error {
			b, err := open(ctx)
			if err != nil {
				return err
			}
			defer func() { _ = b.Close() }() // declarations only
			return b.DeclareGroup(ctx, n.topic, n.group)
		},
		remove: func(context.Context) error { return amqpDelete(url, n.topic, amqpbus.QueueName(n.topic, n.group)) },
	}
}
