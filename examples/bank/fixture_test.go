package bank

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/saga"
	"github.com/edkit-dev/edkit/scenarios/fixture"
)

// The account aggregate and the balances projection on edkit's
// given/when/then fixtures.

func msg(typ, account string, amount int64, transfer string) Msg {
	return Msg{Type: typ, Account: account, Amount: amount, Transfer: transfer, From: account, To: "bob"}
}

func ev(m Msg) event.Envelope { return fixture.Event(m.Type, m) }

func refused(m Msg, typ string, err error) event.Envelope {
	m.Type, m.Reason = typ, err.Error()
	return fixture.Event(typ, m)
}

func TestAccountAggregate(t *testing.T) {
	alice := fixture.ForAggregate(t, AccountDecider())
	opened := ev(msg(EvOpened, "alice", 100, ""))

	alice.When(msg(CmdOpen, "alice", 100, "")).Then(opened).ThenState(Account{Open: true, Balance: 100})
	alice.Given(opened).
		When(msg(CmdDebit, "alice", 30, "t1")).
		Then(ev(msg(EvDebited, "alice", 30, "t1"))).
		ThenState(Account{Open: true, Balance: 70})
	alice.Given(opened).
		When(msg(CmdDebit, "alice", 130, "t1")).
		Then(refused(msg(CmdDebit, "alice", 130, "t1"), EvDebitRejected, ErrInsufficientFunds)).
		ThenState(Account{Open: true, Balance: 100})
	alice.GivenCommands(msg(CmdOpen, "alice", 100, ""), msg(CmdFreeze, "alice", 0, "")).
		When(msg(CmdCredit, "alice", 5, "t2")).
		Then(refused(msg(CmdCredit, "alice", 5, "t2"), EvCreditFailed, ErrFrozen))
	// A refund reaches a frozen account: the money is its own.
	alice.Given(opened, ev(msg(EvFrozen, "alice", 0, ""))).
		When(msg(CmdRefund, "alice", 5, "t2")).
		ThenState(Account{Open: true, Frozen: true, Balance: 105})
	alice.When(msg(CmdDebit, "alice", 1, "t3")).
		Then(refused(msg(CmdDebit, "alice", 1, "t3"), EvDebitRejected, ErrNoAccount))
}

// balances is the projection as the fixture drives it: events as the bus
// delivers them, the inbox keyed by their IDs.
func balances(noDedup bool) fixture.Projection[*projection] {
	return fixture.Projection[*projection]{
		New: func() *projection {
			return &projection{inbox: newInbox(noDedup), balances: map[string]int64{}, state: map[string]string{}}
		},
		Apply: func(p *projection, e event.Envelope) error {
			var m Msg
			if err := e.Decode(&m); err != nil {
				return err
			}
			p.on(e.ID, m)
			return nil
		},
		View: func(p *projection) any { return map[string]any{"balances": p.balances, "transfers": p.state} },
	}
}

// transfer is a transfer's events in order: opened accounts, a debit, a
// failed credit and the refund.
var transfer = fixture.InStream("t1",
	ev(Msg{Type: EvOpened, Account: "alice", Amount: 100}),
	ev(Msg{Type: EvOpened, Account: "bob", Amount: 10}),
	ev(Msg{Type: EvDebited, Transfer: "t1", Account: "alice", From: "alice", To: "bob", Amount: 30}),
	ev(Msg{Type: EvCreditFailed, Transfer: "t1", Account: "bob", From: "alice", To: "bob", Amount: 30, Reason: ErrFrozen.Error()}),
	ev(Msg{Type: EvRefunded, Transfer: "t1", Account: "alice", From: "alice", To: "bob", Amount: 30}),
)

func TestBalancesProjection(t *testing.T) {
	fixture.ForProjection(t, balances(false)).Given(transfer...).
		ThenView(map[string]any{"balances": map[string]int64{"alice": 100, "bob": 10}, "transfers": map[string]string{"t1": Compensated}})
}

// TestBalancesProjectionWithoutDedup: with the NoDedup bug a redelivered
// event is counted twice, and the fixture says so.
func TestBalancesProjectionWithoutDedup(t *testing.T) {
	var r failures
	fixture.ForProjection(&r, balances(true)).Given(transfer...).
		ThenView(map[string]any{"balances": map[string]int64{"alice": 100, "bob": 10}, "transfers": map[string]string{"t1": Compensated}})
	if len(r) != 1 || !strings.Contains(r[0], "delivered a second time changed the read model") {
		t.Fatalf("the fixture reported %q; want the redelivery that changed the balances", r)
	}
}

// failures is a fixture.T that keeps what it is told.
type failures []string

func (f *failures) Helper()                        {}
func (f *failures) Errorf(format string, a ...any) { *f = append(*f, fmt.Sprintf(format, a...)) }

func transferSaga() fixture.Saga {
	return fixture.Saga{Definition: TransferSaga, React: ReactTransfer, OnDeadline: OnTransferDeadline}
}

var (
	debit    = Msg{Type: EvDebited, Transfer: "t1", Account: "alice", From: "alice", To: "bob", Amount: 30}
	credit   = Msg{Type: CmdCredit, Transfer: "t1", Account: "bob", From: "alice", To: "bob", Amount: 30}
	refundIt = Msg{Type: CmdRefund, Transfer: "t1", Account: "alice", From: "alice", To: "bob", Amount: 30}
)

func TestTransferSaga(t *testing.T) {
	debited := fixture.ForSaga(t, transferSaga()).Given(ev(debit))
	fixture.ForSaga(t, transferSaga()).When(ev(debit)).
		ThenDispatched(credit).ThenScheduled(CreditDeadline, CreditTimeout)
	debited.When(ev(Msg{Type: EvCredited, Transfer: "t1", Account: "bob", Amount: 30})).
		ThenNothingDispatched().ThenCancelled(CreditDeadline).ThenStatus(saga.Completed)
	debited.When(ev(Msg{Type: EvCreditFailed, Transfer: "t1", Account: "bob", From: "alice", To: "bob", Amount: 30, Reason: ErrFrozen.Error()})).
		ThenDispatched(refundIt).ThenCancelled(CreditDeadline).ThenStatus(saga.Compensating)
	// The credit never answers: a minute of virtual time later the
	// deadline fires and the debit is refunded.
	debited.WhenTimeElapses(CreditTimeout).ThenDispatched(refundIt).ThenStatus(saga.Compensating)
	debited.GivenTimeElapsed(time.Hour).When(ev(Msg{Type: EvRefunded, Transfer: "t1", Account: "alice", Amount: 30})).
		ThenStatus(saga.Compensated)
	// A credit that answers after the saga gave up is not acted on.
	debited.GivenTimeElapsed(time.Hour).When(ev(Msg{Type: EvCredited, Transfer: "t1", Account: "bob", Amount: 30})).
		ThenNothingDispatched().ThenStatus(saga.Compensating)
	fixture.ForSaga(t, transferSaga()).When(ev(Msg{Type: EvDebitRejected, Transfer: "t1", Reason: ErrInsufficientFunds.Error()})).
		ThenNothingDispatched().ThenStatus(saga.Compensated)
}

// TestTransferSagaSkippingCompensation: the SkipCompensation bug, as a
// saga that decides the failure and sends no refund, fails the fixture
// naming the refund it did not send.
func TestTransferSagaSkippingCompensation(t *testing.T) {
	broken := transferSaga()
	broken.React = func(s saga.State, e event.Envelope) (saga.Transition, bool, error) {
		tr, ok, err := ReactTransfer(s, e)
		if tr.Failed != "" {
			tr.Commands = nil
		}
		return tr, ok, err
	}
	var r failures
	fixture.ForSaga(&r, broken).Given(ev(debit)).
		When(ev(Msg{Type: EvCreditFailed, Transfer: "t1", Account: "bob", From: "alice", To: "bob", Amount: 30, Reason: ErrFrozen.Error()})).
		ThenDispatched(refundIt)
	if len(r) != 1 || !strings.Contains(r[0], `command 1: missing, want {"type":"refund"`) {
		t.Fatalf("the fixture reported %q; want the missing refund named", r)
	}
}
