package harness

import (
	"strings"
	"testing"
)

// TestBrokerPartitionsBounded: a partition count that would exhaust memory
// is refused before the embedded broker starts.
func TestBrokerPartitionsBounded(t *testing.T) {
	st, err := Broker{Kind: BrokerKafka, Partitions: 1_000_000_000}.start(t.Context(), []string{"t"})
	if err == nil {
		st.stop()
		t.Fatal("a billion partitions started")
	}
	if !strings.Contains(err.Error(), "want at most 4096") {
		t.Errorf("error %q does not name the bound", err)
	}
}
