package saga_test

import (
	"errors"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/reference/saga"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func TestDeadlines(t *testing.T) {
	pay := saga.Deadline{Name: "payment", At: t0.Add(30 * time.Minute)}
	tests := []struct {
		name    string
		ts      []saga.Transition
		pending []string
		wantErr error
	}{
		{"scheduled", []saga.Transition{{Done: "place", Schedule: []saga.Deadline{pay}}}, []string{"payment"}, nil},
		{"cancelled", []saga.Transition{{Done: "place", Schedule: []saga.Deadline{pay}}, {Done: "reserve", Cancel: []string{"payment"}}}, nil, nil},
		{"fired", []saga.Transition{{Done: "place", Schedule: []saga.Deadline{pay}}, {Cause: pay.Cause(), Fired: "payment", Failed: "timed out"}}, nil, nil},
		{"fired twice", []saga.Transition{{Done: "place", Schedule: []saga.Deadline{pay}}, {Fired: "payment"}, {Fired: "payment"}}, nil, saga.ErrIllegalTransition},
		{"fired when never set", []saga.Transition{{Done: "place"}, {Fired: "payment"}}, nil, saga.ErrIllegalTransition},
		{"gone when the saga ends", []saga.Transition{{Done: "place", Schedule: []saga.Deadline{pay}}, {Done: "reserve"}, {Done: "charge"}}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := fold(t, tt.ts...)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if len(s.Deadlines) != len(tt.pending) {
				t.Fatalf("pending %v, want %v", s.Deadlines, tt.pending)
			}
			for _, n := range tt.pending {
				if _, ok := s.Deadlines[n]; !ok {
					t.Errorf("%s is not pending: %v", n, s.Deadlines)
				}
			}
		})
	}
}

func TestDue(t *testing.T) {
	s, err := fold(t, saga.Transition{Done: "place", Schedule: []saga.Deadline{
		{Name: "b", At: t0.Add(time.Minute)}, {Name: "a", At: t0.Add(time.Minute)}, {Name: "late", At: t0.Add(time.Hour)}}})
	if err != nil {
		t.Fatal(err)
	}
	if due := s.Due(t0); len(due) != 0 {
		t.Errorf("due before time: %v", due)
	}
	due := s.Due(t0.Add(time.Minute))
	if len(due) != 2 || due[0].Name != "a" || due[1].Name != "b" {
		t.Errorf("due = %v, want a then b", due)
	}
}

func TestLatePolicy(t *testing.T) {
	done, err := fold(t, saga.Transition{Done: "place"}, saga.Transition{Done: "reserve"}, saga.Transition{Done: "charge"})
	if err != nil {
		t.Fatal(err)
	}
	running, _ := fold(t, saga.Transition{Done: "place"})
	ignore, reject := def, def
	reject.LatePolicy = saga.RejectLate
	if err := ignore.CheckLate(done, "m-9"); err != nil {
		t.Errorf("IgnoreLate: %v", err)
	}
	var late *saga.LateError
	if err := reject.CheckLate(done, "m-9"); !errors.As(err, &late) || late.Cause != "m-9" || !errors.Is(err, saga.ErrFinished) {
		t.Errorf("RejectLate: %v, want a LateError for m-9", err)
	}
	if err := reject.CheckLate(running, "m-9"); err != nil {
		t.Errorf("RejectLate on a running saga: %v", err)
	}
}

func TestTimers(t *testing.T) {
	ts := saga.NewTimers()
	if _, ok := ts.Next(); ok {
		t.Fatal("an empty set has a next deadline")
	}
	a, _ := fold(t, saga.Transition{Done: "place", Schedule: []saga.Deadline{{Name: "pay", At: t0.Add(2 * time.Minute)}}})
	b, _ := fold(t, saga.Transition{Done: "place", Schedule: []saga.Deadline{{Name: "pay", At: t0.Add(time.Minute)}, {Name: "ship", At: t0.Add(time.Hour)}}})
	ts.Set("a", a)
	ts.Set("b", b)
	if next, _ := ts.Next(); !next.Equal(t0.Add(time.Minute)) {
		t.Errorf("next = %v, want b's pay", next)
	}
	due := ts.Due(t0.Add(2 * time.Minute))
	if len(due) != 2 || due[0].Saga != "b" || due[1].Saga != "a" {
		t.Errorf("due = %v, want b then a", due)
	}
	b2, _ := def.Apply(b, saga.Transition{Done: "reserve", Cancel: []string{"pay"}})
	ts.Set("b", b2)
	if ts.Len() != 2 || len(ts.Due(t0.Add(90*time.Second))) != 0 {
		t.Errorf("after cancelling b's pay: %d pending, due %v", ts.Len(), ts.Due(t0.Add(90*time.Second)))
	}
	ts.Set("a", saga.State{Status: saga.Completed})
	ts.Set("b", saga.State{Status: saga.Completed})
	if ts.Len() != 0 {
		t.Errorf("%d pending after both ended", ts.Len())
	}
}
