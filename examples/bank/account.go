package bank

import (
	"fmt"

	"github.com/edkit-dev/edkit/reference/cqrs"
	"github.com/edkit-dev/edkit/reference/event"
)

// Account is one account's state, folded from its events.
type Account struct {
	Open    bool
	Balance int64
	Frozen  bool
}

// AccountDecider is the account aggregate as a cqrs.Decider: a command (a
// Msg of a Cmd type) decides one event, whose body is the answering Msg
// (an Ev type). A refusal is an event too — debit-rejected, credit-failed,
// with the error as its Reason — so that the saga hears of it; the decider
// itself never fails a command.
func AccountDecider() cqrs.Decider[Account, Msg] {
	return cqrs.Decider[Account, Msg]{
		Initial: func() Account { return Account{} },
		Evolve:  evolveAccount,
		Decide:  decideAccount,
	}
}

// AccountStream names account's stream.
func AccountStream(account string) string { return "account-" + account }

func decideAccount(a Account, c Msg) ([]event.Envelope, error) {
	ev := c
	ev.Type = answer(a, c)
	if err := refusal(a, c); err != nil {
		ev.Reason = err.Error()
	}
	e, err := event.New("", ev.Type, AccountStream(c.Account), ev)
	return []event.Envelope{e}, err
}

// answer is the event type that answers c on a.
func answer(a Account, c Msg) string {
	ok := refusal(a, c) == nil
	switch c.Type {
	case CmdOpen:
		return EvOpened
	case CmdFreeze:
		return EvFrozen
	case CmdDebit:
		return pick(ok, EvDebited, EvDebitRejected)
	case CmdCredit:
		return pick(ok, EvCredited, EvCreditFailed)
	case CmdRefund:
		return EvRefunded
	}
	return EvCommandRejected
}

func pick(ok bool, yes, no string) string {
	if ok {
		return yes
	}
	return no
}

// refusal is why a cannot do c, nil when it can. A refund goes back where
// the money came from, so a frozen account still takes its own money back.
func refusal(a Account, c Msg) error {
	switch c.Type {
	case CmdOpen, CmdRefund:
		return nil
	case CmdFreeze, CmdDebit, CmdCredit:
		switch {
		case !a.Open:
			return ErrNoAccount
		case a.Frozen && c.Type != CmdFreeze:
			return ErrFrozen
		case c.Type == CmdDebit && a.Balance < c.Amount:
			return ErrInsufficientFunds
		}
		return nil
	}
	return fmt.Errorf("bank: unknown command %q", c.Type)
}

func evolveAccount(a Account, e event.Envelope) (Account, error) {
	var m Msg
	if err := e.Decode(&m); err != nil {
		return a, err
	}
	if m.Reason != "" {
		return a, nil // a refusal changes nothing
	}
	switch e.Type {
	case EvOpened:
		a = Account{Open: true, Balance: m.Amount}
	case EvFrozen:
		a.Frozen = true
	case EvDebited:
		a.Balance -= m.Amount
	case EvCredited, EvRefunded:
		a.Balance += m.Amount
	}
	return a, nil
}

// movesMoney reports whether an event of type typ moved money.
func movesMoney(typ string) bool {
	return typ == EvDebited || typ == EvCredited || typ == EvRefunded
}
