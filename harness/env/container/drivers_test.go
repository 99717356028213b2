package container_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/edkit-dev/edkit/harness/env"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"
)

// driver speaks to one kind with its real client. publish returns once the
// broker acknowledged the message; read returns every message; probe makes
// one request on a fresh connection; session keeps a connection open and
// returns a request to run on it.
type driver struct {
	publish func(ctx context.Context, ep env.Endpoint, msg string) error
	read    func(ctx context.Context, ep env.Endpoint) ([]string, error)
	probe   func(ctx context.Context, ep env.Endpoint) error
	session func(ctx context.Context, ep env.Endpoint) (req func(ctx context.Context) error, closeFn func(), err error)
}

var drivers = map[env.Kind]driver{
	env.KindRedis:    redisDriver(),
	env.KindPostgres: postgresDriver(),
	env.KindNATS:     natsDriver(),
	env.KindRabbitMQ: rabbitDriver(),
	env.KindKafka:    kafkaDriver(),
}

func redisDriver() driver {
	const stream = "edkit:stream"
	client := func(ep env.Endpoint) *redis.Client {
		return redis.NewClient(&redis.Options{Addr: ep.Addrs[0], MaxRetries: -1, DialTimeout: 2 * time.Second})
	}
	return driver{
		publish: func(ctx context.Context, ep env.Endpoint, msg string) error {
			c := client(ep)
			defer func() { _ = c.Close() }()
			return c.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: map[string]any{"body": msg}}).Err()
		},
		read: func(ctx context.Context, ep env.Endpoint) ([]string, error) {
			c := client(ep)
			defer func() { _ = c.Close() }()
			xs, err := c.XRange(ctx, stream, "-", "+").Result()
			var out []string
			for _, x := range xs {
				out = append(out, fmt.Sprint(x.Values["body"]))
			}
			return out, err
		},
		probe: func(ctx context.Context, ep env.Endpoint) error {
			c := client(ep)
			defer func() { _ = c.Close() }()
			return c.Ping(ctx).Err()
		},
		session: func(_ context.Context, ep env.Endpoint) (func(context.Context) error, func(), error) {
			c := client(ep)
			return func(ctx context.Context) error { return c.Ping(ctx).Err() }, func() { _ = c.Close() }, nil
		},
	}
}

func postgresDriver() driver {
	conn := func(ctx context.Context, ep env.Endpoint) (*pgx.Conn, error) {
		cfg, err := pgx.ParseConfig(ep.URL)
		if err != nil {
			return nil, err
		}
		cfg.ConnectTimeout = 2 * time.Second
		return pgx.ConnectConfig(ctx, cfg)
	}
	return driver{
		publish: func(ctx context.Context, ep env.Endpoint, msg string) error {
			c, err := conn(ctx, ep)
			if err != nil {
				return err
			}
			defer func() { _ = c.Close(context.Background()) }()
			if _, err := c.Exec(ctx, `CREATE TABLE IF NOT EXISTS events (id bigserial PRIMARY KEY, body text NOT NULL)`); err != nil {
				return err
			}
			_, err = c.Exec(ctx, `INSERT INTO events (body) VALUES ($1)`, msg)
			return err
		},
		read: func(ctx context.Context, ep env.Endpoint) ([]string, error) {
			c, err := conn(ctx, ep)
			if err != nil {
				return nil, err
			}
			defer func() { _ = c.Close(context.Background()) }()
			rows, err := c.Query(ctx, `SELECT body FROM events ORDER BY id`)
			if err != nil {
				return nil, err
			}
			return pgx.CollectRows(rows, pgx.RowTo[string])
		},
		probe: func(ctx context.Context, ep env.Endpoint) error {
			c, err := conn(ctx, ep)
			if err != nil {
				return err
			}
			defer func() { _ = c.Close(context.Background()) }()
			_, err = c.Exec(ctx, `SELECT 1`)
			return err
		},
		session: func(ctx context.Context, ep env.Endpoint) (func(context.Context) error, func(), error) {
			c, err := conn(ctx, ep)
			if err != nil {
				return nil, nil, err
			}
			return func(ctx context.Context) error { _, err := c.Exec(ctx, `SELECT 1`); return err },
				func() {
					cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
					defer cancel()
					_ = c.Close(cctx)
				}, nil
		},
	}
}

func natsDriver() driver {
	const streamName = "EDKIT"
	connect := func(ep env.Endpoint) (*nats.Conn, nats.JetStreamContext, error) {
		nc, err := nats.Connect(ep.URL, nats.Timeout(2*time.Second), nats.NoReconnect())
		if err != nil {
			return nil, nil, err
		}
		js, err := nc.JetStream()
		if err != nil {
			nc.Close()
			return nil, nil, err
		}
		return nc, js, nil
	}
	return driver{
		publish: func(ctx context.Context, ep env.Endpoint, msg string) error {
			nc, js, err := connect(ep)
			if err != nil {
				return err
			}
			defer nc.Close()
			if _, err := js.StreamInfo(streamName, nats.Context(ctx)); errors.Is(err, nats.ErrStreamNotFound) {
				if _, err := js.AddStream(&nats.StreamConfig{Name: streamName, Subjects: []string{"edkit.>"}, Storage: nats.FileStorage}, nats.Context(ctx)); err != nil {
					return err
				}
			} else if err != nil {
				return err
			}
			_, err = js.Publish("edkit.events", []byte(msg), nats.Context(ctx))
			return err
		},
		read: func(ctx context.Context, ep env.Endpoint) ([]string, error) {
			nc, js, err := connect(ep)
			if err != nil {
				return nil, err
			}
			defer nc.Close()
			info, err := js.StreamInfo(streamName, nats.Context(ctx))
			if err != nil {
				return nil, err
			}
			var out []string
			for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
				m, err := js.GetMsg(streamName, seq, nats.Context(ctx))
				if err != nil {
					return out, err
				}
				out = append(out, string(m.Data))
			}
			return out, nil
		},
		probe: func(ctx context.Context, ep env.Endpoint) error {
			nc, js, err := connect(ep)
			if err != nil {
				return err
			}
			defer nc.Close()
			_, err = js.AccountInfo(nats.Context(ctx))
			return err
		},
		session: func(_ context.Context, ep env.Endpoint) (func(context.Context) error, func(), error) {
			nc, _, err := connect(ep)
			if err != nil {
				return nil, nil, err
			}
			return nc.FlushWithContext, nc.Close, nil
		},
	}
}

func rabbitDriver() driver {
	const queue = "edkit.q"
	dial := func(ctx context.Context, ep env.Endpoint) (*amqp.Connection, *amqp.Channel, error) {
		conn, err := amqp.DialConfig(ep.URL, amqp.Config{Dial: func(network, addr string) (net.Conn, error) {
			d := net.Dialer{Timeout: 2 * time.Second}
			c, err := d.DialContext(ctx, network, addr)
			if err == nil {
				// The handshake has no context of its own: bound it.
				if dl, ok := ctx.Deadline(); ok {
					_ = c.SetDeadline(dl)
				}
			}
			return c, err
		}})
		if err != nil {
			return nil, nil, err
		}
		ch, err := conn.Channel()
		if err != nil {
			_ = conn.Close()
			return nil, nil, err
		}
		if _, err := ch.QueueDeclare(queue, true, false, false, false, nil); err != nil {
			_ = conn.Close()
			return nil, nil, err
		}
		return conn, ch, nil
	}
	return driver{
		publish: func(ctx context.Context, ep env.Endpoint, msg string) error {
			conn, ch, err := dial(ctx, ep)
			if err != nil {
				return err
			}
			defer func() { _ = conn.Close() }()
			if err := ch.Confirm(false); err != nil {
				return err
			}
			dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", queue, true, false,
				amqp.Publishing{DeliveryMode: amqp.Persistent, Body: []byte(msg)})
			if err != nil {
				return err
			}
			ok, err := dc.WaitContext(ctx)
			if err == nil && !ok {
				err = errors.New("broker nacked the message")
			}
			return err
		},
		read: func(ctx context.Context, ep env.Endpoint) ([]string, error) {
			conn, ch, err := dial(ctx, ep)
			if err != nil {
				return nil, err
			}
			// Unacked messages go back to the queue when the connection closes.
			defer func() { _ = conn.Close() }()
			var out []string
			for {
				d, ok, err := ch.Get(queue, false)
				if err != nil || !ok {
					return out, err
				}
				out = append(out, string(d.Body))
			}
		},
		probe: func(ctx context.Context, ep env.Endpoint) error {
			conn, _, err := dial(ctx, ep)
			if err != nil {
				return err
			}
			return conn.Close()
		},
		session: func(ctx context.Context, ep env.Endpoint) (func(context.Context) error, func(), error) {
			conn, ch, err := dial(ctx, ep)
			if err != nil {
				return nil, nil, err
			}
			if err := ch.Confirm(false); err != nil {
				_ = conn.Close()
				return nil, nil, err
			}
			req := func(ctx context.Context) error {
				dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", queue+".probe", false, false, amqp.Publishing{Body: []byte("probe")})
				if err != nil {
					return err
				}
				_, err = dc.WaitContext(ctx)
				return err
			}
			return req, func() { _ = conn.Close() }, nil
		},
	}
}

func kafkaDriver() driver {
	const topic = "edkit-events"
	writer := func(ep env.Endpoint) *kafka.Writer {
		return &kafka.Writer{Addr: kafka.TCP(ep.Addrs...), Topic: topic, RequiredAcks: kafka.RequireAll,
			AllowAutoTopicCreation: true, BatchTimeout: time.Millisecond, MaxAttempts: 20,
			Transport: &kafka.Transport{Dial: (&net.Dialer{Timeout: 2 * time.Second}).DialContext}}
	}
	// createTopic creates the topic explicitly: kfake persists a topic
	// created by CreateTopics at once, but an auto-created one only at a
	// clean shutdown, so a killed kfake would forget it.
	createTopic := func(ctx context.Context, ep env.Endpoint) error {
		d := kafka.Dialer{Timeout: 2 * time.Second}
		conn, err := d.DialContext(ctx, "tcp", ep.Addrs[0])
		if err != nil {
			return err
		}
		defer func() { _ = conn.Close() }()
		err = conn.CreateTopics(kafka.TopicConfig{Topic: topic, NumPartitions: 1, ReplicationFactor: 1})
		if errors.Is(err, kafka.TopicAlreadyExists) {
			return nil
		}
		return err
	}
	return driver{
		publish: func(ctx context.Context, ep env.Endpoint, msg string) error {
			if err := createTopic(ctx, ep); err != nil {
				return err
			}
			w := writer(ep)
			defer func() { _ = w.Close() }()
			return w.WriteMessages(ctx, kafka.Message{Value: []byte(msg)})
		},
		read: func(ctx context.Context, ep env.Endpoint) ([]string, error) {
			d := kafka.Dialer{Timeout: 2 * time.Second}
			conn, err := d.DialLeader(ctx, "tcp", ep.Addrs[0], topic, 0)
			if err != nil {
				return nil, err
			}
			defer func() { _ = conn.Close() }()
			if dl, ok := ctx.Deadline(); ok {
				_ = conn.SetDeadline(dl)
			}
			first, last, err := conn.ReadOffsets()
			if err != nil {
				return nil, err
			}
			if _, err := conn.Seek(first, kafka.SeekAbsolute); err != nil {
				return nil, err
			}
			var out []string
			for off := first; off < last; off++ {
				m, err := conn.ReadMessage(1 << 20)
				if err != nil {
					return out, err
				}
				out = append(out, string(m.Value))
			}
			return out, nil
		},
		probe: func(ctx context.Context, ep env.Endpoint) error {
			d := kafka.Dialer{Timeout: 2 * time.Second}
			conn, err := d.DialContext(ctx, "tcp", ep.Addrs[0])
			if err != nil {
				return err
			}
			defer func() { _ = conn.Close() }()
			if dl, ok := ctx.Deadline(); ok {
				_ = conn.SetDeadline(dl)
			}
			_, err = conn.Brokers()
			return err
		},
		session: func(_ context.Context, ep env.Endpoint) (func(context.Context) error, func(), error) {
			w := writer(ep)
			req := func(ctx context.Context) error { return w.WriteMessages(ctx, kafka.Message{Value: []byte("probe")}) }
			return req, func() { _ = w.Close() }, nil
		},
	}
}
