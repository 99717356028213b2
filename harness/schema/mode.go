package schema

import (
	"fmt"
	"strconv"
	"strings"
)

// Mode is a compatibility mode, as the Confluent Schema Registry names
// them. Its *_TRANSITIVE variants are a property of a history of versions,
// not of one pair: CheckDir takes them as its transitive argument.
type Mode int

// The modes.
const (
	// Backward: consumers using the newer schema can read data written
	// with the older one.
	Backward Mode = iota + 1
	// Forward: consumers using the older schema can read data written
	// with the newer one (Backward with the roles swapped).
	Forward
	// Full: both.
	Full
)

// String names the mode as ParseMode reads it.
func (m Mode) String() string {
	switch m {
	case Backward:
		return "backward"
	case Forward:
		return "forward"
	case Full:
		return "full"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

func (m Mode) valid() bool { return m >= Backward && m <= Full }

// ParseMode reads a mode name: backward, forward or full, in any case
// (BACKWARD, as the registry writes it, too).
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "backward":
		return Backward, nil
	case "forward":
		return Forward, nil
	case "full":
		return Full, nil
	}
	return 0, fmt.Errorf("schema: unknown mode %s (want backward, forward or full)", strconv.Quote(s))
}
