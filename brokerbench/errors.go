package brokerbench

import (
	"errors"
	"fmt"
)

var (
	// ErrBadWorkload marks an invalid Workload or mode name.
	ErrBadWorkload = errors.New("brokerbench: bad workload")
	// ErrUnknownBroker marks a broker name brokerbench has no clients for.
	ErrUnknownBroker = errors.New("brokerbench: unknown broker")
	// ErrNotReady means the consumers did not all receive a warm-up
	// message in time: the group never settled, or a consumer is stuck.
	ErrNotReady = errors.New("brokerbench: consumers not ready")
)

// IncompleteError says a client's consumers did not receive what its
// producers had published (acknowledged) before the drain deadline, or
// received more: a loss or a duplicate, which makes its figures
// incomparable. Compare returns it with the Result.
type IncompleteError struct {
	Client   Client
	Produced uint64
	Consumed uint64
}

func (e *IncompleteError) Error() string {
	if e.Consumed > e.Produced {
		return fmt.Sprintf("brokerbench: %s: consumed %d of %d produced: %d duplicates", e.Client, e.Consumed, e.Produced, e.Consumed-e.Produced)
	}
	return fmt.Sprintf("brokerbench: %s: consumed %d of %d produced before the drain deadline", e.Client, e.Consumed, e.Produced)
}
