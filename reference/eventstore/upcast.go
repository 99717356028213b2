package eventstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/edkit-dev/edkit/reference/event"
)

// maxUpcastSteps bounds one event's chain of upcasts, so a registry that
// loops (A v1 -> B v1 -> A v1) fails with an error instead of spinning.
const maxUpcastSteps = 64

// Upcaster turns events of one type at one schema version into a newer
// shape. Stored events are never rewritten: the old bytes stay as they were
// appended, and readers see the current schema.
type Upcaster struct {
	// Type and From select the events the upcaster reads: Type at
	// SchemaVersion From (an event stored without a schema version is
	// version 1).
	Type string
	From int
	// Up returns the upgraded event. It must raise SchemaVersion or change
	// Type, so the chain always moves forward.
	Up func(e event.Envelope) (event.Envelope, error)
}

type upcastKey struct {
	typ  string
	from int
}

// Upcasters is a registry of upcasters applied in chains: v1 -> v2 -> v3,
// possibly renaming the type on the way.
type Upcasters struct {
	byKey map[upcastKey]Upcaster
}

// NewUpcasters builds a registry, rejecting an upcaster with no type, no
// function, a version below 1, or the same type and version as another.
func NewUpcasters(ups ...Upcaster) (*Upcasters, error) {
	u := &Upcasters{byKey: make(map[upcastKey]Upcaster, len(ups))}
	var errs []error
	for i, up := range ups {
		k := upcastKey{up.Type, up.From}
		switch {
		case up.Type == "":
			errs = append(errs, fmt.Errorf("eventstore: upcaster %d has no type", i))
		case up.Up == nil:
			errs = append(errs, fmt.Errorf("eventstore: upcaster %d (%s v%d) has no function", i, up.Type, up.From))
		case up.From < 1:
			errs = append(errs, fmt.Errorf("eventstore: upcaster %d (%s) reads version %d, want >= 1", i, up.Type, up.From))
		default:
			if _, dup := u.byKey[k]; dup {
				errs = append(errs, fmt.Errorf("eventstore: two upcasters for %s v%d", up.Type, up.From))
				continue
			}
			u.byKey[k] = up
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return u, nil
}

// UpcastError reports an event an upcaster could not upgrade.
type UpcastError struct {
	EventID string
	Type    string
	From    int
	Err     error
}

func (e *UpcastError) Error() string {
	return fmt.Sprintf("eventstore: upcast %s (%s v%d): %v", e.EventID, e.Type, e.From, e.Err)
}

func (e *UpcastError) Unwrap() error { return e.Err }

// Upcast applies the chain to e until no upcaster matches. Identity fields
// (ID, Stream, Version, Position, Time) are the stored event's whatever
// the upcaster returns: upcasting changes the shape, not the history.
func (u *Upcasters) Upcast(e event.Envelope) (event.Envelope, error) {
	if u == nil {
		return e, nil
	}
	for range maxUpcastSteps {
		from := e.SchemaVersion
		if from < 1 {
			from = 1
		}
		up, ok := u.byKey[upcastKey{e.Type, from}]
		if !ok {
			return e, nil
		}
		next, err := up.Up(e.Clone())
		if err != nil {
			return event.Envelope{}, &UpcastError{EventID: e.ID, Type: e.Type, From: from, Err: err}
		}
		if next.Type == e.Type && next.SchemaVersion <= from {
			return event.Envelope{}, &UpcastError{EventID: e.ID, Type: e.Type, From: from,
				Err: fmt.Errorf("upcaster returned version %d, which does not move forward", next.SchemaVersion)}
		}
		next.ID, next.Stream, next.Version, next.Position, next.Time = e.ID, e.Stream, e.Version, e.Position, e.Time
		e = next
	}
	return event.Envelope{}, &UpcastError{EventID: e.ID, Type: e.Type, From: e.SchemaVersion,
		Err: fmt.Errorf("more than %d upcasts: the registry loops", maxUpcastSteps)}
}

func (u *Upcasters) upcastAll(es []event.Envelope) ([]event.Envelope, error) {
	for i, e := range es {
		up, err := u.Upcast(e)
		if err != nil {
			return nil, err
		}
		es[i] = up
	}
	return es, nil
}

// UpcastingStore is a Store whose reads and subscriptions return upcast
// events; appends, metadata and snapshots pass through unchanged. A
// subscription filter by event type matches the stored type, before
// upcasting.
type UpcastingStore struct {
	Store
	up *Upcasters
}

// Upcasting wraps s so every event read from it goes through u.
func Upcasting(s Store, u *Upcasters) *UpcastingStore {
	return &UpcastingStore{Store: s, up: u}
}

// ReadStream implements Store.
func (s *UpcastingStore) ReadStream(ctx context.Context, stream string, from uint64, limit int) ([]event.Envelope, error) {
	es, err := s.Store.ReadStream(ctx, stream, from, limit)
	if err != nil {
		return nil, err
	}
	return s.up.upcastAll(es)
}

// ReadStreamBackwards implements Store.
func (s *UpcastingStore) ReadStreamBackwards(ctx context.Context, stream string, from uint64, limit int) ([]event.Envelope, error) {
	es, err := s.Store.ReadStreamBackwards(ctx, stream, from, limit)
	if err != nil {
		return nil, err
	}
	return s.up.upcastAll(es)
}

// ReadAll implements Store.
func (s *UpcastingStore) ReadAll(ctx context.Context, from uint64, limit int) ([]event.Envelope, error) {
	es, err := s.Store.ReadAll(ctx, from, limit)
	if err != nil {
		return nil, err
	}
	return s.up.upcastAll(es)
}

// SubscribeAll implements Store. An event that fails to upcast ends the
// subscription with its *UpcastError.
func (s *UpcastingStore) SubscribeAll(ctx context.Context, from uint64, opts ...SubscribeOption) (*Subscription, error) {
	ctx, cancel := context.WithCancel(ctx)
	inner, err := s.Store.SubscribeAll(ctx, from, opts...)
	if err != nil {
		cancel()
		return nil, err
	}
	return s.relay(ctx, cancel, inner), nil
}

// SubscribeStream implements Store, like SubscribeAll.
func (s *UpcastingStore) SubscribeStream(ctx context.Context, stream string, from uint64) (*Subscription, error) {
	ctx, cancel := context.WithCancel(ctx)
	inner, err := s.Store.SubscribeStream(ctx, stream, from)
	if err != nil {
		cancel()
		return nil, err
	}
	return s.relay(ctx, cancel, inner), nil
}

// relay upcasts inner's events onto a new subscription. It ends inner
// (through cancel) and waits for its channel to close before closing its
// own, so no goroutine of the inner store outlives the outer subscription.
func (s *UpcastingStore) relay(ctx context.Context, cancel context.CancelFunc, inner *Subscription) *Subscription {
	return Feed(0, func(out chan<- event.Envelope) error {
		defer func() {
			cancel()
			for range inner.C {
				// drain, so the inner feed can exit
			}
		}()
		for {
			select {
			case e, ok := <-inner.C:
				if !ok {
					return inner.Err()
				}
				up, err := s.up.Upcast(e)
				if err != nil {
					return err
				}
				select {
				case out <- up:
				case <-ctx.Done():
					return ctx.Err()
				}
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}, nil)
}
