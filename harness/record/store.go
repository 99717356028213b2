package record

import (
	"context"
	"errors"
	"strconv"

	"github.com/edkit-dev/edkit/harness/history"
	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/eventstore"
)

// Store wraps an event store so that appends, and version reads made
// through Version, are recorded for the optimistic-concurrency and
// linearizability checkers: each append as an invoke followed by ok, fail
// or info, then one commit per event it made durable. Every other call is
// forwarded unrecorded (the checkers do not model soft deletes, so a run
// they judge should not delete its streams).
//
// A Store records under one process name, and the checkers pair an invoke
// with the next completion of its process: use a Store from one goroutine
// at a time, and give each concurrent writer its own view with As.
type Store struct {
	eventstore.Store
	rec     *history.Recorder
	process string
}

var _ eventstore.Store = (*Store)(nil)

// NewStore wraps inner, recording into rec under process.
func NewStore(inner eventstore.Store, rec *history.Recorder, process string) *Store {
	return &Store{Store: inner, rec: rec, process: process}
}

// As returns a view of s that records under process, sharing the inner
// store and the recorder: one per concurrent writer.
func (s *Store) As(process string) *Store {
	return &Store{Store: s.Store, rec: s.rec, process: process}
}

// Append records and forwards. The invoke names the expected version and
// carries the first event's ID and the event count; an ok carries the
// version after the append, and a retry the store answers without writing
// records its commits again, at the same versions.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...event.Envelope) (eventstore.AppendResult, error) {
	inv := history.Op{Process: s.process, Type: history.Invoke, F: history.Append, Key: stream,
		Value: expectedValue(expected), Seq: int64(len(events))}
	if len(events) > 0 {
		inv.MsgID = events[0].ID
	}
	inv = s.rec.Record(inv)
	res, err := s.Store.Append(ctx, stream, expected, events...)
	done := inv
	done.Type = appendOutcome(err)
	if err != nil {
		done.Error = err.Error()
		s.rec.Record(done)
		return res, err
	}
	done.Seq = int64(res.NextExpected)
	s.rec.Record(done)
	first := int64(res.NextExpected) - int64(len(events)) + 1
	for i, e := range events {
		s.rec.Record(history.Op{Process: s.process, Type: history.OK, F: history.Commit, Key: stream,
			MsgID: e.ID, Seq: first + int64(i)})
	}
	return res, nil
}

// Version reads stream's version (0 when it does not exist) from its
// newest event, and records the read. A read that fails is recorded as a
// fail whatever the cause: a read has no effect, so an unknown outcome
// would tell the checkers nothing more.
func (s *Store) Version(ctx context.Context, stream string) (uint64, error) {
	inv := s.rec.Record(history.Op{Process: s.process, Type: history.Invoke, F: history.Read, Key: stream})
	evs, err := s.ReadStreamBackwards(ctx, stream, eventstore.End, 1)
	var v uint64
	switch {
	case err == nil:
		if len(evs) > 0 {
			v = evs[0].Version
		}
	case !errors.Is(err, eventstore.ErrStreamNotFound):
		done := inv
		done.Type, done.Error = history.Fail, err.Error()
		s.rec.Record(done)
		return 0, err
	}
	done := inv
	done.Type, done.Seq = history.OK, int64(v)
	s.rec.Record(done)
	return v, nil
}

// expectedValue is history.Append's spelling of an expectation.
func expectedValue(e eventstore.ExpectedVersion) string {
	switch e {
	case eventstore.Any:
		return "any"
	case eventstore.NoStream:
		return "no-stream"
	case eventstore.StreamExists:
		return "exists"
	}
	return strconv.FormatInt(int64(e), 10)
}

// appendOutcome classifies an append's error: a concurrency conflict, or
// an append the contract says is refused before anything is written (a
// malformed one, or one whose event IDs clash with stored ones), surely did
// not happen (Fail); a cancelled or timed-out call, or any other error, may
// have written the events (Info).
func appendOutcome(err error) history.Type {
	var ce *eventstore.ConcurrencyError
	switch {
	case err == nil:
		return history.OK
	case errors.As(err, &ce):
		return history.Fail
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return history.Info
	case errors.Is(err, eventstore.ErrInvalidAppend), errors.Is(err, eventstore.ErrIdempotencyConflict):
		return history.Fail
	}
	return history.Info
}
