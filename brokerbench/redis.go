package brokerbench

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/redisbus"
)

// redisBare is go-redis used directly, with the commands redisbus sends:
// XADD of the same three fields (id, key, payload), a batch in one
// pipeline; XREADGROUP of 64 entries blocking 100 ms, one XACK per entry
// as a handler per message does.
type redisBare struct {
	addr  string
	names names
	w     Workload
}

func (d *redisBare) library() string { return "go-redis" }

// redisClient is configured as redisbus configures its own: no command
// retries (a retried XADD could append twice), ctx deadlines honoured.
func redisClient(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, ContextTimeoutEnabled: true})
}

func (d *redisBare) setup(ctx context.Context) error {
	if !d.w.Mode.consumes() {
		return nil
	}
	c := redisClient(d.addr)
	defer func() { _ = c.Close() }() // one command
	err := c.XGroupCreateMkStream(ctx, d.names.topic, d.names.group, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("create group %s on %s: %w", d.names.group, d.names.topic, err)
	}
	return nil
}

func (d *redisBare) teardown(ctx context.Context) error {
	return redisDelete(ctx, d.addr, d.names.topic)
}

func redisDelete(ctx context.Context, addr, key string) error {
	c := redisClient(addr)
	defer func() { _ = c.Close() }() // one command
	return c.Del(ctx, key).Err()
}

func (d *redisBare) producer(context.Context) (producer, error) {
	return &redisProducer{c: redisClient(d.addr), stream: d.names.topic}, nil
}

type redisProducer struct {
	c      *redis.Client
	stream string
}

func (p *redisProducer) publish(ctx context.Context, batch []message) error {
	cmds, err := p.c.Pipelined(ctx, func(pl redis.Pipeliner) error {
		for _, m := range batch {
			pl.XAdd(ctx, &redis.XAddArgs{Stream: p.stream, Approx: true,
				Values: []any{redisbus.FieldID, m.id, redisbus.FieldKey, m.key, redisbus.FieldPayload, m.payload}})
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, c := range cmds {
		if err := c.Err(); err != nil {
			return err
		}
	}
	return nil
}

func (p *redisProducer) close() error { return p.c.Close() }

func (d *redisBare) consumer(context.Context) (consumer, error) {
	n := freshNames(Bare) // a unique consumer name in the group
	return &redisConsumer{c: redisClient(d.addr), stream: d.names.topic, group: d.names.group, name: n.topic}, nil
}

type redisConsumer struct {
	c                   *redis.Client
	stream, group, name string
	buf                 []redis.XMessage
	last                string
}

func (c *redisConsumer) next(ctx context.Context) (int64, error) {
	for len(c.buf) == 0 {
		res, err := c.c.XReadGroup(ctx, &redis.XReadGroupArgs{
			Group: c.group, Consumer: c.name, Streams: []string{c.stream, ">"}, Count: 64, Block: 100 * time.Millisecond,
		}).Result()
		if errors.Is(err, redis.Nil) {
			continue // nothing new within Block
		}
		if err != nil {
			return 0, err
		}
		for _, st := range res {
			c.buf = append(c.buf, st.Messages...)
		}
	}
	m := c.buf[0]
	c.buf = c.buf[1:]
	c.last = m.ID
	payload, _ := m.Values[redisbus.FieldPayload].(string)
	return stampString(payload), nil
}

func (c *redisConsumer) ack(ctx context.Context) error {
	return c.c.XAck(ctx, c.stream, c.group, c.last).Err()
}

func (c *redisConsumer) close() error { return c.c.Close() }

// redisEdkit is redisbus with its defaults: Subscribe creates the stream's
// group from its start.
func redisEdkit(addr string, n names, wrap func(bus.Bus) bus.Bus) *busDriver {
	return &busDriver{
		lib: "redisbus", names: n, wrap: wrap,
		open: func(context.Context) (bus.Bus, error) { return redisbus.New(addr) },
		// redisbus's default prefix is empty: the stream key is the topic.
		remove: func(ctx context.Context) error { return redisDelete(ctx, addr, n.topic) },
	}
}
