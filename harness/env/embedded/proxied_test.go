package embedded_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/harness/env/embedded"
)

// TestProxiedKafkaAdvertisesProxy proves a proxied Kafka cannot be reached
// around its proxies: metadata names only the proxies, a partition stops
// a kafka-go writer, and a latency toxic slows every produce.
func TestProxiedKafkaAdvertisesProxy(t *testing.T) {
	for _, mode := range []string{"inprocess", "child"} {
		t.Run(mode, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			spec := embedded.KafkaSpec(embedded.Brokers(2), embedded.Partitions(2), embedded.Topics("t"))
			spec.Proxied = true
			spec.Options["mode"] = mode
			e, err := env.Start(ctx, env.Spec{Components: []env.ComponentSpec{spec}}, env.WithProvider(embedded.New()))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := e.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			c := e.Component("kafka")
			fronts := c.(embedded.Fronted).Fronts()
			addrs := c.Endpoint().Addrs
			if len(fronts) != 2 || len(addrs) != 2 {
				t.Fatalf("fronts %d, addrs %v: want one proxy per broker", len(fronts), addrs)
			}
			proxyAddr := map[string]bool{}
			for i, f := range fronts {
				if f.Addr() != addrs[i] {
					t.Fatalf("endpoint %s is not proxy %s", addrs[i], f.Addr())
				}
				proxyAddr[f.Addr()] = true
			}

			// Metadata must advertise the proxies, never the listeners.
			conn, err := (&kafka.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", addrs[0])
			if err != nil {
				t.Fatal(err)
			}
			brokers, err := conn.Brokers()
			_ = conn.Close()
			if err != nil {
				t.Fatal(err)
			}
			if len(brokers) != 2 {
				t.Fatalf("metadata lists %d brokers, want 2", len(brokers))
			}
			for _, b := range brokers {
				a := net.JoinHostPort(b.Host, strconv.Itoa(b.Port))
				if !proxyAddr[a] {
					t.Fatalf("metadata advertises %s, not a proxy (%v): clients would bypass the proxy", a, addrs)
				}
			}

			w := &kafka.Writer{Addr: kafka.TCP(addrs...), Topic: "t", Balancer: &kafka.Hash{},
				BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll, MaxAttempts: 1,
				WriteTimeout: 5 * time.Second, ReadTimeout: 5 * time.Second}
			t.Cleanup(func() { _ = w.Close() })
			produce := func(d time.Duration) (time.Duration, error) {
				ctx, cancel := context.WithTimeout(ctx, d)
				defer cancel()
				began := time.Now()
				err := w.WriteMessages(ctx, kafka.Message{Key: []byte("k"), Value: []byte("v")})
				return time.Since(began), err
			}
			if _, err := produce(10 * time.Second); err != nil {
				t.Fatalf("produce through the proxy: %v", err)
			}
			// A second produce on warm connections is the baseline.
			base, err := produce(10 * time.Second)
			if err != nil {
				t.Fatal(err)
			}

			const lat = 300 * time.Millisecond
			for _, f := range fronts {
				if err := f.Latency(lat, 0); err != nil {
					t.Fatal(err)
				}
			}
			slow, err := produce(10 * time.Second)
			if err != nil {
				t.Fatalf("produce with latency: %v", err)
			}
			if slow < lat || slow < base+lat/2 {
				t.Fatalf("produce took %v with %v latency (baseline %v): toxic not applied", slow, lat, base)
			}
			for _, f := range fronts {
				if err := f.Clear(); err != nil {
					t.Fatal(err)
				}
			}
			t.Logf("produce round trip: %v baseline, %v with %v latency", base, slow, lat)

			p := c.(env.Partitioner)
			if err := p.Partition(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := produce(2 * time.Second); err == nil {
				t.Fatal("produce succeeded through a partition")
			}
			if err := p.Heal(ctx); err != nil {
				t.Fatal(err)
			}
			// The writer reconnects on its own; bound the wait.
			deadline := time.Now().Add(20 * time.Second)
			for {
				_, err := produce(2 * time.Second)
				if err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("produce after heal: %v", err)
				}
			}
		})
	}
}

// TestNonDurableRestartIsEmpty shows Durable matters: without it a
// restarted broker has forgotten what it acknowledged.
func TestNonDurableRestartIsEmpty(t *testing.T) {
	for _, kind := range []env.Kind{env.KindKafka, env.KindNATS} {
		t.Run(string(kind), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			opts := map[string]string{}
			if kind == env.KindKafka {
				opts = map[string]string{"partitions": "1", "topics": "t"}
			}
			e, err := env.Start(ctx, env.Spec{Components: []env.ComponentSpec{{Kind: kind, Provider: env.Embedded, Options: opts}}},
				env.WithProvider(embedded.New()))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = e.Close() })
			c := e.Component(string(kind))
			cl := clientFor(c)
			if err := cl.publish(ctx, "acked"); err != nil {
				t.Fatal(err)
			}
			if err := c.(env.Restarter).Restart(ctx); err != nil {
				t.Fatal(err)
			}
			rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
			defer rcancel()
			if got, err := cl.first(rctx); err == nil {
				t.Fatalf("read %q after restarting a non-durable broker, want nothing", got)
			}
		})
	}
}

func TestStartRejects(t *testing.T) {
	tests := []struct {
		name string
		spec env.ComponentSpec
		want error
	}{
		{"redis", env.ComponentSpec{Kind: env.KindRedis, Provider: env.Embedded}, embedded.ErrUnsupported},
		{"bad mode", env.ComponentSpec{Kind: env.KindNATS, Provider: env.Embedded, Options: map[string]string{"mode": "vm"}}, embedded.ErrBadOption},
		{"kafka option on nats", env.ComponentSpec{Kind: env.KindNATS, Provider: env.Embedded, Options: map[string]string{"brokers": "2"}}, embedded.ErrBadOption},
		{"unknown option", env.ComponentSpec{Kind: env.KindKafka, Provider: env.Embedded, Options: map[string]string{"replicas": "3"}}, embedded.ErrBadOption},
		{"zero partitions", env.ComponentSpec{Kind: env.KindKafka, Provider: env.Embedded, Options: map[string]string{"partitions": "0"}}, embedded.ErrBadOption},
		{"a billion partitions", env.ComponentSpec{Kind: env.KindKafka, Provider: env.Embedded, Options: map[string]string{"partitions": "1000000000"}}, embedded.ErrBadOption},
		{"a thousand brokers", env.ComponentSpec{Kind: env.KindKafka, Provider: env.Embedded, Options: map[string]string{"brokers": "1000"}}, embedded.ErrBadOption},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := embedded.New().Start(context.Background(), tt.spec)
			if !errors.Is(err, tt.want) {
				if c != nil {
					_ = c.Close(context.Background())
				}
				t.Fatalf("Start = %v, want %v", err, tt.want)
			}
		})
	}
}
