package chaos_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/edkit-dev/edkit/chaos"
	"github.com/edkit-dev/edkit/harness/clock"
	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/harness/env/process"
)

// TestBrokerFaultsOnARealRedis: a pause and a kill of a real redis-server
// (the process provider) under a client's requests: while each fault is
// held the requests fail, and once During returns the server answers
// again with its data — nothing is left paused or dead.
func TestBrokerFaultsOnARealRedis(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	e, err := env.Start(ctx, env.Spec{Components: []env.ComponentSpec{{Kind: env.KindRedis, Provider: env.Process, Durable: true}}},
		env.WithProvider(process.New()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	comp := e.Component(string(env.KindRedis))
	pause, err := chaos.Pause(comp)
	if err != nil {
		t.Fatal(err)
	}
	kill, err := chaos.Kill(comp)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: comp.Endpoint().Addrs[0], ReadTimeout: 100 * time.Millisecond, WriteTimeout: 100 * time.Millisecond,
		DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	defer func() { _ = c.Close() }()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	sched := chaos.Schedule{Intervals: []chaos.Interval{
		{Fault: 0, Start: 200 * time.Millisecond, End: 900 * time.Millisecond},
		{Fault: 1, Start: 1500 * time.Millisecond, End: 2200 * time.Millisecond},
	}}
	var ok, failed atomic.Int64
	journal, err := chaos.During(ctx, clock.Real{}, sched, []chaos.Fault{pause, kill}, nil, func(ctx context.Context) error {
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if c.Ping(ctx).Err() != nil {
				failed.Add(1)
			} else {
				ok.Add(1)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("during: %v\n%+v", err, journal)
	}
	t.Logf("pings: %d answered, %d failed; journal %+v", ok.Load(), failed.Load(), journal)
	if failed.Load() == 0 || ok.Load() == 0 {
		t.Fatalf("pings %d answered, %d failed: the faults did nothing, or nothing was healed", ok.Load(), failed.Load())
	}
	var v string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if v, err = c.Get(ctx, "k").Result(); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || v != "v" {
		t.Fatalf("after During: %q, %v: the server was left broken or lost its data", v, err)
	}
}

// TestNetworkFaultsOnAProxiedRedis: latency, a one-way partition and
// reset-peer between a client and a real redis-server behind its proxy:
// each shows while held, and the link is clean once healed.
func TestNetworkFaultsOnAProxiedRedis(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	e, err := env.Start(ctx, env.Spec{Components: []env.ComponentSpec{{Kind: env.KindRedis, Provider: env.Process, Proxied: true}}},
		env.WithProvider(process.New()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	comp := e.Component(string(env.KindRedis))
	c := redis.NewClient(&redis.Options{Addr: comp.Endpoint().Addrs[0], ReadTimeout: 300 * time.Millisecond,
		WriteTimeout: 300 * time.Millisecond, DialTimeout: 300 * time.Millisecond, MaxRetries: -1})
	defer func() { _ = c.Close() }()
	ping := func() (time.Duration, error) {
		began := time.Now()
		err := c.Ping(ctx).Err()
		return time.Since(began), err
	}
	latency, err := chaos.Latency(comp, 100*time.Millisecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	oneWay, err := chaos.OneWay(comp)
	if err != nil {
		t.Fatal(err)
	}
	reset, err := chaos.ResetPeer(comp)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		f     chaos.Fault
		broke func(d time.Duration, err error) bool
	}{
		{latency, func(d time.Duration, err error) bool { return err == nil && d >= 100*time.Millisecond }},
		{oneWay, func(_ time.Duration, err error) bool { return err != nil }},
		{reset, func(_ time.Duration, err error) bool { return err != nil }},
	} {
		heal, err := c.f.Inject(ctx)
		if err != nil {
			t.Fatalf("%s: %v", c.f.Name(), err)
		}
		if d, err := ping(); !c.broke(d, err) {
			t.Errorf("%s held: ping took %v, err %v", c.f.Name(), d, err)
		}
		if err := heal(ctx); err != nil {
			t.Fatalf("heal %s: %v", c.f.Name(), err)
		}
		var d time.Duration
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if d, err = ping(); (err == nil && d < 100*time.Millisecond) || time.Now().After(deadline) {
				break
			}
		}
		if err != nil || d >= 100*time.Millisecond {
			t.Errorf("after healing %s: ping %v, %v", c.f.Name(), d, err)
		}
	}
	if _, err := chaos.Latency(e.Component(string(env.KindRedis)).(env.Wrapper).Unwrap(), time.Second, 0); !errors.Is(err, chaos.ErrUnsupported) {
		t.Errorf("latency on a component with no proxy: %v, want ErrUnsupported", err)
	}
}
