package bank

// The glue that lets edkit run the bank's scenario files (scenarios/*.yaml):
// the types the files name, the setup, and how a command, a view and a
// deadline reach the bank.

import (
	"context"
	"fmt"
	"time"

	"github.com/edkit-dev/edkit/harness"
	"github.com/edkit-dev/edkit/scenarios"
)

// TransferCmd is a scenario's "Transfer" command: the step's id is the
// transfer's ID, so `times: 2` sends a duplicate.
type TransferCmd struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Amount int64  `json:"amount"`
}

// OpenCmd is a scenario's "Open" command: an account with its opening
// balance.
type OpenCmd struct {
	Account string `json:"account"`
	Balance int64  `json:"balance"`
}

// FreezeCmd is a scenario's "Freeze" command.
type FreezeCmd struct {
	Account string `json:"account"`
}

// Setup is a scenario file's `setup:` section.
type Setup struct {
	// Accounts acc-00 … are opened with Balance each (and acc-frozen,
	// frozen), as under load.
	Accounts int   `json:"accounts"`
	Balance  int64 `json:"balance"`
	Bugs     struct {
		SkipCompensation bool `json:"skipCompensation"`
		NoDedup          bool `json:"noDedup"`
	} `json:"bugs"`
}

var (
	_ scenarios.Speaker      = (*System)(nil)
	_ scenarios.Configurable = (*System)(nil)
	_ scenarios.Dispatcher   = (*instance)(nil)
	_ scenarios.Viewer       = (*instance)(nil)
	_ scenarios.Deadlines    = (*instance)(nil)
)

// Vocabulary is what the bank's scenario files may name.
func (s *System) Vocabulary() *scenarios.Vocabulary {
	v := &scenarios.Vocabulary{}
	scenarios.Define[TransferCmd](v, scenarios.KindCommand, "Transfer")
	scenarios.Define[OpenCmd](v, scenarios.KindCommand, "Open")
	scenarios.Define[FreezeCmd](v, scenarios.KindCommand, "Freeze")
	scenarios.Define[Msg](v, scenarios.KindMessage, "Msg")
	return scenarios.Setup[Setup](v)
}

// Configure is the bank a file's setup describes.
func (s *System) Configure(setup any) (harness.System, error) {
	st := setup.(*Setup)
	cfg := s.cfg
	cfg.Accounts, cfg.Balance = st.Accounts, st.Balance
	cfg.SkipCompensation, cfg.NoDedup = st.Bugs.SkipCompensation, st.Bugs.NoDedup
	return New(cfg), nil
}

// Dispatch sends a scenario's command.
func (in *instance) Dispatch(ctx context.Context, id string, cmd any) error {
	switch c := cmd.(type) {
	case *TransferCmd:
		in.mu.Lock()
		if !in.seen[id] { // a retry (`times: 2`) is the same transfer
			if in.seen == nil {
				in.seen = map[string]bool{}
			}
			in.seen[id] = true
			in.dispatched = append(in.dispatched, id)
		}
		in.mu.Unlock()
		in.env.Settled.Start(id, time.Now())
		return in.Transfer(ctx, id, c.From, c.To, c.Amount)
	case *OpenCmd:
		return in.Open(ctx, c.Account, c.Balance)
	case *FreezeCmd:
		return in.Freeze(ctx, c.Account)
	}
	return fmt.Errorf("bank: no command %T", cmd)
}

// BalanceRow and TransferRow are the bank's views as scenarios see them.
type (
	BalanceRow struct {
		Balance int64 `json:"balance"`
	}
	TransferRow struct {
		Status string `json:"status"`
	}
)

// View reads the balances projection: "balance" by account, "transfer" by
// transfer ID.
func (in *instance) View(_ context.Context, name, id string) (any, bool, error) {
	switch name {
	case "balance":
		return BalanceRow{in.Balance(id)}, true, nil
	case "transfer":
		st := in.Status(id)
		return TransferRow{st}, st != "", nil
	}
	return nil, false, fmt.Errorf("bank: no view %q (want balance or transfer)", name)
}
