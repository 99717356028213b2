package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/harness/env/embedded"
	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/kafkabus"
)

// dlqRun runs the real cobra command and returns exit code, stdout, stderr.
func dlqRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	code := execute(ctx, append([]string{"dlq"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

func entryIDs(t *testing.T, js string) []string {
	t.Helper()
	var es []bus.DeadLetterEntry
	if err := json.Unmarshal([]byte(js), &es); err != nil {
		t.Fatalf("ls --json: %v\n%s", err, js)
	}
	var ids []string
	for _, e := range es {
		ids = append(ids, e.ID)
	}
	sort.Strings(ids)
	return ids
}

// TestDLQLsAndRedriveOnKafka dead-letters three messages on an embedded
// Kafka through bus.DeadLetter, lists them twice (ls removes nothing),
// dry-runs and then redrives the two that timed out, and checks the third
// is all that is left and the two arrived on their topic.
func TestDLQLsAndRedriveOnKafka(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// One partition: a redrive that holds back a filtered-out entry cannot
	// read past it in its partition, so that entry is published last.
	e, err := embedded.StartKafka(ctx, embedded.Partitions(1), embedded.Topics("orders", "orders.dlq"))
	if err != nil {
		t.Fatalf("embedded kafka cannot start: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	addrs := e.Component("kafka").Endpoint().Addrs
	b, err := kafkabus.New(addrs)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Close() }()
	for _, d := range []struct{ id, reason string }{{"o-1", "stock timeout"}, {"o-2", "gateway timeout"}, {"o-3", "decode: bad json"}} {
		fail := func(context.Context, *bus.Message) error { return errors.New(d.reason) }
		m := &bus.Message{ID: d.id, Topic: "orders", Key: "k-" + d.id, Payload: []byte(d.id),
			Headers: map[string]string{bus.HeaderType: "PlaceOrder"}}
		if err := bus.DeadLetter(b, "orders.dlq", "billing")(fail)(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	base := []string{"--broker", "kafka", "--brokers", strings.Join(addrs, ","), "--topic", "orders.dlq", "--idle", "2s"}

	for range 2 {
		code, out, errOut := dlqRun(t, append([]string{"ls"}, base...)...)
		if code != exitOK {
			t.Fatalf("ls exit %d\n%s%s", code, out, errOut)
		}
		for _, want := range []string{"ID", "ORIGINAL TOPIC", "o-1", "o-2", "o-3", "billing", "decode: bad json", "3 dead letters"} {
			if !strings.Contains(out, want) {
				t.Fatalf("ls output lacks %q:\n%s", want, out)
			}
		}
	}

	code, out, errOut := dlqRun(t, append([]string{"redrive", "--reason", "timeout", "--dry-run", "--json"}, base...)...)
	if code != exitOK {
		t.Fatalf("dry run exit %d\n%s%s", code, out, errOut)
	}
	var rep bus.RedriveReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("redrive --json: %v\n%s", err, out)
	}
	if !rep.DryRun || len(rep.Redriven) != 2 || len(rep.Skipped) != 1 || rep.Skipped[0].ID != "o-3" {
		t.Fatalf("dry run report %+v", rep)
	}
	code, out, _ = dlqRun(t, append([]string{"ls", "--json"}, base...)...)
	if got := entryIDs(t, out); code != exitOK || !slices.Equal(got, []string{"o-1", "o-2", "o-3"}) {
		t.Fatalf("after the dry run ls exit %d shows %v, want all three", code, got)
	}

	code, out, errOut = dlqRun(t, append([]string{"redrive", "--reason", "timeout"}, base...)...)
	if code != exitOK || !strings.Contains(out, "redriven 2, skipped 1, failed 0") {
		t.Fatalf("redrive exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = dlqRun(t, append([]string{"ls", "--json"}, base...)...)
	if got := entryIDs(t, out); code != exitOK || !slices.Equal(got, []string{"o-3"}) {
		t.Fatalf("after the redrive ls exit %d shows %v, want only o-3", code, got)
	}

	// The two are back on their topic, as they were but for the headers.
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	ch, err := b.Subscribe(sctx, "orders", "check")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*bus.Message{}
	for len(got) < 2 {
		select {
		case d := <-ch:
			got[d.Message().ID] = d.Message()
			_ = d.Ack(ctx)
		case <-ctx.Done():
			t.Fatalf("redriven messages on orders: %v", got)
		}
	}
	for _, id := range []string{"o-1", "o-2"} {
		m := got[id]
		if m == nil || m.Key != "k-"+id || m.Header(bus.HeaderRedriven) != "1" || m.Header(bus.HeaderType) != "PlaceOrder" ||
			m.Header(bus.HeaderDLQReason) != "" {
			t.Fatalf("redriven %s: %+v", id, m)
		}
	}

	// The address can come from the state file env up writes.
	state := filepath.Join(t.TempDir(), "env.json")
	if err := writeState(state, &envState{Status: "ready", Components: []stateComponent{
		{Name: "kafka", Kind: "kafka", Provider: "embedded", Addrs: addrs}}}); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = dlqRun(t, "ls", "--state", state, "--topic", "orders.dlq", "--idle", "2s")
	if code != exitOK || !strings.Contains(out, "o-3") {
		t.Fatalf("ls from the state file: exit %d\n%s%s", code, out, errOut)
	}
}

func TestDLQUnreachableBrokerExit3(t *testing.T) {
	// Port 1 on loopback: nothing listens there.
	for _, sub := range []string{"ls", "redrive"} {
		code, _, errOut := dlqRun(t, sub, "--brokers", "127.0.0.1:1", "--topic", "d")
		if code != exitEnvironment || !strings.Contains(errOut, "unreachable") {
			t.Fatalf("%s: exit %d, want %d; stderr:\n%s", sub, code, exitEnvironment, errOut)
		}
	}
}
