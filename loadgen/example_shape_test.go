package loadgen_test

import (
	"fmt"

	"github.com/edkit-dev/edkit/loadgen"
)

func ExampleParseRate() {
	for _, flag := range []string{"100", "ramp:100-1000/30s", "steps:100/10s,200/10s", "ramp:100-1000"} {
		p, err := loadgen.ParseRate(flag)
		if err != nil {
			fmt.Println("--rate:", err)
			continue
		}
		fmt.Println(p, "request 16500 due at", p.(loadgen.Scheduler).Due(16500))
	}
	// Output:
	// constant{rate=100/s} request 16500 due at 2m45s
	// ramp{100/s→1000/s over 30s} request 16500 due at 30s
	// steps{100/s for 10s, 200/s for 10s} request 16500 due at 1m27.5s
	// --rate: ramp "100-1000" wants FROM-TO/DURATION, e.g. ramp:100-1000/30s: loadgen: malformed spec
}

func ExampleParseKeys() {
	spec, err := loadgen.ParseKeys("seq:3")
	if err != nil {
		fmt.Println("--keys:", err)
		return
	}
	dist, err := loadgen.NewKeyDist(spec, 2, 1)
	if err != nil {
		fmt.Println("--keys:", err)
		return
	}
	for n := range uint64(7) {
		p := dist.Key(n)
		fmt.Printf("request %d: key %d op %d round %d\n", n, p.Key, p.Op, p.Round)
	}
	_, err = loadgen.ParseKeys("hot:1.5/10")
	fmt.Println("--keys:", err)
	// Output:
	// request 0: key 0 op 0 round 0
	// request 1: key 0 op 1 round 0
	// request 2: key 0 op 2 round 0
	// request 3: key 1 op 0 round 0
	// request 4: key 1 op 1 round 0
	// request 5: key 1 op 2 round 0
	// request 6: key 0 op 0 round 1
	// --keys: hot fraction 1.5 (want 0 to 1): loadgen: invalid key distribution
}
