package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/membus"
	"github.com/edkit-dev/edkit/reference/bus/metrics"
)

// Wire the collectors around a consumer chain: Middleware outermost, the
// dead-letter publisher and hook counted too. Here the chain is called
// directly; bus.Consume would call it per delivery.
func Example() {
	reg := prometheus.NewRegistry() // or prometheus.DefaultRegisterer
	m, err := metrics.New(reg)
	if err != nil {
		panic(err)
	}
	b := membus.New()
	defer func() { _ = b.Close() }()
	pub := m.Publisher(b)

	h := bus.Chain(func(_ context.Context, msg *bus.Message) error {
		if string(msg.Payload) == "garbage" {
			return bus.Permanent(errors.New("cannot decode"))
		}
		return nil
	},
		m.Middleware("billing"),
		bus.DeadLetter(pub, "orders.dlq", "billing", bus.OnDeadLetter(m.OnDeadLetter)),
		bus.Retry(3, nil, nil),
	)
	ctx := context.Background()
	_ = h(ctx, &bus.Message{ID: "1", Topic: "orders", Payload: []byte("ok")})
	_ = h(ctx, &bus.Message{ID: "2", Topic: "orders", Payload: []byte("garbage")})

	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if strings.HasSuffix(mf.GetName(), "_total") {
			for _, s := range mf.GetMetric() {
				fmt.Println(mf.GetName(), s.GetCounter().GetValue())
			}
		}
	}
	// Output:
	// edkit_bus_acked_total 2
	// edkit_bus_dead_lettered_total 1
	// edkit_bus_delivered_total 2
	// edkit_bus_published_total 1
}
