package loadgen_test

import (
	"context"
	"fmt"
	"time"

	"github.com/edkit-dev/edkit/loadgen"
)

func ExampleRun() {
	send := loadgen.DriverFunc(func(ctx context.Context, r loadgen.Request) error {
		return nil // publish r.Payload under r.Key here
	})
	cfg := loadgen.Config{Rate: 1000, Duration: 10 * time.Millisecond, Workers: 2, Keys: 4, PayloadSize: 32, Seed: 7}
	res, err := loadgen.Run(context.Background(), cfg, send)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("sent=%d ok=%d errors=%d latency samples=%d\n", res.Sent, res.OK, res.Errors, res.Latency.Count)
	// Output: sent=10 ok=10 errors=0 latency samples=10
}

func ExampleConfig_Validate() {
	err := loadgen.Config{Rate: -1, Duration: time.Second, Workers: 0, Keys: 1}.Validate()
	fmt.Println(err)
	// Output:
	// rate -1: loadgen: rate must be a positive finite number per second
	// workers 0 (want 1 to 1024): loadgen: workers out of range
}
