// Package shopsystem plugs the reference shop into edkit's run core
// (harness.System): the glue a user writes for a system of their own. It
// lives beside the CLI, not in reference/ (which never imports the
// harness) nor in harness/ (which never imports a domain).
package shopsystem

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/edkit-dev/edkit/harness"
	"github.com/edkit-dev/edkit/harness/check"
	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/eventstore/memstore"
	"github.com/edkit-dev/edkit/reference/service"
	"github.com/edkit-dev/edkit/reference/shop"
	"github.com/edkit-dev/edkit/reports"
)

// PaymentLimit is the gateway's per-charge limit; every DeclineEvery'th
// order asks for more and is declined, exercising compensation under load.
const PaymentLimit = 100_000

// Effect names of the shop's downstream calls.
const (
	EffectReserveStock  = "reserve-stock"
	EffectReleaseStock  = "release-stock"
	EffectChargePayment = "charge-payment"
)

// Config is the shop's load settings.
type Config struct {
	// DeclineEvery makes every Nth order exceed the payment limit (0: none).
	DeclineEvery int
}

// System is the shop as a system under test: place-order commands through
// the command service, the order-fulfilment saga and the order-summary
// projection, all on the run's broker with an in-memory event store.
type System struct {
	cfg   Config
	setup *Setup // a scenario file's, when it runs one (scenario.go)
}

var (
	_ harness.System    = (*System)(nil)
	_ harness.Topics    = (*System)(nil)
	_ harness.Describer = (*System)(nil)
)

// New returns the shop with cfg.
func New(cfg Config) *System { return &System{cfg: cfg} }

// Name is "shop".
func (s *System) Name() string { return "shop" }

// AddFlags adds the shop's settings to `edload run`.
func (s *System) AddFlags(fs *pflag.FlagSet) {
	fs.IntVar(&s.cfg.DeclineEvery, "decline-every", s.cfg.DeclineEvery,
		"shop: every Nth order is over the payment limit and is compensated (0: none)")
}

// Config is the shop's settings, for the report.
func (s *System) Config() []reports.KV {
	return []reports.KV{{Key: "decline-every", Value: fmt.Sprint(s.cfg.DeclineEvery)}}
}

// Topics are the shop's topics, created before it starts.
func (s *System) Topics() []string {
	return []string{shop.TopicCommands, shop.TopicEvents, shop.TopicDLQ}
}

// DeadLetterTopics is the shop's DLQ: the run judges dead letters from
// what reaches it, not from the shop's word.
func (s *System) DeadLetterTopics() []string { return []string{shop.TopicDLQ} }

// Start wires the shop on env's broker, every handler through
// env.Consumer and every downstream call recorded as an effect.
func (s *System) Start(_ context.Context, env *harness.Env) (harness.Instance, error) {
	in := &instance{cfg: s.cfg, env: env, store: memstore.New(), closed: map[string]bool{},
		inv: shop.NewMemoryInventory(nil, true), gw: shop.NewMemoryGateway(PaymentLimit)}
	maxAttempts := 0
	if st := s.setup; st != nil {
		in.inv, in.gw, maxAttempts = st.downstream()
	}
	svc, err := service.New(service.Config{
		Store:         in.store,
		Bus:           env.Bus,
		Inventory:     inventory{Inventory: in.inv, env: env},
		Gateway:       gateway{PaymentGateway: in.gw, env: env},
		Dedup:         env.Dedup,
		MaxAttempts:   maxAttempts,
		DeadlineClock: env.Clock,
		Wrap:          env.Consumer,
		OnDeadLetter: func(ctx context.Context, group string, m *bus.Message, reason string, attempts int) {
			env.DeadLetter(ctx, group, m, reason, attempts)
		},
		Logger: env.Logger,
	})
	if err != nil {
		_ = in.store.Close()
		return nil, err
	}
	in.svc = svc
	svc.Summaries().OnChange(in.observe)
	return in, nil
}

// instance is one started shop.
type instance struct {
	cfg   Config
	env   *harness.Env
	store *memstore.Store
	svc   *service.Shop

	inv *shop.MemoryInventory
	gw  *shop.MemoryGateway

	mu       sync.Mutex
	closed   map[string]bool // orders seen confirmed or cancelled
	placed   []string        // orders a scenario placed, each once, in order
	isPlaced map[string]bool
}

var (
	_ harness.Instance     = (*instance)(nil)
	_ harness.StateChecker = (*instance)(nil)
	_ harness.Counter      = (*instance)(nil)
	_ harness.LatencyNamer = (*instance)(nil)
	_ io.Closer            = (*instance)(nil)
)

// observe feeds the run's trackers from the order-summary read model.
func (in *instance) observe(row shop.OrderSummary) {
	now := time.Now()
	if row.Events == 1 {
		in.env.Visible.Done(row.OrderID, now)
	}
	if row.Status != shop.StatusConfirmed && row.Status != shop.StatusCancelled {
		return
	}
	in.mu.Lock()
	first := !in.closed[row.OrderID]
	in.closed[row.OrderID] = true
	in.mu.Unlock()
	if first {
		in.env.Settled.Done(row.OrderID, now)
	}
}

// Run runs the shop's services until ctx is done.
func (in *instance) Run(ctx context.Context) error { return in.svc.Run(ctx) }

// Close closes the shop's store, once the run has judged it.
func (in *instance) Close() error { return in.store.Close() }

// orderID names the order of operation seq.
func orderID(seq uint64) string { return fmt.Sprintf("o-%d", seq+1) }

// Send places order o-(seq+1) for the operation's key as customer, with a
// note as long as the load's payload.
func (in *instance) Send(ctx context.Context, op harness.Op) error {
	id := orderID(op.Seq)
	amount := int64(1000 + op.Seq%50*100)
	if in.cfg.DeclineEvery > 0 && (op.Seq+1)%uint64(in.cfg.DeclineEvery) == 0 {
		amount = PaymentLimit + 1
	}
	in.env.Visible.Start(id, op.Intended)
	in.env.Settled.Start(id, op.Intended)
	return in.svc.Send(ctx, "place-"+id, shop.Command{Type: shop.CmdPlaceOrder, OrderID: id, Customer: op.Key,
		Items: []shop.Item{{SKU: "sku-" + fmt.Sprint(op.Seq%20), Qty: 1}}, AmountCents: amount, Note: strings.Repeat("x", len(op.Payload))})
}

// Consumers are the groups that settle each shop topic.
func (in *instance) Consumers() map[string][]string {
	return map[string][]string{
		shop.TopicCommands: {shop.GroupCommands},
		shop.TopicEvents:   {shop.GroupSaga, shop.GroupProjection},
	}
}

// CheckState judges every placed order's saga (the load's o-1 … o-sent
// and a scenario's), whether or not it ever reached the read model.
func (in *instance) CheckState(ctx context.Context, sent uint64, settled bool) ([]check.Result, error) {
	ids := make([]string, 0, sent)
	for i := range sent {
		ids = append(ids, orderID(i))
	}
	in.mu.Lock()
	ids = append(ids, in.placed...)
	in.mu.Unlock()
	ends := make([]check.SagaEnd, 0, len(ids))
	for _, id := range ids {
		st, err := in.svc.Saga(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("load saga %s: %w", id, err)
		}
		ends = append(ends, check.SagaEnd{ID: id, State: st})
	}
	res := check.NewSagaOutcomes(shop.Fulfilment, 0).Check(ends)
	if !settled {
		res.Note += "; the system did not quiesce"
	}
	return []check.Result{res}, nil
}

// Counts are the orders by outcome.
func (in *instance) Counts(context.Context) []reports.Count {
	confirmed, cancelled := 0, 0
	for _, r := range in.svc.Summaries().All() {
		switch r.Status {
		case shop.StatusConfirmed:
			confirmed++
		case shop.StatusCancelled:
			cancelled++
		}
	}
	return []reports.Count{
		{Name: "orders confirmed", Value: int64(confirmed)},
		{Name: "orders cancelled", Value: int64(cancelled)},
		{Name: "orders unsettled", Value: int64(in.env.Settled.Pending())},
	}
}

// LatencyNames says what the shop's two latencies measure.
func (in *instance) LatencyNames() (visible, settled string) {
	return "end-to-end (intended → read model shows order)", "order settled (intended → confirmed/cancelled)"
}

// inventory records every successful reservation and release as an effect.
type inventory struct {
	shop.Inventory
	env *harness.Env
}

func (i inventory) Reserve(ctx context.Context, orderID string, items []shop.Item) error {
	if err := i.Inventory.Reserve(ctx, orderID, items); err != nil {
		return err
	}
	i.env.Effect(ctx, EffectReserveStock)
	return nil
}

func (i inventory) Release(ctx context.Context, orderID string) error {
	if err := i.Inventory.Release(ctx, orderID); err != nil {
		return err
	}
	i.env.Effect(ctx, EffectReleaseStock)
	return nil
}

// gateway records every successful charge as an effect.
type gateway struct {
	shop.PaymentGateway
	env *harness.Env
}

func (g gateway) Charge(ctx context.Context, orderID, customer string, amountCents int64) (string, error) {
	id, err := g.PaymentGateway.Charge(ctx, orderID, customer, amountCents)
	if err != nil {
		return id, err
	}
	g.env.Effect(ctx, EffectChargePayment)
	return id, nil
}
