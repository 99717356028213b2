package eventstoretest_test

import (
	"bufio"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
	"github.com/edkit-dev/edkit/reference/eventstore/eventstoretest"
	"github.com/edkit-dev/edkit/reference/eventstore/memstore"
)

// runWorkload runs the crash workload on a memory store for a moment and
// returns the store and the acks it printed.
func runWorkload(t *testing.T) (*memstore.Store, []eventstoretest.Ack) {
	t.Helper()
	s := memstore.New()
	t.Cleanup(func() { _ = s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	var out strings.Builder
	if err := (eventstoretest.CrashWorkload{Seed: 7, Writers: 3, Streams: 2, MaxPad: 10}).Run(ctx, s, &out); err != nil {
		t.Fatal(err)
	}
	var acks []eventstoretest.Ack
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	for sc.Scan() {
		a, err := eventstoretest.ParseAck(sc.Text())
		if err != nil {
			t.Fatal(err)
		}
		acks = append(acks, a)
	}
	if len(acks) < 10 {
		t.Fatalf("workload acknowledged only %d appends", len(acks))
	}
	return s, acks
}

func TestCheckAfterCrashClean(t *testing.T) {
	s, acks := runWorkload(t)
	// An append whose ack was never printed (the kill came first) is fine.
	if _, err := s.Append(context.Background(), "crash-0", eventstore.Any,
		event.Envelope{ID: "w9-b0-0-of-2"}, event.Envelope{ID: "w9-b0-1-of-2"}); err != nil {
		t.Fatal(err)
	}
	if n, err := eventstoretest.CheckAfterCrash(context.Background(), s, acks); err != nil || n == 0 {
		t.Fatalf("clean run: %d events, %v", n, err)
	}
}

func TestCheckAfterCrashFindsAnomalies(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(t *testing.T, s *memstore.Store, acks []eventstoretest.Ack) []eventstoretest.Ack
		want   string
	}{
		{"lost acknowledged append", func(_ *testing.T, _ *memstore.Store, acks []eventstoretest.Ack) []eventstoretest.Ack {
			return append(acks, eventstoretest.Ack{Stream: "crash-0", NextExpected: 999, Position: 999, IDs: []string{"w9-b9-0-of-1"}})
		}, "is lost"},
		{"acknowledged elsewhere", func(_ *testing.T, _ *memstore.Store, acks []eventstoretest.Ack) []eventstoretest.Ack {
			acks[0].Position++
			return acks
		}, "acknowledged at"},
		{"torn append", func(t *testing.T, s *memstore.Store, acks []eventstoretest.Ack) []eventstoretest.Ack {
			t.Helper()
			if _, err := s.Append(context.Background(), "crash-1", eventstore.Any, event.Envelope{ID: "w9-b0-0-of-3"}, event.Envelope{ID: "w9-b0-1-of-3"}); err != nil {
				t.Fatal(err)
			}
			return acks
		}, "torn append"},
		{"split append", func(t *testing.T, s *memstore.Store, acks []eventstoretest.Ack) []eventstoretest.Ack {
			t.Helper()
			for _, stream := range []string{"crash-0", "crash-1"} {
				if _, err := s.Append(context.Background(), stream, eventstore.Any, event.Envelope{ID: "w9-b1-" + map[string]string{"crash-0": "0", "crash-1": "1"}[stream] + "-of-2"}); err != nil {
					t.Fatal(err)
				}
			}
			return acks
		}, "torn append"},
		{"nothing acknowledged", func(*testing.T, *memstore.Store, []eventstoretest.Ack) []eventstoretest.Ack { return nil }, "checked nothing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, acks := runWorkload(t)
			acks = c.mutate(t, s, acks)
			_, err := eventstoretest.CheckAfterCrash(context.Background(), s, acks)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("CheckAfterCrash: %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func TestParseAckRoundTrip(t *testing.T) {
	a := eventstoretest.Ack{Stream: "crash-2", NextExpected: 7, Position: 19, IDs: []string{"w1-b2-0-of-2", "w1-b2-1-of-2"}}
	got, err := eventstoretest.ParseAck(strings.TrimSuffix(a.String(), "\n"))
	if err != nil || got.Stream != a.Stream || got.NextExpected != 7 || got.Position != 19 || len(got.IDs) != 2 || got.IDs[1] != a.IDs[1] {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	if _, err := eventstoretest.ParseAck("ack half"); err == nil {
		t.Fatal("a cut line parsed")
	}
}
