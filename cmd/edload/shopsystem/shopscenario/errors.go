package shopscenario

import (
	"errors"

	"github.com/edkit-dev/edkit/scenarios"
)

// SpecError is scenarios.SpecError: a problem at file:line:column.
type SpecError = scenarios.SpecError

var (
	// ErrInvalidScenario is scenarios.ErrInvalidScenario: every *SpecError
	// matches it with errors.Is.
	ErrInvalidScenario = scenarios.ErrInvalidScenario
	// ErrNotQuiescent is returned when the system under test keeps working
	// past the run's timeout after the Given steps, so When cannot start from
	// a settled state.
	ErrNotQuiescent = errors.New("shopscenario: system did not become quiescent")
	// ErrServiceFailed is returned when the shop under test stopped with an
	// error during the run.
	ErrServiceFailed = errors.New("shopscenario: service failed")
)
