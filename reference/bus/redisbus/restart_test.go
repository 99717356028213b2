package redisbus_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/harness/env/process"
	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/bustest"
	"github.com/edkit-dev/edkit/reference/bus/redisbus"
)

// TestRestartNoLoss SIGKILLs a Redis of its own (the shared one stays up
// for the other tests) while eight publishers append, restarts it and
// reads the stream back: with AOF and appendfsync always (the process
// provider's Durable) Redis replies to an XADD only after fsyncing it, so
// no acknowledged entry may be missing. With Durable off (no AOF) the same
// run loses every entry written before the kill. A process kill leaves the
// kernel's page cache, so it cannot tell appendfsync always from everysec:
// only a machine crash could.
func TestRestartNoLoss(t *testing.T) {
	server(t) // fails, saying why, where redis-server could not start
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	in, err := process.New().StartInstance(ctx, env.ComponentSpec{Kind: env.KindRedis, Provider: env.Process, Durable: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := in.Close(context.Background()); err != nil {
			t.Errorf("close redis: %v", err)
		}
	})
	a := in.Endpoint().Addrs[0]
	// The run means something only with every write fsynced before its
	// reply; check the server's own view of its config.
	rc := redis.NewClient(&redis.Options{Addr: a})
	got, err := rc.ConfigGet(ctx, "append*").Result()
	_ = rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	if got["appendonly"] != "yes" || got["appendfsync"] != "always" {
		t.Fatalf("redis runs with appendonly=%q appendfsync=%q, want yes and always", got["appendonly"], got["appendfsync"])
	}
	bustest.RestartNoLoss(t, bustest.RestartConfig{
		NewBus: func(t *testing.T) bus.Bus {
			t.Helper()
			b, err := redisbus.New(a)
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
		Kill:    in.Kill,
		Restart: in.Restart,
		Topic:   bustest.Topic(t, "restart"),
		// go-redis redials a refused connection for about half a second
		// before failing; stay down longer, so publishes fail too.
		Downtime: 2 * time.Second,
	})
}
