package bank

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/event"
	"github.com/edkit-dev/edkit/reference/saga"
)

// Topics and the consumer groups that read them.
const (
	TopicCommands = "bank.commands"
	TopicEvents   = "bank.events"

	GroupAccounts  = "accounts"  // applies commands to accounts (commands)
	GroupTransfers = "transfers" // the transfer saga (events)
	GroupBalances  = "balances"  // the balance projection (events)
)

// Command types.
const (
	CmdOpen   = "open"
	CmdFreeze = "freeze"
	CmdDebit  = "debit"  // a transfer's step 1
	CmdCredit = "credit" // a transfer's step 2
	CmdRefund = "refund" // step 1 undone
)

// Event types.
const (
	EvOpened        = "opened"
	EvFrozen        = "frozen"
	EvDebited       = "debited"
	EvDebitRejected = "debit-rejected"
	EvCredited      = "credited"
	EvCreditFailed  = "credit-failed"
	EvRefunded      = "refunded"
	// EvCommandRejected answers a command of no known type.
	EvCommandRejected = "command-rejected"
)

// Transfer states, as the saga and the projection record them.
const (
	Pending      = "pending"
	Completed    = "completed"
	Rejected     = "rejected"
	Compensating = "compensating"
	Compensated  = "compensated"
	// Failed is the end of a transfer whose credit failed and which was
	// never refunded: only the SkipCompensation bug gets there.
	Failed = "failed"
)

// Msg is the payload of every command and event; which fields matter
// depends on Type. An event copies the fields of the command it answers.
type Msg struct {
	Type     string `json:"type"`
	Transfer string `json:"transfer,omitempty"`
	// Account is the account a command changes or an event is about.
	Account string `json:"account,omitempty"`
	From    string `json:"from,omitempty"`
	To      string `json:"to,omitempty"`
	Amount  int64  `json:"amount,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// Bugs are deliberate defects, to prove that a test catches them.
type Bugs struct {
	// SkipCompensation: when a credit fails, the saga gives up without
	// refunding the source, and the money is lost.
	SkipCompensation bool
	// NoDedup: handlers forget their inbox, so a redelivery applies twice.
	NoDedup bool
}

// Option configures a Bank.
type Option func(*Bank)

// WithWrap wraps each group's handler (recording, fault injection).
func WithWrap(wrap func(group string, h bus.Handler) bus.Handler) Option {
	return func(b *Bank) { b.wrap = wrap }
}

// WithEffects is told each change to an account ("debit", "credit",
// "refund") from inside the handler that made it.
func WithEffects(effect func(ctx context.Context, name string)) Option {
	return func(b *Bank) { b.effect = effect }
}

// OnShown is called when the projection first shows a transfer.
func OnShown(fn func(transfer string)) Option { return func(b *Bank) { b.shown = fn } }

// OnEnded is called when the saga records a transfer's final state.
func OnEnded(fn func(transfer, state string)) Option { return func(b *Bank) { b.ended = fn } }

// WithNow sets the clock the transfer saga's deadlines are set and fired
// by (default time.Now).
func WithNow(now func() time.Time) Option { return func(b *Bank) { b.now = now } }

// WithBugs switches bugs on.
func WithBugs(bugs Bugs) Option { return func(b *Bank) { b.bugs = bugs } }

// Bank is the whole bank: accounts, the transfer saga and the balance
// projection, each a consumer group on one bus.
type Bank struct {
	bus    bus.Bus
	wrap   func(group string, h bus.Handler) bus.Handler
	effect func(ctx context.Context, name string)
	shown  func(transfer string)
	ended  func(transfer, state string)
	now    func() time.Time
	bugs   Bugs

	accounts   accounts
	transfers  transfers
	projection projection

	// sending serialises publishes per key (striped): see publish.
	sending [64]sync.Mutex
}

// NewBank returns a bank on b; Run starts its consumers.
func NewBank(b bus.Bus, opts ...Option) *Bank {
	bk := &Bank{
		bus:    b,
		wrap:   func(_ string, h bus.Handler) bus.Handler { return h },
		effect: func(context.Context, string) {},
		shown:  func(string) {},
		ended:  func(string, string) {},
		now:    time.Now,
	}
	for _, o := range opts {
		o(bk)
	}
	bk.accounts = accounts{inbox: newInbox(bk.bugs.NoDedup), open: map[string]Account{}, trails: map[string]*trail{}}
	bk.transfers = transfers{inbox: newInbox(bk.bugs.NoDedup), sagas: map[string]saga.State{}, state: map[string]string{}, timers: saga.NewTimers()}
	bk.projection = projection{inbox: newInbox(bk.bugs.NoDedup), balances: map[string]int64{}, state: map[string]string{}}
	return bk
}

// Open asks to open account with an initial balance.
func (b *Bank) Open(ctx context.Context, account string, balance int64) error {
	return b.publish(ctx, TopicCommands, Msg{Type: CmdOpen, Account: account, Amount: balance})
}

// Freeze asks to freeze account: credits to it fail from then on.
func (b *Bank) Freeze(ctx context.Context, account string) error {
	return b.publish(ctx, TopicCommands, Msg{Type: CmdFreeze, Account: account})
}

// Transfer starts transfer id: amount from one account to another.
// Sending the same id again is a duplicate, not a second transfer.
func (b *Bank) Transfer(ctx context.Context, id, from, to string, amount int64) error {
	return b.publish(ctx, TopicCommands, Msg{Type: CmdDebit, Transfer: id, Account: from, From: from, To: to, Amount: amount})
}

// Run runs the bank's three consumer groups, and the transfer saga's
// deadlines, until ctx is done.
func (b *Bank) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	routes := []struct {
		topic, group string
		h            bus.Handler
	}{
		{TopicCommands, GroupAccounts, b.onCommand},
		{TopicEvents, GroupTransfers, b.onSagaEvent},
		{TopicEvents, GroupBalances, b.onProjectionEvent},
	}
	errs := make(chan error, len(routes)+1)
	part := func(run func() error) {
		err := run()
		if err != nil {
			cancel() // one part down stops the bank
		}
		errs <- err
	}
	for _, r := range routes {
		go part(func() error { return bus.Consume(ctx, b.bus, r.topic, r.group, b.wrap(r.group, r.h)) })
	}
	go part(func() error { return b.runDeadlines(ctx) })
	var all []error
	for range len(routes) + 1 {
		all = append(all, <-errs)
	}
	return errors.Join(all...)
}

// publish sends x as message "<transfer or account>/<type>": the ID is
// derived from what the message does, so redoing it makes a duplicate
// that inboxes recognise. Commands are keyed by account (one account's
// changes in order), events by transfer.
//
// Clients and the saga send commands to one account at once; publishes of
// one key are serialised so that the broker's order of a key is the order
// the bank sent it in, which per-key consumers (and edkit's order
// checker) rely on.
func (b *Bank) publish(ctx context.Context, topic string, x Msg) error {
	subject, key := x.Transfer, x.Account
	if subject == "" {
		subject = x.Account
	}
	if topic == TopicEvents {
		key = subject
	}
	data, err := json.Marshal(x)
	if err != nil {
		return fmt.Errorf("encode %s: %w", x.Type, err)
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(topic + "\x00" + key))
	mu := &b.sending[h.Sum32()%uint32(len(b.sending))]
	mu.Lock()
	defer mu.Unlock()
	m := &bus.Message{ID: subject + "/" + x.Type, Topic: topic, Key: key, Payload: data}
	m.SetHeader(bus.HeaderType, x.Type)
	return b.bus.Publish(ctx, m)
}

func decode(m *bus.Message) (Msg, error) {
	var x Msg
	if err := json.Unmarshal(m.Payload, &x); err != nil {
		return x, fmt.Errorf("decode %s: %w", m.ID, err)
	}
	return x, nil
}

// onCommand is the accounts group: apply the command, tell what changed,
// announce the outcome. A failed publish of the outcome loses it (the
// inbox already holds the command); an outbox would close that gap.
func (b *Bank) onCommand(ctx context.Context, m *bus.Message) error {
	c, err := decode(m)
	if err != nil {
		return err
	}
	ev, changed, fresh := b.accounts.apply(m.ID, c)
	if !fresh {
		return nil
	}
	if changed {
		b.effect(ctx, c.Type)
	}
	return b.publish(ctx, TopicEvents, ev)
}

// onSagaEvent is the transfers group: take the saga's next step.
func (b *Bank) onSagaEvent(ctx context.Context, m *bus.Message) error {
	e, err := decode(m)
	if err != nil {
		return err
	}
	next, end, fresh, err := b.transfers.on(m.ID, e, b.now(), b.bugs.SkipCompensation)
	if !fresh || err != nil {
		return err
	}
	return b.step(ctx, e.Transfer, next, end)
}

// step sends a saga's next commands and reports its end.
func (b *Bank) step(ctx context.Context, transfer string, next []Msg, end string) error {
	for _, c := range next {
		if err := b.publish(ctx, TopicCommands, c); err != nil {
			return err
		}
	}
	if end != "" {
		b.ended(transfer, end)
	}
	return nil
}

// runDeadlines fires the transfer sagas' deadlines as they fall due,
// looking every deadlineTick, until ctx is done.
func (b *Bank) runDeadlines(ctx context.Context) error {
	tick := time.NewTicker(deadlineTick)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		for _, tm := range b.transfers.timers.Due(b.now()) {
			next, end, err := b.transfers.fire(tm, b.bugs.SkipCompensation)
			if err == nil {
				err = b.step(ctx, tm.Saga, next, end)
			}
			if err != nil && ctx.Err() == nil {
				return fmt.Errorf("transfer %s: deadline %s: %w", tm.Saga, tm.Deadline.Name, err)
			}
		}
	}
}

// deadlineTick is how often the bank looks for due deadlines.
const deadlineTick = 100 * time.Millisecond

// onProjectionEvent is the balances group: fold the event into the read
// model.
func (b *Bank) onProjectionEvent(_ context.Context, m *bus.Message) error {
	e, err := decode(m)
	if err != nil {
		return err
	}
	if b.projection.on(m.ID, e) {
		b.shown(e.Transfer)
	}
	return nil
}

// inbox remembers the IDs of the messages a group handled, so that a
// redelivery changes nothing (the inbox pattern). Its owner's mutex
// guards it.
type inbox struct {
	seen map[string]bool
	off  bool // the NoDedup bug
}

func newInbox(off bool) inbox { return inbox{seen: map[string]bool{}, off: off} }

// first reports whether id is new, and remembers it.
func (in *inbox) first(id string) bool {
	if in.seen[id] && !in.off {
		return false
	}
	in.seen[id] = true
	return true
}

// trail is what the accounts did for one transfer.
type trail struct{ amount, debited, credited, refunded int64 }

// accounts is the command side: each account's state (AccountDecider's),
// and each transfer's trail.
type accounts struct {
	mu     sync.Mutex
	inbox  inbox
	open   map[string]Account
	opened int64 // the sum of initial balances
	trails map[string]*trail
}

// apply runs command c (message id) through the account's decider and
// returns the event that answers it, whether it moved money, and false
// when id was handled before.
func (a *accounts) apply(id string, c Msg) (ev Msg, changed, fresh bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.inbox.first(id) {
		return Msg{}, false, false
	}
	d := AccountDecider()
	acc := a.open[c.Account]
	events, err := d.Decide(acc, c)
	if err == nil {
		acc, err = d.Evolve(acc, events[0])
	}
	if err == nil {
		err = events[0].Decode(&ev)
	}
	if err != nil { // only a Msg that does not encode gets here
		return Msg{Type: EvCommandRejected, Reason: err.Error()}, false, true
	}
	if c.Type == CmdOpen {
		a.opened += c.Amount
	}
	if acc.Open {
		a.open[c.Account] = acc
	}
	a.account(ev)
	return ev, movesMoney(ev.Type), true
}

// account keeps transfer ev's trail.
func (a *accounts) account(ev Msg) {
	t := a.trail(ev.Transfer)
	switch ev.Type {
	case EvDebited, EvDebitRejected:
		t.amount = ev.Amount
		if ev.Type == EvDebited {
			t.debited += ev.Amount
		}
	case EvCredited:
		t.credited += ev.Amount
	case EvRefunded:
		t.refunded += ev.Amount
	}
}

func (a *accounts) trail(transfer string) *trail {
	if transfer == "" {
		return &trail{}
	}
	t := a.trails[transfer]
	if t == nil {
		t = &trail{}
		a.trails[transfer] = t
	}
	return t
}

// transfers is the transfers group: each transfer's saga (TransferSaga),
// its state in the bank's words, and the pending deadlines.
type transfers struct {
	mu     sync.Mutex
	inbox  inbox
	sagas  map[string]saga.State
	state  map[string]string
	timers *saga.Timers
}

// on runs the transfer saga on event e (message id), arriving at now: the
// commands to send next, the final state reached ("" for none), and false
// when id was handled before. With skipCompensation (the bug) a failed
// credit sends no refund and the transfer ends failed.
func (s *transfers) on(id string, e Msg, now time.Time, skipCompensation bool) (next []Msg, end string, fresh bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.inbox.first(id) {
		return nil, "", false, nil
	}
	data, err := json.Marshal(e)
	if err != nil {
		return nil, "", true, err
	}
	st := s.saga(e.Transfer)
	if t, seen := st.Causes[id]; seen {
		// Handled before, and let through (the NoDedup bug): the saga
		// sends that step's commands again, as a redelivery does.
		next, err := decodeAll(t.Commands)
		return next, "", true, err
	}
	t, ok, err := ReactTransfer(st, event.Envelope{ID: id, Type: e.Type, Time: now, Data: data})
	if err != nil || !ok {
		return nil, "", true, err
	}
	return s.advance(e.Transfer, st, t, skipCompensation)
}

// fire runs the transfer saga on a deadline that fell due.
func (s *transfers) fire(tm saga.Timer, skipCompensation bool) (next []Msg, end string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.saga(tm.Saga)
	if at, ok := st.Deadlines[tm.Deadline.Name]; !ok || !at.Equal(tm.Deadline.At) {
		s.timers.Set(tm.Saga, st)
		return nil, "", nil
	}
	t, err := OnTransferDeadline(st, tm.Deadline)
	if err != nil {
		return nil, "", err
	}
	next, end, _, err = s.advance(tm.Saga, st, t, skipCompensation)
	return next, end, err
}

func (s *transfers) saga(transfer string) saga.State {
	st, ok := s.sagas[transfer]
	if !ok {
		st = saga.NewState()
	}
	return st
}

// advance applies t to transfer's saga and says what to send and whether
// it ended. s.mu is held.
func (s *transfers) advance(transfer string, st saga.State, t saga.Transition, skipCompensation bool) ([]Msg, string, bool, error) {
	st, err := TransferSaga.Apply(st, t)
	if err != nil {
		return nil, "", true, err
	}
	s.sagas[transfer] = st
	s.timers.Set(transfer, st)
	s.state[transfer] = outcome(st)
	if skipCompensation && t.Failed != "" && len(st.Done) > 0 {
		s.state[transfer] = Failed
		return nil, Failed, true, nil
	}
	next, err := decodeAll(t.Commands)
	if err != nil {
		return nil, "", true, err
	}
	end := ""
	if st.Ended() {
		end = s.state[transfer]
	}
	return next, end, true, nil
}

func decodeAll(cmds [][]byte) ([]Msg, error) {
	next := make([]Msg, 0, len(cmds))
	for _, c := range cmds {
		var m Msg
		if err := json.Unmarshal(c, &m); err != nil {
			return nil, err
		}
		next = append(next, m)
	}
	return next, nil
}

// projection is the balances group: the read model.
type projection struct {
	mu       sync.RWMutex
	inbox    inbox
	balances map[string]int64
	state    map[string]string
}

// on folds event e (message id) in; it reports whether e is the first the
// projection shows of its transfer.
func (p *projection) on(id string, e Msg) (first bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.inbox.first(id) {
		return false
	}
	_, seen := p.state[e.Transfer]
	switch e.Type {
	case EvOpened:
		p.balances[e.Account] += e.Amount
		return false
	case EvDebited:
		p.balances[e.From] -= e.Amount
		p.state[e.Transfer] = Pending
	case EvDebitRejected:
		p.state[e.Transfer] = Rejected
	case EvCredited:
		p.balances[e.To] += e.Amount
		p.state[e.Transfer] = Completed
	case EvCreditFailed:
		p.state[e.Transfer] = Compensating
	case EvRefunded:
		p.balances[e.From] += e.Amount
		p.state[e.Transfer] = Compensated
	default:
		return false
	}
	return !seen
}

// NextDeadline is when the earliest pending transfer deadline falls due.
func (b *Bank) NextDeadline() (time.Time, bool) {
	b.transfers.mu.Lock()
	defer b.transfers.mu.Unlock()
	return b.transfers.timers.Next()
}

// Balance is account's balance as the projection shows it.
func (b *Bank) Balance(account string) int64 {
	b.projection.mu.RLock()
	defer b.projection.mu.RUnlock()
	return b.projection.balances[account]
}

// Status is transfer's state as the projection shows it ("" before it
// shows it at all).
func (b *Bank) Status(transfer string) string {
	b.projection.mu.RLock()
	defer b.projection.mu.RUnlock()
	return b.projection.state[transfer]
}

// Tally counts the transfers the projection shows, by state.
func (b *Bank) Tally() map[string]int64 {
	b.projection.mu.RLock()
	defer b.projection.mu.RUnlock()
	n := map[string]int64{}
	for _, st := range b.projection.state {
		n[st]++
	}
	return n
}

// Audit checks the bank's invariants once it has settled, over the
// transfers named, and returns one line per problem: money, when money
// was created or lost; outcomes, when a transfer is not completed,
// rejected or compensated — as the saga says and as the accounts' own
// trail of debits, credits and refunds confirms.
func (b *Bank) Audit(transfers []string) (money, outcomes []string) {
	a := &b.accounts
	a.mu.Lock()
	defer a.mu.Unlock()
	b.transfers.mu.Lock()
	defer b.transfers.mu.Unlock()
	b.projection.mu.RLock()
	defer b.projection.mu.RUnlock()

	var held, shown int64
	for _, acc := range a.open {
		held += acc.Balance
	}
	for _, bal := range b.projection.balances {
		shown += bal
	}
	if held != a.opened {
		money = append(money, fmt.Sprintf("the accounts hold %d, opened with %d", held, a.opened))
	}
	if shown != held {
		money = append(money, fmt.Sprintf("the balances projection shows %d, the accounts hold %d", shown, held))
	}
	for _, id := range transfers {
		t, state := a.trails[id], b.transfers.state[id]
		if t == nil {
			t = &trail{}
		}
		moved := fmt.Sprintf("debited %d, credited %d, refunded %d of %d", t.debited, t.credited, t.refunded, t.amount)
		if t.debited != t.credited+t.refunded {
			money = append(money, fmt.Sprintf("transfer %s (%s): %s", id, state, moved))
		}
		ok := false
		switch state {
		case Completed:
			ok = t.debited == t.amount && t.credited == t.amount && t.refunded == 0
		case Rejected:
			ok = t.debited == 0 && t.credited == 0 && t.refunded == 0
		case Compensated:
			ok = t.debited == t.amount && t.refunded == t.amount && t.credited == 0
		}
		if !ok {
			outcomes = append(outcomes, fmt.Sprintf("transfer %s ended %q: %s", id, state, moved))
		}
	}
	return money, outcomes
}
