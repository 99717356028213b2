package bank

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/saga"
)

// TransferSaga is a transfer as an orchestrated saga: debit the source,
// then credit the destination. A credit that fails, or that has not
// answered within CreditTimeout, is compensated by refunding the debit.
var TransferSaga = saga.Definition{Name: "transfer", Steps: []saga.Step{
	{Name: StepDebit, Compensation: CmdRefund},
	{Name: StepCredit},
}}

// The transfer saga's steps and deadline.
const (
	StepDebit  = "debit"
	StepCredit = "credit"
	// CreditDeadline is set when the credit is asked for and cancelled
	// when it answers; firing, it gives the credit up and refunds.
	CreditDeadline = "credit"
	// CreditTimeout is how long the saga waits for the credit.
	CreditTimeout = time.Minute
)

// ReactTransfer decides the transfer saga's transition for event e (whose
// body is a Msg): ok is false for an event it does not act on, such as a
// credit answering after the saga gave up on it.
func ReactTransfer(s saga.State, e event.Envelope) (t saga.Transition, ok bool, err error) {
	t.Cause = e.ID
	var m Msg
	if err := e.Decode(&m); err != nil {
		return t, false, err
	}
	if s.Status != saga.Running && e.Type != EvRefunded {
		return t, false, nil
	}
	switch e.Type {
	case EvDebited:
		t.Done, t.Data = StepDebit, e.Data
		t.Schedule = []saga.Deadline{{Name: CreditDeadline, At: e.Time.Add(CreditTimeout)}}
		err = send(&t, Msg{Type: CmdCredit, Transfer: m.Transfer, Account: m.To, From: m.From, To: m.To, Amount: m.Amount})
	case EvDebitRejected:
		t.Failed = m.Reason
	case EvCredited:
		t.Done, t.Cancel = StepCredit, []string{CreditDeadline}
	case EvCreditFailed:
		t.Failed, t.Cancel = m.Reason, []string{CreditDeadline}
		err = send(&t, refund(m))
	case EvRefunded:
		t.Compensated = StepDebit
	default:
		return t, false, nil
	}
	return t, err == nil, err
}

// OnTransferDeadline gives up on a credit that did not answer in time.
func OnTransferDeadline(s saga.State, d saga.Deadline) (saga.Transition, error) {
	t := saga.Transition{Cause: d.Cause(), Fired: d.Name, Failed: "credit timed out"}
	var debited Msg
	if err := json.Unmarshal(s.Data, &debited); err != nil {
		return t, fmt.Errorf("bank: transfer saga data: %w", err)
	}
	return t, send(&t, refund(debited))
}

func refund(m Msg) Msg {
	return Msg{Type: CmdRefund, Transfer: m.Transfer, Account: m.From, From: m.From, To: m.To, Amount: m.Amount}
}

func send(t *saga.Transition, m Msg) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	t.Commands = append(t.Commands, b)
	return nil
}

// outcome names where a transfer stands, in the bank's words.
func outcome(s saga.State) string {
	switch s.Status {
	case saga.Completed:
		return Completed
	case saga.Compensated:
		if len(s.Done) == 0 {
			return Rejected
		}
		return Compensated
	case saga.Compensating:
		return Compensating
	}
	return Pending
}
