package amqpbus_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/harness/env/envtest"
	"github.com/edkit-dev/edkit/harness/env/process"
)

// One RabbitMQ per test binary (it takes seconds to start), durable so
// the reconnect test can kill and restart it without losing queues.
var (
	rabbit     env.Component
	rabbitURL  string
	rabbitDown string
)

func TestMain(m *testing.M) {
	before, err := envtest.Children()
	code := run(m)
	if err == nil {
		leaked, lerr := envtest.Leaked(context.Background(), before, 10*time.Second)
		if lerr != nil || len(leaked) > 0 {
			fmt.Fprintln(os.Stderr, "amqpbus tests: processes left behind:", leaked, lerr)
			code = 1
		}
	}
	os.Exit(code)
}

func run(m *testing.M) int {
	p := process.New()
	if err := p.Supports(env.KindRabbitMQ); err != nil {
		rabbitDown = fmt.Sprintf("rabbitmq process provider unavailable: %v", err)
		fmt.Fprintln(os.Stderr, "amqpbus tests will fail:", rabbitDown)
		return m.Run()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	e, err := env.Start(ctx, env.Spec{Components: []env.ComponentSpec{
		{Kind: env.KindRabbitMQ, Provider: env.Process, Durable: true},
	}}, env.WithProvider(p))
	if err != nil {
		fmt.Fprintln(os.Stderr, "amqpbus tests: start rabbitmq:", err)
		return 1
	}
	rabbit = e.Component("rabbitmq")
	rabbitURL = rabbit.Endpoint().URL
	code := m.Run()
	if err := e.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "amqpbus tests: stop rabbitmq:", err)
		return 1
	}
	return code
}

// needRabbit fails the test when RabbitMQ could not start, saying why: make deps installs it, so CI must run it.
func needRabbit(t *testing.T) {
	t.Helper()
	if rabbitURL == "" {
		t.Fatal(rabbitDown)
	}
}
