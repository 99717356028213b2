package cli

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/harness/env/embedded"
	"github.com/edkit-dev/edkit/harness/env/envtest"
	"github.com/edkit-dev/edkit/harness/env/process"
	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/amqpbus"
	"github.com/edkit-dev/edkit/reference/bus/natsbus"
	"github.com/edkit-dev/edkit/reference/bus/redisbus"
)

// TestMain fails the binary when a broker a test started outlives it.
func TestMain(m *testing.M) { envtest.CheckNoLeaks(m) }

// dlqGroup is the CLI's default --group.
const dlqGroup = "edkit-dlq-redrive"

// startBroker starts one broker for the test and stops it at cleanup,
// skipping (with the reason) where the provider cannot run it here.
func startBroker(t *testing.T, kind env.Kind, name string, prov env.ProviderName, p env.Provider) env.Endpoint {
	t.Helper()
	if err := p.Supports(kind); err != nil {
		t.Fatalf("%s %s cannot start: %v", prov, kind, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	e, err := env.Start(ctx, env.Spec{Components: []env.ComponentSpec{{Kind: kind, Provider: prov}}}, env.WithProvider(p))
	if err != nil {
		t.Fatalf("start %s: %v", kind, err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("stop %s: %v", kind, err)
		}
	})
	return e.Component(name).Endpoint()
}

// deadLetter publishes one message per id of reasons to topic and
// consumes them as billing through bus.DeadLetter with a handler that
// always fails with the id's reason, so each lands on topic+".dlq" exactly
// as a service's would.
func deadLetter(ctx context.Context, t *testing.T, b bus.Bus, topic string, reasons map[string]string) {
	t.Helper()
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	// Subscribed before the publish: on RabbitMQ a group's queue keeps only
	// what is published after it exists.
	ch, err := b.Subscribe(sctx, topic, "billing")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range slices.Sorted(maps.Keys(reasons)) {
		m := &bus.Message{ID: id, Topic: topic, Key: "k-" + id, Payload: []byte(id),
			Headers: map[string]string{bus.HeaderType: "PlaceOrder"}}
		if err := b.Publish(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	fail := func(_ context.Context, m *bus.Message) error { return errors.New(reasons[m.ID]) }
	h := bus.DeadLetter(b, topic+".dlq", "billing")(fail)
	done := map[string]bool{}
	for len(done) < len(reasons) {
		select {
		case d := <-ch:
			if err := h(ctx, d.Message()); err != nil {
				t.Fatal(err)
			}
			if err := d.Ack(ctx); err != nil {
				t.Fatal(err)
			}
			done[d.Message().ID] = true
		case <-ctx.Done():
			t.Fatalf("dead-lettered only %v", done)
		}
	}
}

// dlqLsRedrive is the end-to-end check every broker runs through the
// real command: three dead letters, two listings that remove nothing, a
// redrive of the two timeouts that puts them back on orders, and a
// listing left with the third alone.
func dlqLsRedrive(t *testing.T, b bus.Bus, base []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	deadLetter(ctx, t, b, "orders", map[string]string{"o-1": "stock timeout", "o-2": "gateway timeout", "o-3": "decode: bad json"})

	for i := range 2 {
		code, out, errOut := dlqRun(t, append([]string{"ls", "--json"}, base...)...)
		if got := entryIDs(t, out); code != exitOK || !slices.Equal(got, []string{"o-1", "o-2", "o-3"}) {
			t.Fatalf("ls #%d exit %d shows %v, want all three\n%s", i+1, code, got, errOut)
		}
		var es []bus.DeadLetterEntry
		_ = json.Unmarshal([]byte(out), &es)
		for _, e := range es {
			if e.OriginalTopic != "orders" || e.Group != "billing" || e.Key != "k-"+e.ID || e.Attempts != 1 {
				t.Fatalf("ls #%d entry %+v", i+1, e)
			}
		}
	}

	// A group on orders that exists before the redrive sees it (RabbitMQ
	// needs its queue first); it also sees the originals, which carry no
	// HeaderRedriven.
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	ch, err := b.Subscribe(sctx, "orders", "check")
	if err != nil {
		t.Fatal(err)
	}

	code, out, errOut := dlqRun(t, append([]string{"redrive", "--reason", "timeout"}, base...)...)
	if code != exitOK || !strings.Contains(out, "redriven 2, skipped 1, failed 0") {
		t.Fatalf("redrive exit %d\n%s%s", code, out, errOut)
	}

	got := map[string]*bus.Message{}
	for len(got) < 2 {
		select {
		case d := <-ch:
			m := d.Message()
			if m.Header(bus.HeaderRedriven) != "" {
				got[m.ID] = m
			}
			_ = d.Ack(ctx)
		case <-ctx.Done():
			t.Fatalf("redriven messages on orders: %v", got)
		}
	}
	for _, id := range []string{"o-1", "o-2"} {
		m := got[id]
		if m == nil || m.Key != "k-"+id || m.Header(bus.HeaderRedriven) != "1" || m.Header(bus.HeaderType) != "PlaceOrder" ||
			m.Header(bus.HeaderDLQReason) != "" || string(m.Payload) != id {
			t.Fatalf("redriven %s: %+v", id, m)
		}
	}

	code, out, errOut = dlqRun(t, append([]string{"ls", "--json"}, base...)...)
	if got := entryIDs(t, out); code != exitOK || !slices.Equal(got, []string{"o-3"}) {
		t.Fatalf("after the redrive ls exit %d shows %v, want only o-3\n%s", code, got, errOut)
	}
}

// TestDLQLsAndRedriveOnNATS runs the check on JetStream with the default
// duplicate window (2 min), so the redrive happens inside it: natsbus must
// give a redriven message its own Nats-Msg-Id (natsbus HeaderID keeps the
// bus ID), or JetStream acks the republish, drops it as a duplicate of the
// original, and the redrive removes it from the DLQ: lost from both topics.
func TestDLQLsAndRedriveOnNATS(t *testing.T) {
	ep := startBroker(t, env.KindNATS, "nats", env.Embedded, embedded.New())
	b, err := natsbus.New(ep.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	dlqLsRedrive(t, b, []string{"--broker", "nats", "--url", ep.URL, "--topic", "orders.dlq", "--idle", "2s"})
}

func TestDLQLsAndRedriveOnRedis(t *testing.T) {
	ep := startBroker(t, env.KindRedis, "redis", env.Process, process.New())
	b, err := redisbus.New(ep.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	dlqLsRedrive(t, b, []string{"--broker", "redis", "--url", ep.URL, "--topic", "orders.dlq", "--idle", "2s"})
}

func TestDLQLsAndRedriveOnRabbitMQ(t *testing.T) {
	ep := startBroker(t, env.KindRabbitMQ, "rabbitmq", env.Process, process.New())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// An exchange keeps nothing: the CLI's group reads orders.dlq from the
	// queue orders.dlq.<group>, which must exist when DeadLetter publishes
	// or the dead letters go nowhere. ProvisionGroups declares it (and the
	// other groups' queues) on the first publish to each topic.
	b, err := amqpbus.New(ctx, ep.URL, amqpbus.ProvisionGroups("billing", "check", dlqGroup))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	dlqLsRedrive(t, b, []string{"--broker", "amqp", "--url", ep.URL, "--topic", "orders.dlq", "--idle", "2s"})
}
