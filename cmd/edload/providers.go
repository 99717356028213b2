package main

import (
	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/harness/env/external"
)

// providers wires every provider name a spec may use to its
// implementation. It is the one place that does: no global registry.
func providers() []env.StartOption {
	return []env.StartOption{
		env.WithProvider(external.New()),
	}
}
