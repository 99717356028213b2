package brokerbench_test

import (
	"fmt"
	"time"

	"github.com/edkit-dev/edkit/brokerbench"
)

// A workload is checked before anything starts; each problem names its
// field. With a valid one, brokerbench.StartBroker and brokerbench.Compare
// run it with both clients (see the package tests).
func ExampleWorkload_Validate() {
	w := brokerbench.Workload{
		Mode:        brokerbench.ProduceConsume,
		Producers:   4,
		Consumers:   0,
		MessageSize: 1024,
		Partitions:  16,
		Batch:       10,
		Duration:    time.Minute,
	}
	fmt.Println(w.Validate())
	// Output: brokerbench: Consumers 0: want 1 to 1024
}
