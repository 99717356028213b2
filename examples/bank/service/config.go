package service

import (
	"errors"
	"time"

	"github.com/edkit-dev/edkit/examples/bank"
)

// Defaults for Config's zero fields.
const (
	DefaultIn                = bank.TopicCommands
	DefaultOut               = bank.TopicEvents
	DefaultGroup             = "bank-service"
	DefaultCorrelationHeader = "correlation-id"
	DefaultHoldFor           = 500 * time.Millisecond
	DefaultInboxSize         = 1 << 16
)

// HeaderCausation carries, on an answer, the message ID of the command it
// answers.
const HeaderCausation = "causation-id"

// Config says where the service reads and writes, and which misbehaviour
// is on. Zero fields take the defaults above.
type Config struct {
	// In is the command topic, consumed as Group; Out the answer topic.
	In, Out, Group string
	// CorrelationHeader names the header copied from a command to its
	// answer.
	CorrelationHeader string

	// Misbehaviour, 0 = off. Answers are counted from 1 in the order they
	// are produced (the order commands are handled); answer n is
	// misbehaved when n is a multiple of the setting:
	//   - DropEvery: not published (its command is still acked and
	//     applied). A drop wins over the others.
	//   - DuplicateEvery: published twice, under two message IDs, with
	//     the same payload and headers otherwise.
	//   - ReorderEvery: held back and published right after the next
	//     answer of its account, or after HoldFor when none comes — late,
	//     not lost. An answer that releases a held one is never held
	//     itself. Held answers still held when Run ends are published
	//     before it returns.
	DropEvery, DuplicateEvery, ReorderEvery int

	// HoldFor bounds how long ReorderEvery holds an answer back (default
	// DefaultHoldFor).
	HoldFor time.Duration
	// InboxSize is how many recent command IDs the inbox remembers
	// (default DefaultInboxSize); an older command redelivered is
	// answered again.
	InboxSize int
}

func (c Config) withDefaults() Config {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.In, DefaultIn)
	def(&c.Out, DefaultOut)
	def(&c.Group, DefaultGroup)
	def(&c.CorrelationHeader, DefaultCorrelationHeader)
	if c.HoldFor == 0 {
		c.HoldFor = DefaultHoldFor
	}
	if c.InboxSize == 0 {
		c.InboxSize = DefaultInboxSize
	}
	return c
}

// Validate reports every problem with c, after defaults, each a
// *FieldError wrapping ErrBadConfig.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(field, problem string) { errs = append(errs, &FieldError{Field: field, Problem: problem}) }
	if c.In == c.Out {
		bad("Out", "is the input topic too: the service would answer its own answers")
	}
	if c.CorrelationHeader == HeaderCausation {
		bad("CorrelationHeader", "is "+HeaderCausation+", which the service sets itself")
	}
	for _, f := range []struct {
		name string
		n    int
	}{{"DropEvery", c.DropEvery}, {"DuplicateEvery", c.DuplicateEvery}, {"ReorderEvery", c.ReorderEvery}, {"InboxSize", c.InboxSize}} {
		if f.n < 0 {
			bad(f.name, "is negative")
		}
	}
	if c.HoldFor < 0 {
		bad("HoldFor", "is negative")
	}
	return errors.Join(errs...)
}
