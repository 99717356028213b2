package service_test

import (
	"context"
	"fmt"

	"github.com/edkit-dev/edkit/examples/bank/service"
	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/membus"
)

// The service answers a command on its output topic, with the command's
// correlation header and, as causation, the command's ID.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	b := membus.New()
	svc := service.New(b, service.Config{})
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	<-svc.Ready()

	answers, _ := b.Subscribe(ctx, service.DefaultOut, "example")
	c := &bus.Message{ID: "cmd-1", Topic: service.DefaultIn, Key: "alice",
		Payload: []byte(`{"type":"open","account":"alice","amount":100}`)}
	c.SetHeader(service.DefaultCorrelationHeader, "req-1")
	_ = b.Publish(ctx, c)

	d := <-answers
	m := d.Message()
	fmt.Println(m.Key, m.Header(service.DefaultCorrelationHeader), m.Header(service.HeaderCausation))
	fmt.Println(string(m.Payload))
	cancel()
	fmt.Println("Run:", <-done)
	// Output:
	// alice req-1 cmd-1
	// {"type":"opened","account":"alice","amount":100}
	// Run: <nil>
}
