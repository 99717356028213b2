package saga_test

import (
	"errors"
	"testing"

	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/saga"
)

// transfer is a choreographed transfer: the source bank debits, the target
// bank credits or reports the credit failed, and then the source refunds.
var transfer = saga.Choreography{
	Definition:  saga.Definition{Name: "transfer", Steps: []saga.Step{{Name: "debit", Compensation: "refund"}, {Name: "credit"}}},
	Done:        map[string]string{"Debited": "debit", "Credited": "credit"},
	Failed:      map[string]string{"CreditFailed": "credit", "DebitRejected": "debit"},
	Compensated: map[string]string{"Refunded": "debit"},
}

func ev(id, typ, saga string) event.Envelope {
	return event.Envelope{ID: id, Type: typ, Metadata: map[string]string{event.MetaCorrelationID: saga}}
}

// TestChoreographyFolds: the sagas' outcomes are folded from the
// participants' events alone — completed, compensated, rejected, and one a
// participant left half done — and redeliveries and other events change
// nothing.
func TestChoreographyFolds(t *testing.T) {
	o := transfer.NewObserver()
	for _, e := range []event.Envelope{
		ev("1", "Debited", "t-1"), ev("2", "Credited", "t-1"), ev("2", "Credited", "t-1"), // redelivered
		ev("3", "Debited", "t-2"), ev("4", "CreditFailed", "t-2"), ev("5", "Refunded", "t-2"),
		ev("6", "DebitRejected", "t-3"),
		ev("7", "Debited", "t-4"), ev("8", "CreditFailed", "t-4"), // the refund never came
		ev("9", "BalanceShown", "t-1"), // not part of the saga
	} {
		if err := o.Observe(e); err != nil {
			t.Fatalf("%s %s: %v", e.ID, e.Type, err)
		}
	}
	for id, want := range map[string]saga.Status{"t-1": saga.Completed, "t-2": saga.Compensated, "t-3": saga.Compensated, "t-4": saga.Compensating} {
		s, ok := o.State(id)
		if !ok || s.Status != want {
			t.Errorf("saga %s: %v (seen %v), want %s", id, s.Status, ok, want)
		}
	}
	if got := o.Sagas(); len(got) != 4 {
		t.Errorf("sagas %v", got)
	}
	o.Forget("t-1")
	if _, ok := o.State("t-1"); ok {
		t.Error("a forgotten saga is still held")
	}
}

// TestChoreographyRefusesIllegalEvents: a participant acting out of turn
// breaks the saga, and the observer says which event did it.
func TestChoreographyRefusesIllegalEvents(t *testing.T) {
	for _, tc := range []struct {
		name   string
		events []event.Envelope
	}{
		{"credit before debit", []event.Envelope{ev("1", "Credited", "t")}},
		{"refund without a failure", []event.Envelope{ev("1", "Debited", "t"), ev("2", "Refunded", "t")}},
		{"a second refund", []event.Envelope{ev("1", "Debited", "t"), ev("2", "CreditFailed", "t"), ev("3", "Refunded", "t"), ev("4", "Refunded", "t")}},
		{"no saga named", []event.Envelope{{ID: "1", Type: "Debited"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := transfer.NewObserver()
			var err error
			for _, e := range tc.events {
				if err = o.Observe(e); err != nil {
					break
				}
			}
			if !errors.Is(err, saga.ErrIllegalTransition) && !errors.Is(err, saga.ErrFinished) {
				t.Fatalf("got %v, want an illegal transition", err)
			}
			if last := tc.events[len(tc.events)-1]; last.Metadata != nil && o.Broken("t") == nil {
				t.Error("the saga is not marked broken")
			}
		})
	}
}
