package container

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/reference/backoff"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"
)

// recipe is how one kind runs in a container, for both image sets.
type recipe struct {
	// port is the container port clients speak to.
	port string
	// official and local are the default images of each set.
	official, local string
	// configure returns the environment and command for the container,
	// given the image set, the host port published 1:1, and the spec.
	configure func(local bool, hostPort int, spec env.ComponentSpec) (map[string]string, []string)
	// endpoint is how clients reach it through 127.0.0.1:hostPort.
	endpoint func(hostPort int) env.Endpoint
	// ping is one protocol handshake; nil means ready.
	ping func(ctx context.Context, ep env.Endpoint) error
}

func loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// recipes holds every supported kind.
var recipes = map[env.Kind]recipe{
	env.KindRedis: {
		port:     "6379/tcp",
		official: "redis:7.2.5",
		local:    "edkit/redis:local",
		configure: func(local bool, _ int, spec env.ComponentSpec) (map[string]string, []string) {
			var args []string
			if spec.Durable {
				args = []string{"--appendonly", "yes", "--appendfsync", "always"}
			}
			if local {
				return nil, args // the entrypoint adds bind, dir, port
			}
			return nil, append([]string{"redis-server", "--protected-mode", "no"}, args...)
		},
		endpoint: func(p int) env.Endpoint {
			return env.Endpoint{Addrs: []string{loopback(p)}, URL: "redis://" + loopback(p) + "/0"}
		},
		ping: func(ctx context.Context, ep env.Endpoint) error {
			c := redis.NewClient(&redis.Options{Addr: ep.Addrs[0], MaxRetries: -1, DialTimeout: 2 * time.Second})
			defer func() { _ = c.Close() }()
			return c.Ping(ctx).Err()
		},
	},
	env.KindPostgres: {
		port:     "5432/tcp",
		official: "postgres:16.4",
		local:    "edkit/postgres:local",
		configure: func(bool, int, env.ComponentSpec) (map[string]string, []string) {
			// Default durability (fsync on) either way; trust auth because
			// the server is reachable only through 127.0.0.1.
			return map[string]string{"POSTGRES_HOST_AUTH_METHOD": "trust", "POSTGRES_USER": "postgres"}, nil
		},
		endpoint: func(p int) env.Endpoint {
			return env.Endpoint{Addrs: []string{loopback(p)}, URL: "postgres://postgres@" + loopback(p) + "/postgres?sslmode=disable"}
		},
		ping: func(ctx context.Context, ep env.Endpoint) error {
			c, err := pgx.Connect(ctx, ep.URL)
			if err != nil {
				return err
			}
			defer func() { _ = c.Close(context.Background()) }()
			var one int
			return c.QueryRow(ctx, "SELECT 1").Scan(&one)
		},
	},
	env.KindNATS: {
		port:     "4222/tcp",
		official: "nats:2.10.18",
		local:    "edkit/nats:local",
		configure: func(bool, int, env.ComponentSpec) (map[string]string, []string) {
			// JetStream with its file store in /data, for both sets; a
			// stream's own storage type decides what survives a restart.
			return nil, []string{"--jetstream", "--store_dir", "/data", "--addr", "0.0.0.0", "--port", "4222"}
		},
		endpoint: func(p int) env.Endpoint {
			return env.Endpoint{Addrs: []string{loopback(p)}, URL: "nats://" + loopback(p)}
		},
		ping: func(ctx context.Context, ep env.Endpoint) error {
			nc, err := nats.Connect(ep.URL, nats.Timeout(2*time.Second), nats.NoReconnect())
			if err != nil {
				return err
			}
			defer nc.Close()
			js, err := nc.JetStream(nats.Context(ctx))
			if err != nil {
				return err
			}
			_, err = js.AccountInfo(nats.Context(ctx))
			return err
		},
	},
	env.KindRabbitMQ: {
		port:     "5672/tcp",
		official: "rabbitmq:3.13.7",
		local:    "edkit/rabbitmq:local",
		configure: func(bool, int, env.ComponentSpec) (map[string]string, []string) {
			// The official image lets guest in from any address already.
			return nil, nil
		},
		endpoint: func(p int) env.Endpoint {
			return env.Endpoint{Addrs: []string{loopback(p)}, URL: "amqp://guest:guest@" + loopback(p) + "/"}
		},
		ping: func(ctx context.Context, ep env.Endpoint) error {
			conn, err := amqp.DialConfig(ep.URL, amqp.Config{Dial: func(network, addr string) (net.Conn, error) {
				d := net.Dialer{Timeout: 2 * time.Second}
				return d.DialContext(ctx, network, addr)
			}})
			if err != nil {
				return err
			}
			defer func() { _ = conn.Close() }()
			ch, err := conn.Channel()
			if err != nil {
				return err
			}
			return ch.Close()
		},
	},
	env.KindKafka: {
		port:     "9092/tcp",
		official: "apache/kafka:3.8.0",
		local:    "edkit/kafka:local",
		configure: func(local bool, hostPort int, spec env.ComponentSpec) (map[string]string, []string) {
			partitions := spec.Options["partitions"]
			if partitions == "" {
				partitions = "1"
			}
			adv := loopback(hostPort)
			if local {
				e := map[string]string{"EDKIT_KAFKA_ADVERTISE": adv}
				if spec.Durable {
					e["EDKIT_KAFKA_DATA"] = "/data"
				}
				return e, []string{"-partitions", partitions}
			}
			// Any KAFKA_ variable replaces the image's default config, so
			// give it a whole single-node KRaft configuration.
			e := map[string]string{
				"KAFKA_NODE_ID":                                  "1",
				"KAFKA_PROCESS_ROLES":                            "broker,controller",
				"KAFKA_LISTENERS":                                "PLAINTEXT://:9092,CONTROLLER://:9093",
				"KAFKA_ADVERTISED_LISTENERS":                     "PLAINTEXT://" + adv,
				"KAFKA_CONTROLLER_LISTENER_NAMES":                "CONTROLLER",
				"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP":           "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
				"KAFKA_CONTROLLER_QUORUM_VOTERS":                 "1@localhost:9093",
				"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR":         "1",
				"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
				"KAFKA_TRANSACTION_STATE_LOG_MIN_ISR":            "1",
				"KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS":         "0",
				"KAFKA_NUM_PARTITIONS":                           partitions,
				"KAFKA_AUTO_CREATE_TOPICS_ENABLE":                "true",
			}
			if spec.Durable {
				e["KAFKA_LOG_FLUSH_INTERVAL_MESSAGES"] = "1"
			}
			return e, nil
		},
		endpoint: func(p int) env.Endpoint { return env.Endpoint{Addrs: []string{loopback(p)}} },
		ping: func(ctx context.Context, ep env.Endpoint) error {
			d := kafka.Dialer{Timeout: 2 * time.Second}
			conn, err := d.DialContext(ctx, "tcp", ep.Addrs[0])
			if err != nil {
				return err
			}
			defer func() { _ = conn.Close() }()
			brokers, err := conn.Brokers()
			if err != nil {
				return err
			}
			for _, b := range brokers {
				if got := net.JoinHostPort(b.Host, strconv.Itoa(b.Port)); got == ep.Addrs[0] {
					return nil
				}
			}
			return fmt.Errorf("kafka advertises %v, not %s", brokers, ep.Addrs[0])
		},
	},
}

// waitReady runs ping until it succeeds or ctx ends, backing off from 50 ms
// to 1 s between tries, jittered so that several containers started
// together are not pinged in lockstep. It returns the last ping error with
// ErrNotReady.
func waitReady(ctx context.Context, r recipe, ep env.Endpoint) error {
	retry := backoff.New(50*time.Millisecond, time.Second)
	for {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := r.ping(pctx, ep)
		cancel()
		if err == nil {
			return nil
		}
		if !retry.Sleep(ctx) {
			return fmt.Errorf("%w: %s: %w", ErrNotReady, ep.Redacted(), errors.Join(ctx.Err(), err))
		}
	}
}
