// Command edload runs load, consistency gates and chaos against an
// event-driven system and reports what held and what broke. This binary
// carries the reference shop and the echo system (the smallest system, a
// baseline for edkit's own cost); a user's own system gets its own binary
// through package cli (see cli.Main).
//
// Exit codes: 0 every invariant and threshold held; 1 an invariant or
// threshold broke; 2 bad usage or bad input; 3 the environment could not be
// started; 130 interrupted (after cleanup).
package main

import (
	"os"

	"github.com/edkit-dev/edkit/cmd/edload/cli"
	"github.com/edkit-dev/edkit/cmd/edload/echosystem"
	"github.com/edkit-dev/edkit/cmd/edload/shopsystem"
)

func main() {
	os.Exit(cli.Main(shopsystem.New(shopsystem.Config{DeclineEvery: 10}), echosystem.New()))
}
