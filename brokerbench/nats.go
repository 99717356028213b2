package brokerbench

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/natsbus"
)

// natsBare is nats.go's JetStream API used directly, with natsbus's
// settings: a file-storage stream with a 2 min duplicate window and a
// Nats-Msg-Id on every message, async publishes awaiting every PubAck; a
// durable pull consumer (explicit acks, 1000 pending) read through the
// Messages iterator, 64 per pull, each message double-acked (the server
// confirms the ack) as natsbus acks.
type natsBare struct {
	url   string
	names names
	w     Workload
}

func (d *natsBare) library() string { return "nats.go" }

func (d *natsBare) subject() string { return "bare." + d.names.topic }
func (d *natsBare) stream() string  { return "BARE_" + d.names.topic }

func natsConnect(url string) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := nats.Connect(url, nats.Name("edkit-brokerbench"))
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

func (d *natsBare) setup(ctx context.Context) error {
	nc, js, err := natsConnect(d.url)
	if err != nil {
		return err
	}
	defer nc.Close()
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: d.stream(), Subjects: []string{d.subject()}, Retention: jetstream.LimitsPolicy,
		Storage: jetstream.FileStorage, Replicas: 1, Duplicates: 2 * time.Minute,
	})
	if err != nil {
		return fmt.Errorf("create stream %s: %w", d.stream(), err)
	}
	if !d.w.Mode.consumes() {
		return nil
	}
	_, err = st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: d.names.group, DeliverPolicy: jetstream.DeliverAllPolicy, AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: 30 * time.Second, MaxDeliver: -1, MaxAckPending: 1000,
	})
	if err != nil {
		return fmt.Errorf("create consumer %s: %w", d.names.group, err)
	}
	return nil
}

func (d *natsBare) teardown(ctx context.Context) error {
	return natsDeleteStream(ctx, d.url, d.stream())
}

func natsDeleteStream(ctx context.Context, url, stream string) error {
	nc, js, err := natsConnect(url)
	if err != nil {
		return err
	}
	defer nc.Close()
	return js.DeleteStream(ctx, stream)
}

func (d *natsBare) producer(context.Context) (producer, error) {
	nc, js, err := natsConnect(d.url)
	if err != nil {
		return nil, err
	}
	return &natsProducer{nc: nc, js: js, subject: d.subject()}, nil
}

type natsProducer struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	subject string
	futs    []jetstream.PubAckFuture
}

func (p *natsProducer) publish(ctx context.Context, batch []message) error {
	p.futs = p.futs[:0]
	for _, m := range batch {
		f, err := p.js.PublishMsgAsync(&nats.Msg{Subject: p.subject, Data: m.payload,
			Header: nats.Header{jetstream.MsgIDHeader: []string{m.id}, "key": []string{m.key}}})
		if err != nil {
			return err
		}
		p.futs = append(p.futs, f)
	}
	for _, f := range p.futs {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (p *natsProducer) close() error {
	p.nc.Close()
	return nil
}

func (d *natsBare) consumer(ctx context.Context) (consumer, error) {
	nc, js, err := natsConnect(d.url)
	if err != nil {
		return nil, err
	}
	cons, err := js.Consumer(ctx, d.stream(), d.names.group)
	if err == nil {
		var it jetstream.MessagesContext
		if it, err = cons.Messages(jetstream.PullMaxMessages(64)); err == nil {
			return &natsConsumer{nc: nc, it: it}, nil
		}
	}
	nc.Close()
	return nil, err
}

type natsConsumer struct {
	nc   *nats.Conn
	it   jetstream.MessagesContext
	last jetstream.Msg
}

func (c *natsConsumer) next(ctx context.Context) (int64, error) {
	m, err := c.it.Next(jetstream.NextContext(ctx))
	if err != nil {
		return 0, err
	}
	c.last = m
	return stamp(m.Data()), nil
}

func (c *natsConsumer) ack(ctx context.Context) error { return c.last.DoubleAck(ctx) }

func (c *natsConsumer) close() error {
	c.it.Stop()
	c.nc.Close()
	return nil
}

// natsEdkit is natsbus with its defaults: it creates the stream and the
// durable consumer on first use.
func natsEdkit(url string, n names, wrap func(bus.Bus) bus.Bus) *busDriver {
	var stream string
	open := func(context.Context) (*natsbus.Bus, error) { return natsbus.New(url) }
	return &busDriver{
		lib: "natsbus", names: n, wrap: wrap,
		open: func(ctx context.Context) (bus.Bus, error) { return open(ctx) },
		prepare: func(ctx context.Context) error {
			b, err := open(ctx)
			if err != nil {
				return err
			}
			stream = b.StreamName(n.topic)
			return b.Close()
		},
		remove: func(ctx context.Context) error { return natsDeleteStream(ctx, url, stream) },
	}
}
