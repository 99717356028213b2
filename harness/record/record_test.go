package record

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/edkit-dev/edkit/harness/history"
	"github.com/edkit-dev/edkit/reference/bus"
)

func TestPublishOutcome(t *testing.T) {
	refused := errors.New("message too large")
	tests := []struct {
		name string
		err  error
		n    int
		want history.Type
	}{
		{"ok", nil, 1, history.OK},
		{"refused single message", refused, 1, history.Fail},
		{"refused batch may be partly written", refused, 3, history.Info},
		{"outcome unknown", fmt.Errorf("publish: %w: timeout", bus.ErrOutcomeUnknown), 1, history.Info},
		{"cancelled", fmt.Errorf("write: %w", context.Canceled), 1, history.Info},
		{"deadline", context.DeadlineExceeded, 1, history.Info},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := publishOutcome(tt.err, tt.n); got != tt.want {
				t.Fatalf("publishOutcome(%v, %d) = %s, want %s", tt.err, tt.n, got, tt.want)
			}
		})
	}
}
