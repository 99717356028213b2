package embedded_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/segmentio/kafka-go"

	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/harness/env/embedded"
	"github.com/edkit-dev/edkit/harness/env/envtest"
)

// TestMain fails the run if any process the tests started (every
// edkit-broker child) is still alive afterwards.
func TestMain(m *testing.M) { envtest.CheckNoLeaks(m) }

// client is the real client of one kind, reduced to what the capability
// checks need: publish one acknowledged message, read back the first.
type client interface {
	publish(ctx context.Context, value string) error
	first(ctx context.Context) (string, error)
}

// kafkaClient uses kafka-go with a fresh transport per call, so no call
// inherits a connection a fault left behind.
type kafkaClient struct{ brokers []string }

func (k kafkaClient) publish(ctx context.Context, value string) error {
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	w := &kafka.Writer{Addr: kafka.TCP(k.brokers...), Topic: "t", Transport: tr,
		BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll, MaxAttempts: 1}
	defer func() { _ = w.Close() }()
	return w.WriteMessages(ctx, kafka.Message{Key: []byte("k"), Value: []byte(value)})
}

func (k kafkaClient) first(ctx context.Context) (string, error) {
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: k.brokers, Topic: "t", Partition: 0,
		MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 50 * time.Millisecond,
		ReadBackoffMin: 10 * time.Millisecond, ReadBackoffMax: 50 * time.Millisecond})
	defer func() { _ = r.Close() }()
	if err := r.SetOffset(kafka.FirstOffset); err != nil {
		return "", err
	}
	m, err := r.ReadMessage(ctx)
	if err != nil {
		return "", err
	}
	return string(m.Value), nil
}

// natsClient uses nats.go JetStream on a file-stored stream, connecting
// afresh per call.
type natsClient struct{ url string }

func (n natsClient) js(ctx context.Context) (*nats.Conn, jetstream.Stream, error) {
	timeout := 5 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	nc, err := nats.Connect(n.url, nats.Timeout(timeout), nats.NoReconnect())
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	s, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}, Storage: jetstream.FileStorage})
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, s, nil
}

func (n natsClient) publish(ctx context.Context, value string) error {
	nc, _, err := n.js(ctx)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	_, err = js.Publish(ctx, "s.x", []byte(value))
	return err
}

func (n natsClient) first(ctx context.Context) (string, error) {
	nc, s, err := n.js(ctx)
	if err != nil {
		return "", err
	}
	defer nc.Close()
	m, err := s.GetMsg(ctx, 1)
	if err != nil {
		return "", err
	}
	return string(m.Data), nil
}

func clientFor(c env.Component) client {
	if c.Kind() == env.KindNATS {
		return natsClient{url: c.Endpoint().URL}
	}
	return kafkaClient{brokers: c.Endpoint().Addrs}
}

func TestProvider(t *testing.T) {
	t.Run("embedded", func(t *testing.T) {
		tests := []struct {
			name    string
			kind    env.Kind
			child   bool
			proxied bool
		}{
			{name: "kafka", kind: env.KindKafka},
			{name: "nats", kind: env.KindNATS},
			{name: "kafka/child", kind: env.KindKafka, child: true},
			{name: "nats/child", kind: env.KindNATS, child: true},
			{name: "kafka/proxied", kind: env.KindKafka, proxied: true},
			{name: "nats/child/proxied", kind: env.KindNATS, child: true, proxied: true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				opts := map[string]string{}
				if tt.kind == env.KindKafka {
					opts["partitions"] = "1"
					opts["topics"] = "t"
				}
				if tt.child {
					opts["mode"] = "child"
				}
				exercise(t, env.ComponentSpec{Kind: tt.kind, Provider: env.Embedded, Durable: true, Proxied: tt.proxied, Options: opts}, tt.child)
			})
		}
	})
}

// exercise starts spec, round-trips one message with the real client, and
// then checks every capability the handle claims.
func exercise(t *testing.T, spec env.ComponentSpec, child bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	began := time.Now()
	e, err := env.Start(ctx, env.Spec{Components: []env.ComponentSpec{spec}}, env.WithProvider(embedded.New()))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ready in %v", time.Since(began).Round(time.Millisecond))
	t.Cleanup(func() {
		if err := e.Close(); err != nil && !errors.Is(err, env.ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	c := e.Component(string(spec.Kind))
	if c.Provider() != env.Embedded || c.Kind() != spec.Kind {
		t.Fatalf("provider %q kind %q", c.Provider(), c.Kind())
	}
	for _, a := range c.Endpoint().Addrs {
		if host, _, _ := net.SplitHostPort(a); host != "127.0.0.1" {
			t.Fatalf("endpoint %s not on loopback", a)
		}
	}
	if child {
		if !hasBrokerChild(t) {
			t.Fatal("child mode, but no edkit-broker child process")
		}
	}
	cl := clientFor(c)
	within := func(d time.Duration) (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, d) }

	step := func(name string, f func() error) {
		t.Helper()
		began := time.Now()
		if err := f(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Logf("%s: %v", name, time.Since(began).Round(time.Millisecond))
	}
	step("publish", func() error {
		c, cancel := within(20 * time.Second)
		defer cancel()
		return cl.publish(c, "acked")
	})
	step("read back", func() error {
		c, cancel := within(20 * time.Second)
		defer cancel()
		got, err := cl.first(c)
		if err == nil && got != "acked" {
			err = fmt.Errorf("read %q, want acked", got)
		}
		return err
	})

	_, isPauser := c.(env.Pauser)
	_, isPartitioner := c.(env.Partitioner)
	_, isLogs := c.(env.LogSource)
	if isPauser != child || isLogs != child || isPartitioner != spec.Proxied {
		t.Fatalf("capabilities: pauser=%v logs=%v partitioner=%v for child=%v proxied=%v",
			isPauser, isLogs, isPartitioner, child, spec.Proxied)
	}
	if p, ok := c.(env.Pauser); ok {
		step("pause stalls a publish", func() error {
			if err := p.Pause(ctx); err != nil {
				return err
			}
			c, cancel := within(time.Second)
			defer cancel()
			began := time.Now()
			err := cl.publish(c, "during pause")
			if err == nil {
				return errors.New("publish to a paused broker succeeded")
			}
			if took := time.Since(began); took < 900*time.Millisecond {
				return fmt.Errorf("publish failed after %v (%w), want a stall until the deadline", took, err)
			}
			return nil
		})
		step("resume lets a publish complete", func() error {
			if err := p.Resume(ctx); err != nil {
				return err
			}
			c, cancel := within(20 * time.Second)
			defer cancel()
			return cl.publish(c, "after resume")
		})
	}
	if p, ok := c.(env.Partitioner); ok {
		step("partition fails a publish", func() error {
			if err := p.Partition(ctx); err != nil {
				return err
			}
			c, cancel := within(2 * time.Second)
			defer cancel()
			if err := cl.publish(c, "during partition"); err == nil {
				return errors.New("publish through a partition succeeded")
			}
			return nil
		})
		step("heal lets a publish complete", func() error {
			if err := p.Heal(ctx); err != nil {
				return err
			}
			c, cancel := within(20 * time.Second)
			defer cancel()
			return cl.publish(c, "after heal")
		})
	}
	if k, ok := c.(env.Killer); ok {
		step("kill fails a publish", func() error {
			if err := k.Kill(ctx); err != nil {
				return err
			}
			c, cancel := within(2 * time.Second)
			defer cancel()
			if err := cl.publish(c, "after kill"); err == nil {
				return errors.New("publish to a killed broker succeeded")
			}
			return nil
		})
		if child && hasBrokerChild(t) {
			t.Fatal("edkit-broker child still alive after Kill")
		}
	}
	if r, ok := c.(env.Restarter); ok {
		step("restart keeps the acknowledged message", func() error {
			if err := r.Restart(ctx); err != nil {
				return err
			}
			c, cancel := within(20 * time.Second)
			defer cancel()
			got, err := cl.first(c)
			if err == nil && got != "acked" {
				err = fmt.Errorf("read %q after restart, want acked", got)
			}
			return err
		})
	}
	if l, ok := c.(env.LogSource); ok {
		rc, err := l.Logs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		_ = rc.Close()
		if n := strings.Count(string(b), "ready"); n < 2 {
			t.Fatalf("logs show %d starts, want >= 2 (start and restart):\n%s", n, b)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if child && hasBrokerChild(t) {
		t.Fatal("edkit-broker child alive after Close")
	}
	for _, a := range c.Endpoint().Addrs {
		d := net.Dialer{Timeout: time.Second}
		if conn, err := d.DialContext(ctx, "tcp", a); err == nil {
			_ = conn.Close()
			t.Fatalf("%s still accepts connections after Close", a)
		}
	}
	if err := c.Close(ctx); !errors.Is(err, env.ErrClosed) {
		t.Fatalf("second Close = %v, want ErrClosed", err)
	}
}

// hasBrokerChild reports whether an edkit-broker process descends from this
// test binary.
func hasBrokerChild(t *testing.T) bool {
	t.Helper()
	ps, err := envtest.Children()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if strings.Contains(p.Cmdline, "edkit-broker ") {
			return true
		}
	}
	return false
}
