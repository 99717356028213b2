package redisbus_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/edkit-dev/edkit/reference/bus/bustest"
	"github.com/edkit-dev/edkit/reference/bus/redisbus"
)

// The benchmarks put redisbus beside a bare go-redis loop doing the same
// commands (pipelined XADD of the same fields; XREADGROUP of 64 entries
// and one XACK per entry), on the TestMain's redis-server, so the ratio is
// what redisbus costs. Messages are spread over benchKeys keys and carry
// benchPayload bytes.
const (
	benchKeys    = 64
	benchPayload = 256
)

var benchBatches = []int{1, 100}

func benchBus(b *testing.B) *redisbus.Bus {
	b.Helper()
	if addr == "" {
		b.Fatalf("redis-server cannot run: %s", downWhy)
	}
	bb, err := redisbus.New(addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = bb.Close() })
	return bb
}

// bareClient is redisbus's client configuration without redisbus.
func bareClient(b *testing.B) *redis.Client {
	b.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, ContextTimeoutEnabled: true})
	b.Cleanup(func() { _ = c.Close() })
	return c
}

func bareXAdd(stream string, i int, payload []byte) *redis.XAddArgs {
	return &redis.XAddArgs{Stream: stream, Approx: true, Values: []any{
		redisbus.FieldID, strconv.Itoa(i), redisbus.FieldKey, "k" + strconv.Itoa(i%benchKeys), redisbus.FieldPayload, payload,
	}}
}

// bareAppend XADDs messages first..first+n-1 in one pipeline.
func bareAppend(ctx context.Context, b *testing.B, c *redis.Client, stream string, first, n int, payload []byte) {
	b.Helper()
	cmds, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range n {
			p.XAdd(ctx, bareXAdd(stream, first+i, payload))
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range cmds {
		if c.Err() != nil {
			b.Fatal(c.Err())
		}
	}
}

// BenchmarkPublish times redisbus.Publish of b.N messages, batch at a time,
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

// BenchmarkBarePublish is BenchmarkPublish with go-redis XADDs.
func BenchmarkBarePublish(b *testing.B) {
	for _, n := range benchBatches {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			ctx := context.Background()
			stream := benchBus(b).StreamKey(bustest.Topic(b, "barepub"))
			c := bareClient(b)
			payload := make([]byte, benchPayload)
			b.ResetTimer()
			for i := 0; i < b.N; i += n {
				bareAppend(ctx, b, c, stream, i, min(n, b.N-i), payload)
			}
			b.StopTimer()
			bustest.ReportRate(b, b.N)
		})
	}
}

// BenchmarkRedisBenchmarkXADD runs redis-benchmark (Debian redis-tools)
// against the same server, one client, XADD of the same three fields, b.N
// requests pipelined batch at a time, and reports its own rate. It fails
// when redis-benchmark is missing: redis-server depends on redis-tools.
func BenchmarkRedisBenchmarkXADD(b *testing.B) {
	tool, err := exec.LookPath("redis-benchmark")
	if err != nil {
		b.Fatal("redis-benchmark not installed (make deps installs redis-server, which brings redis-tools)")
	}
	for _, n := range benchBatches {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			stream := benchBus(b).StreamKey(bustest.Topic(b, "redis-benchmark"))
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				b.Fatal(err)
			}
			cmd := exec.CommandContext(context.Background(), tool, "-h", host, "-p", port, "-c", "1", "-P", strconv.Itoa(n),
				"-n", strconv.Itoa(b.N), "--csv",
				"XADD", stream, "*", redisbus.FieldID, "1", redisbus.FieldKey, "k1", redisbus.FieldPayload, strings.Repeat("x", benchPayload))
			out, err := cmd.Output()
			if err != nil {
				b.Fatalf("%s: %v", cmd, err)
			}
			rows, err := csv.NewReader(strings.NewReader(string(out))).ReadAll()
			if err != nil || len(rows) < 2 || len(rows[1]) < 2 {
				b.Fatalf("redis-benchmark output %q: %v", out, err)
			}
			rps, err := strconv.ParseFloat(rows[1][1], 64)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(rps, "msgs/s")
		})
	}
}

// prefill appends n messages to a new topic's stream, untimed.
func prefill(b *testing.B, bb *redisbus.Bus, n int) string {
	b.Helper()
	topic := bustest.Topic(b, "con")
	c := bareClient(b)
	payload := make([]byte, benchPayload)
	for i := 0; i < n; i += 1000 {
		bareAppend(context.Background(), b, c, bb.StreamKey(topic), i, min(1000, n-i), payload)
	}
	return topic
}

// BenchmarkConsume times receiving and acking b.N pre-published messages
// through one subscription, from the first delivery to the last ack, with
// 1 or 8 handler goroutines.
func BenchmarkConsume(b *testing.B) {
	for _, workers := range []int{1, 8} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			b.StopTimer()
			bb := benchBus(b)
			topic := prefill(b, bb, b.N)
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

// BenchmarkBareConsume is BenchmarkConsume with a go-redis loop:
// XREADGROUP 64 entries, then one XACK per entry ("ack=each", what a
// handler per message does) or one XACK for all 64 ("ack=batch").
func BenchmarkBareConsume(b *testing.B) {
	for _, batch := range []bool{false, true} {
		name := "ack=each"
		if batch {
			name = "ack=batch"
		}
		b.Run(name, func(b *testing.B) {
			b.StopTimer()
			bb := benchBus(b)
			stream := bb.StreamKey(prefill(b, bb, b.N))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			c := bareClient(b)
			if err := c.XGroupCreateMkStream(ctx, stream, "bench", "0").Err(); err != nil {
				b.Fatal(err)
			}
			for done := 0; done < b.N; {
				res, err := c.XReadGroup(ctx, &redis.XReadGroupArgs{
					Group: "bench", Consumer: "c", Streams: []string{stream, ">"}, Count: 64, Block: 100 * time.Millisecond,
				}).Result()
				if err != nil {
					b.Fatal(err)
				}
				if done == 0 {
					b.StartTimer()
				}
				var ids []string
				for _, st := range res {
					for _, xm := range st.Messages {
						ids = append(ids, xm.ID)
					}
				}
				done += len(ids)
				if batch {
					if err := c.XAck(ctx, stream, "bench", ids...).Err(); err != nil {
						b.Fatal(err)
					}
					continue
				}
				for _, id := range ids {
					if err := c.XAck(ctx, stream, "bench", id).Err(); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StopTimer()
			bustest.ReportRate(b, b.N)
		})
	}
}
