package bank

// The glue that makes the bank an edkit system under test: everything
// edkit-specific is in this file.

import (
	"context"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/edkit-dev/edkit/harness"
	"github.com/edkit-dev/edkit/harness/check"
	"github.com/edkit-dev/edkit/reference/saga"
	"github.com/edkit-dev/edkit/reports"
	"github.com/spf13/pflag"
)

// FrozenAccount is the account the system opens frozen, so that transfers
// to it are compensated.
const FrozenAccount = "acc-frozen"

// Config shapes the bank under load. Zero fields take their defaults.
type Config struct {
	Accounts       int   // accounts opened at start (default 20)
	Balance        int64 // each account's initial balance (default 10000)
	FrozenEvery    int   // every Nth transfer goes to FrozenAccount (default 10)
	OverdraftEvery int   // every Nth transfer asks more than any balance (default 7)
	Bugs                 // deliberate bugs, to prove the gates fail
}

// System is the bank as a harness.System.
type System struct{ cfg Config }

var (
	_ harness.System = (*System)(nil)
	_ harness.Topics = (*System)(nil)
)

// New returns the bank with cfg.
func New(cfg Config) *System {
	if cfg.Accounts < 2 {
		cfg.Accounts = 20
	}
	if cfg.Balance <= 0 {
		cfg.Balance = 10_000
	}
	if cfg.FrozenEvery <= 0 {
		cfg.FrozenEvery = 10
	}
	if cfg.OverdraftEvery <= 0 {
		cfg.OverdraftEvery = 7
	}
	return &System{cfg: cfg}
}

// Name is "bank".
func (s *System) Name() string { return "bank" }

// AddFlags lets `edload run` switch the bugs on (cli.FlagAdder); the
// bank's inbox is part of its domain, so edload's --dedup leaves it on.
func (s *System) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&s.cfg.SkipCompensation, "bank-skip-compensation", false, "bug: never refund a failed transfer")
	fs.BoolVar(&s.cfg.NoDedup, "bank-no-dedup", false, "bug: handlers forget their inbox")
}

// Checkers judge the transfers as a choreography too: from the events the
// accounts published on bank.events alone (debited, credited,
// credit-failed, refunded), each transfer must complete or be refunded —
// what edkit observed, beside what the saga's own state says (CheckState).
func (s *System) Checkers() []check.Checker {
	return []check.Checker{&check.Choreography{C: saga.Choreography{
		Definition:  TransferSaga,
		Done:        map[string]string{EvDebited: StepDebit, EvCredited: StepCredit},
		Failed:      map[string]string{EvDebitRejected: StepDebit, EvCreditFailed: StepCredit},
		Compensated: map[string]string{EvRefunded: StepDebit},
	}, Topic: TopicEvents}}
}

// Topics are created before the bank starts (Kafka).
func (s *System) Topics() []string { return []string{TopicCommands, TopicEvents} }

// Start opens the accounts on env's bus, the handlers wrapped and the
// trackers fed by the domain's hooks.
func (s *System) Start(ctx context.Context, env *harness.Env) (harness.Instance, error) {
	b := NewBank(env.Bus, WithWrap(env.Consumer), WithEffects(env.Effect), WithBugs(s.cfg.Bugs), WithNow(env.Clock.Now),
		OnShown(func(id string) { env.Visible.Done(id, time.Now()) }),
		OnEnded(func(id, _ string) { env.Settled.Done(id, time.Now()) }))
	for i := range s.cfg.Accounts {
		if err := b.Open(ctx, accountName(i), s.cfg.Balance); err != nil {
			return nil, err
		}
	}
	if err := b.Open(ctx, FrozenAccount, s.cfg.Balance); err != nil {
		return nil, err
	}
	return &instance{Bank: b, cfg: s.cfg, env: env}, b.Freeze(ctx, FrozenAccount)
}

type instance struct {
	*Bank // Run
	cfg   Config
	env   *harness.Env
	// dispatched lists the transfers a scenario asked for (by its own
	// IDs, each once): CheckState audits them beside the load's.
	mu         sync.Mutex
	dispatched []string
	seen       map[string]bool
}

var (
	_ harness.StateChecker = (*instance)(nil)
	_ harness.Counter      = (*instance)(nil)
)

// Send starts the operation's transfer, measured from its intended time.
func (in *instance) Send(ctx context.Context, op harness.Op) error {
	id, from, to, amount := in.cfg.transfer(op)
	in.env.Visible.Start(id, op.Intended)
	in.env.Settled.Start(id, op.Intended)
	return in.Transfer(ctx, id, from, to, amount)
}

// Consumers names the groups that settle each topic.
func (in *instance) Consumers() map[string][]string {
	return map[string][]string{TopicCommands: {GroupAccounts}, TopicEvents: {GroupTransfers, GroupBalances}}
}

// CheckState audits every transfer the load or a scenario sent.
func (in *instance) CheckState(_ context.Context, sent uint64, settled bool) ([]check.Result, error) {
	ids := make([]string, sent)
	for i := range ids {
		ids[i] = transferID(uint64(i))
	}
	in.mu.Lock()
	ids = append(ids, in.dispatched...)
	in.mu.Unlock()
	note := ""
	if !settled {
		note = "the bank did not quiesce: unfinished transfers count as broken"
	}
	money, outcomes := in.Audit(ids)
	return []check.Result{verdict("money-conserved", money, len(ids), note),
		verdict("transfer-outcome", outcomes, len(ids), note)}, nil
}

// verdict is a check.Result listing the first ten problems as anomalies.
func verdict(invariant string, problems []string, checked int, note string) check.Result {
	r := check.Result{Invariant: invariant, Valid: len(problems) == 0, Checked: checked, Found: len(problems), Note: note}
	for _, p := range problems[:min(len(problems), 10)] {
		r.Anomalies = append(r.Anomalies, check.Anomaly{Invariant: invariant, Summary: p})
	}
	return r
}

// Counts are the transfers by the state the projection shows.
func (in *instance) Counts(context.Context) []reports.Count {
	n := in.Tally()
	var out []reports.Count
	for _, st := range []string{Completed, Rejected, Compensated, Compensating, Pending} {
		out = append(out, reports.Count{Name: "transfers " + st, Value: n[st]})
	}
	return out
}

// transfer derives operation op's transfer t-(seq+1): from the key's
// account to another, every FrozenEvery'th to the frozen account (to be
// compensated), every OverdraftEvery'th for more than the bank holds (to
// be rejected).
func (c Config) transfer(op harness.Op) (id, from, to string, amount int64) {
	h := fnv.New32a()
	_, _ = h.Write([]byte(op.Key))
	f, n := int(h.Sum32()%uint32(c.Accounts)), uint64(c.Accounts)
	to, amount = accountName((f+1+int(op.Seq%(n-1)))%c.Accounts), 10+int64(op.Seq%50)*10
	switch seq := op.Seq + 1; {
	case seq%uint64(c.FrozenEvery) == 0:
		to = FrozenAccount
	case seq%uint64(c.OverdraftEvery) == 0:
		amount = c.Balance * int64(c.Accounts+2)
	}
	return transferID(op.Seq), accountName(f), to, amount
}

func accountName(i int) string     { return fmt.Sprintf("acc-%02d", i) }
func transferID(seq uint64) string { return fmt.Sprintf("t-%d", seq+1) }
