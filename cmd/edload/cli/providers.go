package cli

import (
	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/harness/env/container"
	"github.com/edkit-dev/edkit/harness/env/embedded"
	"github.com/edkit-dev/edkit/harness/env/external"
	"github.com/edkit-dev/edkit/harness/env/process"
)

// providers wires every provider name a spec may use to its
// implementation. It is the one place that does: no global registry.
// The container provider uses official images unless EDKIT_IMAGES=local
// (edkit's offline images from `make images`).
func providers(ext ...external.Option) []env.StartOption {
	return []env.StartOption{
		env.WithProvider(embedded.New()),
		env.WithProvider(process.New()),
		env.WithProvider(container.New()),
		env.WithProvider(external.New(ext...)),
	}
}
