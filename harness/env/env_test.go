package env_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/harness/env/embedded"
)

func TestEmbeddedKafkaRoundTrip(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := embedded.StartKafka(ctx, embedded.Topics("roundtrip"))
	if err != nil {
		t.Fatalf("StartKafka: %v", err)
	}
	// Stops the environment if the test fails before its own Close calls;
	// after them, Close returns ErrClosed by contract.
	t.Cleanup(func() {
		if err := e.Close(); err != nil && !errors.Is(err, env.ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	k := e.Component("kafka")
	if k == nil {
		t.Fatalf("no component named kafka in %v", e.Components())
	}
	brokers := k.Endpoint().Addrs
	if len(brokers) != 1 || k.Kind() != env.KindKafka || k.Provider() != env.Embedded {
		t.Fatalf("brokers=%v kind=%q provider=%q", brokers, k.Kind(), k.Provider())
	}
	for _, b := range brokers {
		if host, _, _ := net.SplitHostPort(b); host != "127.0.0.1" {
			t.Fatalf("broker %s not on loopback", b)
		}
	}

	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: "roundtrip", Balancer: &kafka.Hash{},
		BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll}
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte("k"), Value: []byte("hello")}); err != nil {
		t.Fatalf("write: %v", err)
	}
	_ = w.Close()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, GroupID: "g", Topic: "roundtrip",
		MinBytes: 1, MaxBytes: 10e6, MaxWait: 50 * time.Millisecond, StartOffset: kafka.FirstOffset,
		HeartbeatInterval: 200 * time.Millisecond, JoinGroupBackoff: 100 * time.Millisecond,
		ReadBackoffMin: 10 * time.Millisecond, ReadBackoffMax: 50 * time.Millisecond})
	m, err := r.ReadMessage(ctx)
	_ = r.Close()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if string(m.Value) != "hello" || string(m.Key) != "k" {
		t.Fatalf("read %q=%q", m.Key, m.Value)
	}

	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := e.Close(); !errors.Is(err, env.ErrClosed) {
		t.Fatalf("second Close = %v, want ErrClosed", err)
	}
	// Nothing must keep listening once the environment is closed.
	d := net.Dialer{Timeout: time.Second}
	for _, b := range brokers {
		c, err := d.DialContext(ctx, "tcp", b)
		if err == nil {
			_ = c.Close()
			t.Fatalf("broker %s still accepts connections after Close", b)
		}
	}
}

func TestEmbeddedKafkaOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    []embedded.KafkaOption
		brokers int
		wantErr bool
	}{
		{name: "three brokers", opts: []embedded.KafkaOption{embedded.Brokers(3)}, brokers: 3},
		{name: "zero brokers", opts: []embedded.KafkaOption{embedded.Brokers(0)}, wantErr: true},
		{name: "zero partitions", opts: []embedded.KafkaOption{embedded.Partitions(0)}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := embedded.StartKafka(context.Background(), tt.opts...)
			if tt.wantErr {
				if err == nil {
					_ = e.Close()
					t.Fatal("want error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := e.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			if got := len(e.Component("kafka").Endpoint().Addrs); got != tt.brokers {
				t.Fatalf("brokers = %d, want %d", got, tt.brokers)
			}
		})
	}
}
