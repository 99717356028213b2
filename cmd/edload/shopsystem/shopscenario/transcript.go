package shopscenario

import (
	"fmt"
	"strings"
	"time"

	"github.com/edkit-dev/edkit/reference/shop"

	"github.com/edkit-dev/edkit/reports"
)

// Entry kinds of a transcript.
const (
	// KindSend is a message the scenario itself published (Given/When).
	KindSend = "send"
	// KindDeliver is one delivery of a message to a consumer group's handler.
	KindDeliver = "deliver"
	// KindDeadLetter is a message a group gave up on and dead-lettered.
	KindDeadLetter = "dead-letter"
)

// Entry is one line of a transcript.
type Entry struct {
	Seq int
	// At is the time since the run started.
	At    time.Duration
	Kind  string
	Group string
	Topic string
	// Type is the message's type header (command or event type).
	Type string
	ID   string
	Key  string
	// Result is "ok", the handler's error, "running" for a delivery whose
	// handler has not returned, or a dead-letter's reason.
	Result string
	// Attempts is the attempt count of a dead-letter.
	Attempts int
}

// String renders the entry as one transcript line.
func (e Entry) String() string {
	s := fmt.Sprintf("%4d %9s %-11s %-15s %-14s %-22s id=%s key=%s", e.Seq, fmtAt(e.At), e.Kind, e.Group, e.Topic, e.Type, e.ID, e.Key)
	switch e.Kind {
	case KindDeliver:
		s += " → " + e.Result
	case KindDeadLetter:
		s += fmt.Sprintf(" attempts=%d reason=%q", e.Attempts, e.Result)
	}
	return reports.Clean(s)
}

func fmtAt(d time.Duration) string {
	return fmt.Sprintf("+%.1fms", float64(d)/float64(time.Millisecond))
}

// Transcript is every message a run saw, in order: what the scenario sent,
// each delivery to each consumer group with its outcome, and each
// dead-letter. A failed scenario prints it, so the reader sees what the
// system actually did.
type Transcript []Entry

// String renders one entry per line.
func (t Transcript) String() string {
	var b strings.Builder
	for _, e := range t {
		b.WriteString(e.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// Commands returns the types of the commands the command service received
// for an order, each message ID once (its first delivery), leaving out the
// ones the scenario sent itself: the commands the saga issued, in the order
// the command service saw them.
func (t Transcript) Commands(orderID string) []string {
	sent := map[string]bool{}
	for _, e := range t {
		if e.Kind == KindSend {
			sent[e.ID] = true
		}
	}
	seen := map[string]bool{}
	out := []string{}
	for _, e := range t {
		if e.Kind != KindDeliver || e.Group != shop.GroupCommands || e.Key != orderID || sent[e.ID] || seen[e.ID] {
			continue
		}
		seen[e.ID] = true
		out = append(out, e.Type)
	}
	return out
}

// DeadLetters returns the dead-letter entries.
func (t Transcript) DeadLetters() []Entry {
	var out []Entry
	for _, e := range t {
		if e.Kind == KindDeadLetter {
			out = append(out, e)
		}
	}
	return out
}
