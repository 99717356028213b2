package kafkabus_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/harness/env/embedded"
	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/bustest"
	"github.com/edkit-dev/edkit/reference/bus/kafkabus"
)

// TestRestartNoLoss SIGKILLs a kfake broker (an edkit-broker child process,
// durable: kfake's data dir with synced writes) twice while eight
// publishers produce with acks=all and one or three members of a group
// consume, restarting it each time; every acknowledged message must reach
// the group. The topic is created at broker start (--topics): kfake
// persists seeded topics, but forgets auto-created ones after a SIGKILL.
func TestRestartNoLoss(t *testing.T) {
	for _, members := range []int{1, 3} {
		t.Run(fmt.Sprintf("members=%d", members), func(t *testing.T) { restartRun(t, members) })
	}
}

func restartRun(t *testing.T, members int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	topic := bustest.Topic(t, "restart")
	spec := embedded.KafkaSpec(embedded.Topics(topic), embedded.Partitions(4))
	spec.Durable = true
	spec.Options["mode"] = "child"
	e, err := env.Start(ctx, env.Spec{Components: []env.ComponentSpec{spec}}, env.WithProvider(embedded.New()))
	if err != nil {
		t.Fatalf("embedded kafka cannot start: %v", err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("close kafka: %v", err)
		}
	})
	c := e.Component("kafka")
	killer, kok := c.(env.Killer)
	restarter, rok := c.(env.Restarter)
	if !kok || !rok {
		t.Fatalf("child-mode kafka handle %T cannot kill and restart", c)
	}
	brokers := c.Endpoint().Addrs
	bustest.RestartNoLoss(t, bustest.RestartConfig{
		NewBus: func(t *testing.T) bus.Bus {
			t.Helper()
			b, err := kafkabus.New(brokers, kafkabus.WriteTimeout(2*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
		Kill:    killer.Kill,
		Restart: restarter.Restart,
		Topic:   topic,
		Members: members,
		// Past the writer's 2 s WriteTimeout, so some publishes give up
		// with their outcome unknown instead of riding out the outage.
		Downtime: 3 * time.Second,
	})
}
