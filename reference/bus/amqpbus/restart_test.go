package amqpbus_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/amqpbus"
	"github.com/edkit-dev/edkit/reference/bus/bustest"
)

// TestRestartNoLoss SIGKILLs the shared broker twice while eight
// publishers publish confirmed persistent messages and one or three members
// of the group consume, restarting it each time: no confirmed message may
// be missing, on a quorum and on a classic durable queue.
//
// The group queue is declared before the loop and the broker then bounced
// gracefully, so that the kill tests messages, not declarations. Measured
// on Debian's RabbitMQ 3.10, single node: without that bounce a quorum
// queue declared moments before the SIGKILL comes back without a leader —
// every publish routed to it stays unconfirmed (outcome unknown) for the
// whole run and nothing can be consumed — while a classic queue survived
// the two runs tried. With the bounce both survive the SIGKILL with no
// confirmed message lost. Publishing transient messages instead of
// persistent ones makes the classic case fail (every message confirmed
// before the kill was lost); quorum queues persist every message anyway.
func TestRestartNoLoss(t *testing.T) {
	needRabbit(t)
	killer, kok := rabbit.(env.Killer)
	restarter, rok := rabbit.(env.Restarter)
	if !kok || !rok {
		t.Fatalf("the rabbitmq handle %T cannot kill and restart", rabbit)
	}
	for _, qt := range []amqpbus.QueueType{amqpbus.Quorum, amqpbus.Classic} {
		for _, members := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/members=%d", qt, members), func(t *testing.T) {
				restartRun(t, qt, members, killer, restarter)
			})
		}
	}
}

func restartRun(t *testing.T, qt amqpbus.QueueType, members int, killer env.Killer, restarter env.Restarter) {
	t.Helper()
	topic := bustest.Topic(t, "restart")
	opts := []amqpbus.Option{amqpbus.WithQueueType(qt), amqpbus.Reconnect(20*time.Millisecond, 300*time.Millisecond)}
	bustest.RestartNoLoss(t, bustest.RestartConfig{
		NewBus: func(t *testing.T) bus.Bus {
			t.Helper()
			b, err := amqpbus.New(bustest.Context(t, 30*time.Second), rabbitURL, opts...)
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
		Prepare: func(ctx context.Context, b bus.Bus) error {
			if err := b.(*amqpbus.Bus).DeclareGroup(ctx, topic, "restart"); err != nil {
				return err
			}
			return restarter.Restart(ctx)
		},
		Kill:    killer.Kill,
		Restart: restarter.Restart,
		Topic:   topic,
		Group:   "restart",
		Members: members,
		// A stuck quorum queue never confirms: fail in two minutes,
		// not after the default.
		Timeout: 2 * time.Minute,
	})
	if t.Failed() {
		dumpLogs(t)
	}
}
