package natsbus_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/edkit-dev/edkit/reference/bus/bustest"
	"github.com/edkit-dev/edkit/reference/bus/natsbus"
)

// The benchmarks put natsbus beside a bare nats.go JetStream loop with the
// same settings (file-storage stream with a 2 min duplicate window,
// Nats-Msg-Id on every message, PublishMsgAsync then waiting for every
// PubAck; a pull consumer of batch 64 with explicit, double acks), on the
// TestMain's embedded server, so the ratio is what natsbus costs.
const (
	benchKeys    = 64
	benchPayload = 256
)

var benchBatches = []int{1, 100}

func benchBus(b *testing.B) *natsbus.Bus {
	b.Helper()
	if natsURL == "" {
		b.Fatalf("embedded nats cannot start: %v", startErr)
	}
	bb, err := natsbus.New(natsURL)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = bb.Close() })
	return bb
}

// bareJS connects a bare JetStream client and creates topic's stream as
// natsbus would.
func bareJS(b *testing.B, bb *natsbus.Bus, topic string) jetstream.JetStream {
	b.Helper()
	nc, err := nats.Connect(natsURL)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{
		Name: bb.StreamName(topic), Subjects: []string{bb.Subject(topic)},
		Retention: jetstream.LimitsPolicy, Storage: jetstream.FileStorage, Replicas: 1, Duplicates: 2 * time.Minute,
	})
	if err != nil {
		b.Fatal(err)
	}
	return js
}

// barePublish publishes messages first..first+n-1 asynchronously and waits
// for every PubAck.
func barePublish(b *testing.B, js jetstream.JetStream, subject string, first, n int, payload []byte) {
	b.Helper()
	futs := make([]jetstream.PubAckFuture, 0, n)
	for i := first; i < first+n; i++ {
		m := &nats.Msg{Subject: subject, Data: payload, Header: nats.Header{
			jetstream.MsgIDHeader: []string{strconv.Itoa(i)},
			natsbus.HeaderKey:     []string{"k" + strconv.Itoa(i%benchKeys)},
		}}
		f, err := js.PublishMsgAsync(m)
		if err != nil {
			b.Fatal(err)
		}
		futs = append(futs, f)
	}
	for _, f := range futs {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			b.Fatal(err)
		}
	}
}

// BenchmarkPublish times natsbus.Publish of b.N messages, batch at a time,
// from one goroutine.
func BenchmarkPublish(b *testing.B) {
	for _, n := range benchBatches {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			ctx := context.Background()
			bb := benchBus(b)
			topic := bustest.Topic(b, "pub")
			bustest.BenchPublish(ctx, b, bb, topic, n, benchKeys, benchPayload)
		})
	}
}

// BenchmarkBarePublish is BenchmarkPublish with bare JetStream publishes.
func BenchmarkBarePublish(b *testing.B) {
	for _, n := range benchBatches {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			bb := benchBus(b)
			topic := bustest.Topic(b, "barepub")
			js := bareJS(b, bb, topic)
			payload := make([]byte, benchPayload)
			b.ResetTimer()
			for i := 0; i < b.N; i += n {
				barePublish(b, js, bb.Subject(topic), i, min(n, b.N-i), payload)
			}
			b.StopTimer()
			bustest.ReportRate(b, b.N)
		})
	}
}

// BenchmarkNatsBench runs natscli's `nats bench js pub` against the same
// embedded server and a stream created as natsbus creates it, publishing
// b.N 256-byte messages with a Nats-Msg-Id and the key header from one
// client — `sync` (one publish, one PubAck) for batch=1, `async --batch
// 100` for batch=100 — and reports nats bench's own rate. It fails when
// the nats CLI is missing: `make bench` installs a pinned natscli into
// bin/ and puts it on PATH.
func BenchmarkNatsBench(b *testing.B) {
	tool, err := exec.LookPath("nats")
	if err != nil {
		b.Fatal("the nats CLI (natscli) is not on PATH: `make bench` installs it into bin/")
	}
	for _, n := range benchBatches {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			bb := benchBus(b)
			topic := bustest.Topic(b, "natsbench")
			bareJS(b, bb, topic)
			out := filepath.Join(b.TempDir(), "bench.csv")
			args := []string{"bench", "js", "pub", "sync"}
			if n > 1 {
				args = []string{"bench", "js", "pub", "async", "--batch", strconv.Itoa(n)}
			}
			args = append(args, bb.Subject(topic), "-s", natsURL, "--stream", bb.StreamName(topic),
				"--dedup", "-H", natsbus.HeaderKey+":k1", "--size", strconv.Itoa(benchPayload),
				"--msgs", strconv.Itoa(b.N), "--clients", "1", "--no-progress", "--csv", out)
			cmd := exec.CommandContext(context.Background(), tool, args...)
			if msg, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%s: %v\n%s", cmd, err, msg)
			}
			rate, err := natsBenchRate(out)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(rate, "msgs/s")
		})
	}
}

// natsBenchRate reads the MsgsPerSec column of a nats bench CSV file's
// first client row.
func natsBenchRate(path string) (float64, error) {
	f, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	rows, err := csv.NewReader(strings.NewReader(string(f))).ReadAll()
	if err != nil {
		return 0, fmt.Errorf("nats bench csv %s: %w", path, err)
	}
	if len(rows) < 2 {
		return 0, fmt.Errorf("nats bench csv %s: no data rows in %q", path, f)
	}
	col := slices.Index(rows[0], "MsgsPerSec")
	if col < 0 || len(rows[1]) <= col {
		return 0, fmt.Errorf("nats bench csv %s: no MsgsPerSec column in %q", path, f)
	}
	return strconv.ParseFloat(rows[1][col], 64)
}

// prefill publishes n messages to a new topic, untimed.
func prefill(b *testing.B, bb *natsbus.Bus, n int) (string, jetstream.JetStream) {
	b.Helper()
	topic := bustest.Topic(b, "con")
	js := bareJS(b, bb, topic)
	payload := make([]byte, benchPayload)
	for i := 0; i < n; i += 1000 {
		barePublish(b, js, bb.Subject(topic), i, min(1000, n-i), payload)
	}
	return topic, js
}

// BenchmarkConsume times receiving and acking b.N pre-published messages
// through one subscription, from the first delivery to the last ack, with
// 1 or 8 handler goroutines.
func BenchmarkConsume(b *testing.B) {
	for _, workers := range []int{1, 8} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			b.StopTimer()
			bb := benchBus(b)
			topic, _ := prefill(b, bb, b.N)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			ch, err := bb.Subscribe(ctx, topic, "bench")
			if err != nil {
				b.Fatal(err)
			}
			bustest.BenchConsume(ctx, b, ch, workers, 0)
			cancel()
			for range ch {
			}
		})
	}
}

// BenchmarkBareConsume is BenchmarkConsume with a bare pull consumer of
// natsbus's configuration, one goroutine: "ack=double" waits for the
// server to confirm each ack as natsbus does, "ack=async" does not.
func BenchmarkBareConsume(b *testing.B) {
	for _, double := range []bool{true, false} {
		name := "ack=double"
		if !double {
			name = "ack=async"
		}
		b.Run(name, func(b *testing.B) {
			b.StopTimer()
			bb := benchBus(b)
			topic, js := prefill(b, bb, b.N)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			st, err := js.Stream(ctx, bb.StreamName(topic))
			if err != nil {
				b.Fatal(err)
			}
			cons, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
				Durable: natsbus.ConsumerName("bench"), DeliverPolicy: jetstream.DeliverAllPolicy,
				AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second, MaxDeliver: -1, MaxAckPending: 1000,
			})
			if err != nil {
				b.Fatal(err)
			}
			it, err := cons.Messages(jetstream.PullMaxMessages(64))
			if err != nil {
				b.Fatal(err)
			}
			defer it.Stop()
			for i := range b.N {
				m, err := it.Next()
				if err != nil {
					b.Fatal(err)
				}
				if i == 0 {
					b.StartTimer()
				}
				if double {
					err = m.DoubleAck(ctx)
				} else {
					err = m.Ack()
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			bustest.ReportRate(b, b.N)
		})
	}
}
