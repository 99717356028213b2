package redisbus_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/harness/env/envtest"
	"github.com/edkit-dev/edkit/harness/env/process"
	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/bustest"
	"github.com/edkit-dev/edkit/reference/bus/redisbus"
)

// addr is the Redis server shared by every test in this binary; downWhy
// says why there is none.
var addr, downWhy string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	before, lerr := envtest.Children()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	p := process.New()
	var in *process.Instance
	if err := p.Supports(env.KindRedis); err != nil {
		downWhy = err.Error()
	} else if in, err = p.StartInstance(ctx, env.ComponentSpec{Kind: env.KindRedis, Provider: env.Process, Durable: true}); err != nil {
		downWhy = "redis-server did not start: " + err.Error()
	} else {
		addr = in.Endpoint().Addrs[0]
	}
	cancel()
	code := m.Run()
	if in != nil {
		cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := in.Close(cctx); err != nil {
			fmt.Fprintln(os.Stderr, "close redis:", err)
			code = 1
		}
		ccancel()
	}
	if lerr == nil {
		leaked, err := envtest.Leaked(context.Background(), before, 5*time.Second)
		if err != nil || len(leaked) > 0 {
			fmt.Fprintln(os.Stderr, "leaked processes:", leaked, err)
			code = 1
		}
	}
	return code
}

func server(t *testing.T) string {
	t.Helper()
	if addr == "" {
		t.Fatalf("redis-server cannot run: %s", downWhy)
	}
	return addr
}

func newBus(t *testing.T, opts ...redisbus.Option) *redisbus.Bus {
	t.Helper()
	b, err := redisbus.New(server(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil && !errors.Is(err, bus.ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

// quiet fails if ch delivers anything within d.
func quiet(t *testing.T, ch <-chan bus.Delivery, d time.Duration) {
	t.Helper()
	select {
	case got, ok := <-ch:
		if ok {
			t.Fatalf("unexpected delivery %s (attempt %s)", got.Message().ID, got.Message().Header(bus.HeaderAttempt))
		}
	case <-time.After(d):
	}
}

func TestConformance(t *testing.T) {
	a := server(t)
	// XREADGROUP hands entries to members regardless of key, so order holds
	// only within a subscription (which requeues in place, without a Redis
	// round trip); MaxInFlight (256) bounds what it reads unsettled.
	f := bustest.Features{Name: "redisbus", PerKeyOrder: true, RequeueInPlace: true, MaxUnsettled: 256}
	bustest.Run(t, f, func(t *testing.T) bus.Bus {
		t.Helper()
		b, err := redisbus.New(a, redisbus.Prefix("conf:"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}

func TestRoundTripKeepsIDKeyHeaders(t *testing.T) {
	ctx := bustest.Context(t, 20*time.Second)
	b := newBus(t, redisbus.Prefix("rt:"))
	topic := bustest.Topic(t, "rt")
	in := []*bus.Message{
		{ID: "id-1", Topic: topic, Key: "order-7", Payload: []byte("p\x00\xffbinary"),
			Headers: map[string]string{bus.HeaderType: "OrderPlaced", "x-json": `{"a":"b"}`, "": "empty name"}},
		{ID: "id-2", Topic: topic, Key: "", Payload: nil},
	}
	if err := b.Publish(ctx, in...); err != nil {
		t.Fatal(err)
	}
	raw, err := b.Client().XRange(ctx, b.StreamKey(topic), "-", "+").Result()
	if err != nil || len(raw) != 2 || raw[0].Values[redisbus.FieldID] != "id-1" || raw[0].Values[redisbus.FieldKey] != "order-7" {
		t.Fatalf("raw stream = %v, %v", raw, err)
	}
	ch, err := b.Subscribe(ctx, topic, "g")
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range in {
		d := bustest.Next(ctx, t, ch)
		got := d.Message()
		if got.ID != want.ID || got.Key != want.Key || got.Topic != topic || string(got.Payload) != string(want.Payload) {
			t.Fatalf("message %d: got %+v, want %+v", i, got, want)
		}
		if got.Header(bus.HeaderAttempt) != "1" {
			t.Errorf("message %d: attempt header %q, want 1", i, got.Header(bus.HeaderAttempt))
		}
		if len(got.Headers) != len(want.Headers)+1 {
			t.Errorf("message %d: headers %v, want %v plus the attempt", i, got.Headers, want.Headers)
		}
		for k, v := range want.Headers {
			if got.Headers[k] != v {
				t.Errorf("message %d: header %q = %q, want %q", i, k, got.Headers[k], v)
			}
		}
		sd, ok := d.(interface{ StreamID() string })
		if !ok || sd.StreamID() != raw[i].ID {
			t.Errorf("message %d: stream ID not exposed or wrong (want %s)", i, raw[i].ID)
		}
		if err := d.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := b.Client().XPending(ctx, b.StreamKey(topic), "g").Result(); err != nil || n.Count != 0 {
		t.Fatalf("pending after acks = %+v, %v", n, err)
	}
}

// TestReclaimFromDeadConsumer: a consumer reads entries and dies without
// acking; a member of the same group reclaims them once they are MinIdle
// old, with the delivery attempt counted by Redis.
func TestReclaimFromDeadConsumer(t *testing.T) {
	ctx := bustest.Context(t, 20*time.Second)
	b := newBus(t, redisbus.MinIdle(300*time.Millisecond))
	topic := bustest.Topic(t, "reclaim")
	key := b.StreamKey(topic)
	var ms []*bus.Message
	for i := 0; i < 6; i++ {
		ms = append(ms, &bus.Message{ID: fmt.Sprintf("m%d", i), Topic: topic, Key: "k" + strconv.Itoa(i%2)})
	}
	if err := b.Publish(ctx, ms...); err != nil {
		t.Fatal(err)
	}
	// The dead consumer: reads four entries and is never heard from again.
	c := b.Client()
	if err := c.XGroupCreateMkStream(ctx, key, "g", "0").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g", Consumer: "dead", Streams: []string{key, ">"}, Count: 4, Block: -1}).Err(); err != nil {
		t.Fatal(err)
	}
	ch, err := b.Subscribe(ctx, topic, "g")
	if err != nil {
		t.Fatal(err)
	}
	attempts := map[string]string{}
	for len(attempts) < len(ms) {
		d := bustest.Next(ctx, t, ch)
		id := d.Message().ID
		if _, dup := attempts[id]; dup {
			t.Fatalf("%s delivered twice", id)
		}
		attempts[id] = d.Message().Header(bus.HeaderAttempt)
		if err := d.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for i, m := range ms {
		want := "1"
		if i < 4 {
			want = "2" // read once by the dead consumer, then reclaimed
		}
		if attempts[m.ID] != want {
			t.Errorf("%s: attempt %q, want %q", m.ID, attempts[m.ID], want)
		}
	}
	if n, err := c.XPending(ctx, key, "g").Result(); err != nil || n.Count != 0 {
		t.Fatalf("pending after reclaim and acks = %+v, %v", n, err)
	}
	quiet(t, ch, 400*time.Millisecond)
}

// TestLiveConsumerKeepsItsEntries: entries a live subscription holds past
// MinIdle, queued or in a slow handler, are renewed and not reclaimed by
// another member.
func TestLiveConsumerKeepsItsEntries(t *testing.T) {
	ctx := bustest.Context(t, 20*time.Second)
	b := newBus(t, redisbus.MinIdle(300*time.Millisecond))
	topic := bustest.Topic(t, "lease")
	if err := b.Publish(ctx,
		&bus.Message{ID: "a1", Topic: topic, Key: "a"},
		&bus.Message{ID: "a2", Topic: topic, Key: "a"}); err != nil {
		t.Fatal(err)
	}
	slow, err := b.Subscribe(ctx, topic, "g")
	if err != nil {
		t.Fatal(err)
	}
	d := bustest.Next(ctx, t, slow) // a1 in flight, a2 queued behind it
	if d.Message().ID != "a1" {
		t.Fatalf("first = %s", d.Message().ID)
	}
	other, err := b.Subscribe(ctx, topic, "g")
	if err != nil {
		t.Fatal(err)
	}
	quiet(t, other, 1200*time.Millisecond) // four MinIdles
	if err := d.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if d2 := bustest.Next(ctx, t, slow); d2.Message().ID != "a2" || d2.Message().Header(bus.HeaderAttempt) != "1" {
		t.Fatalf("second = %s attempt %s, want a2 attempt 1", d2.Message().ID, d2.Message().Header(bus.HeaderAttempt))
	} else if err := d2.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	quiet(t, other, 400*time.Millisecond)
}

// TestEndedSubscriptionReleasesEntries: a subscription that ends with an
// unsettled delivery revokes it and releases it, so the next member gets it
// at once even with the default 30 s MinIdle.
func TestEndedSubscriptionReleasesEntries(t *testing.T) {
	ctx := bustest.Context(t, 20*time.Second)
	b := newBus(t)
	topic := bustest.Topic(t, "release")
	if err := b.Publish(ctx, &bus.Message{ID: "x", Topic: topic, Key: "k"}); err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	ch, err := b.Subscribe(sctx, topic, "g")
	if err != nil {
		t.Fatal(err)
	}
	d := bustest.Next(ctx, t, ch)
	cancel()
	for range ch {
	}
	if err := d.Ack(ctx); !errors.Is(err, redisbus.ErrRevoked) {
		t.Fatalf("late ack = %v, want ErrRevoked", err)
	}
	start := time.Now()
	ch2, err := b.Subscribe(ctx, topic, "g")
	if err != nil {
		t.Fatal(err)
	}
	d2 := bustest.Next(ctx, t, ch2)
	if d2.Message().ID != "x" || d2.Message().Header(bus.HeaderAttempt) != "2" {
		t.Fatalf("redelivered %s attempt %s, want x attempt 2", d2.Message().ID, d2.Message().Header(bus.HeaderAttempt))
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("redelivery took %v: not released", el)
	}
	if err := d2.Ack(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestMaxLenTrims(t *testing.T) {
	const n = 600
	tests := []struct {
		name     string
		opts     []redisbus.Option
		min, max int64
	}{
		{"no trimming", nil, n, n},
		{"MaxLen 50 approximately", []redisbus.Option{redisbus.MaxLen(50)}, 50, n - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := bustest.Context(t, 20*time.Second)
			b := newBus(t, tt.opts...)
			topic := bustest.Topic(t, "trim")
			for i := 0; i < n; i += 100 {
				var batch []*bus.Message
				for j := i; j < i+100; j++ {
					batch = append(batch, &bus.Message{ID: strconv.Itoa(j), Topic: topic, Key: "k"})
				}
				if err := b.Publish(ctx, batch...); err != nil {
					t.Fatal(err)
				}
			}
			got, err := b.Client().XLen(ctx, b.StreamKey(topic)).Result()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("XLEN = %d", got)
			if got < tt.min || got > tt.max {
				t.Fatalf("XLEN = %d, want in [%d, %d]", got, tt.min, tt.max)
			}
			last, err := b.Client().XRevRangeN(ctx, b.StreamKey(topic), "+", "-", 1).Result()
			if err != nil || len(last) != 1 || last[0].Values[redisbus.FieldID] != strconv.Itoa(n-1) {
				t.Fatalf("newest entry = %v, %v; trimming must keep the newest", last, err)
			}
		})
	}
}

func TestPublishOutcome(t *testing.T) {
	// A listener that accepts and never answers: the request may have been
	// taken, so the outcome is unknown.
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = c.Close() })
		}
	}()
	tests := []struct {
		name        string
		addr        string
		wantUnknown bool
	}{
		{"silent server", ln.Addr().String(), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := redisbus.New(tt.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = b.Close() }()
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			start := time.Now()
			err = b.Publish(ctx, &bus.Message{ID: "1", Topic: "t"})
			el := time.Since(start)
			t.Logf("publish failed after %v: %v", el, err)
			if el > 2*time.Second {
				t.Errorf("publish outlived its 500ms deadline by far: %v", el)
			}
			if err == nil {
				t.Fatal("publish succeeded")
			}
			if got := errors.Is(err, bus.ErrOutcomeUnknown); got != tt.wantUnknown {
				t.Fatalf("publish = %v; outcome unknown %v, want %v", err, got, tt.wantUnknown)
			}
		})
	}
}

func TestValidation(t *testing.T) {
	if _, err := redisbus.New(""); !errors.Is(err, redisbus.ErrNoAddr) {
		t.Fatalf("New(\"\") = %v", err)
	}
	if _, err := redisbus.New("127.0.0.1:1", redisbus.MaxInFlight(0), redisbus.MinIdle(0)); !errors.Is(err, redisbus.ErrBadOption) {
		t.Fatalf("New with bad options = %v", err)
	}
	b, err := redisbus.New("redis://127.0.0.1:1/0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Close() }()
	ctx := context.Background()
	subErr := func(topic, group string) error {
		_, err := b.Subscribe(ctx, topic, group)
		return err
	}
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"nil message", b.Publish(ctx, nil), redisbus.ErrNilMessage},
		{"no topic", b.Publish(ctx, &bus.Message{ID: "x"}), redisbus.ErrNoTopic},
		{"no group", subErr("t", ""), redisbus.ErrNoGroup},
		{"empty topic", subErr("", "g"), redisbus.ErrNoTopic},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, tt.want) {
				t.Fatalf("got %v, want %v", tt.err, tt.want)
			}
		})
	}
}

func TestDeleteOnAck(t *testing.T) {
	tests := []struct {
		name    string
		opts    []redisbus.Option
		wantLen int64
	}{
		{"kept by default", nil, 2},
		{"deleted with DeleteOnAck", []redisbus.Option{redisbus.DeleteOnAck()}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := bustest.Context(t, 20*time.Second)
			b := newBus(t, tt.opts...)
			topic := bustest.Topic(t, "del")
			if err := b.Publish(ctx, &bus.Message{ID: "1", Topic: topic, Key: "k"}, &bus.Message{ID: "2", Topic: topic, Key: "k"}); err != nil {
				t.Fatal(err)
			}
			ch, err := b.Subscribe(ctx, topic, "g")
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 2; i++ {
				if err := bustest.Next(ctx, t, ch).Ack(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if n, err := b.Client().XLen(ctx, b.StreamKey(topic)).Result(); err != nil || n != tt.wantLen {
				t.Fatalf("XLEN after acks = %d, %v; want %d", n, err, tt.wantLen)
			}
		})
	}
}
