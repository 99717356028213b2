package natsbus_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/harness/env/embedded"
	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/bustest"
	"github.com/edkit-dev/edkit/reference/bus/natsbus"
)

// TestRestartNoLoss SIGKILLs a JetStream server of its own (an
// edkit-broker child process, durable: file store with sync always) twice
// while eight publishers publish and one or three members of a durable
// consumer consume, restarting it each time: a
// PubAck comes only after the stored message was fsynced, so no
// acknowledged message may be missing. Without sync (Durable off, and the
// store dir kept) JetStream acknowledges from the page cache; a SIGKILL of
// the process alone does not lose that, only a machine crash would, so
// this run cannot tell sync from no sync — what it checks is the client:
// reconnecting, reporting in-flight publishes as outcome unknown.
func TestRestartNoLoss(t *testing.T) {
	url(t) // fails, saying why, where embedded NATS could not start
	for _, members := range []int{1, 3} {
		t.Run(fmt.Sprintf("members=%d", members), func(t *testing.T) { restartRun(t, members) })
	}
}

func restartRun(t *testing.T, members int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	e, err := env.Start(ctx, env.Spec{Components: []env.ComponentSpec{{Kind: env.KindNATS, Provider: env.Embedded,
		Durable: true, Options: map[string]string{"mode": "child"}}}}, env.WithProvider(embedded.New()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("close nats: %v", err)
		}
	})
	c := e.Component("nats")
	killer, kok := c.(env.Killer)
	restarter, rok := c.(env.Restarter)
	if !kok || !rok {
		t.Fatalf("child-mode nats handle %T cannot kill and restart", c)
	}
	u := c.Endpoint().URL
	bustest.RestartNoLoss(t, bustest.RestartConfig{
		NewBus: func(t *testing.T) bus.Bus {
			t.Helper()
			b, err := natsbus.New(u, natsbus.OpTimeout(3*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
		Kill:    killer.Kill,
		Restart: restarter.Restart,
		Topic:   bustest.Topic(t, "restart"),
		Members: members,
		// A restart may redeliver what each member had fetched and not yet
		// acked (up to MaxBuffered, 256): 196 of about 3,000 were measured
		// with three members.
		MaxDuplicates: members * 2 * 256,
		// nats.go buffers publishes while it reconnects; stay down past
		// the 3 s publish deadline so some give up with their outcome
		// unknown and are sent (or not) once it reconnects.
		Downtime: 4 * time.Second,
	})
}
