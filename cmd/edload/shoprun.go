package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/edkit-dev/edkit/harness/check"
	"github.com/edkit-dev/edkit/harness/clock"
	"github.com/edkit-dev/edkit/harness/env/embedded"
	"github.com/edkit-dev/edkit/harness/history"
	"github.com/edkit-dev/edkit/harness/record"
	"github.com/edkit-dev/edkit/loadgen"
	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/kafkabus"
	"github.com/edkit-dev/edkit/reference/bus/membus"
	"github.com/edkit-dev/edkit/reference/eventstore/memstore"
	"github.com/edkit-dev/edkit/reference/service"
	"github.com/edkit-dev/edkit/reference/shop"
	"github.com/edkit-dev/edkit/reports"
)

// paymentLimit is the gateway's per-charge limit; every --decline-every'th
// order asks for more and is declined, exercising compensation under load.
const paymentLimit = 100_000

// startBus brings up the chosen broker. The returned stop closes the bus and
// everything the environment started.
func startBus(ctx context.Context, f *runFlags) (bus.Bus, string, func(), error) {
	if f.broker == "memory" {
		b := membus.New()
		return b, "membus", func() { _ = b.Close() }, nil
	}
	e, err := embedded.StartKafka(ctx, embedded.Partitions(f.partitions),
		embedded.Topics(shop.TopicCommands, shop.TopicEvents, shop.TopicDLQ))
	if err != nil {
		return nil, "", nil, &envError{err}
	}
	k := e.Component("kafka")
	b, err := kafkabus.New(k.Endpoint().Addrs)
	if err != nil {
		_ = e.Close()
		return nil, "", nil, &envError{err}
	}
	name := string(k.Provider()) + "-" + string(k.Kind()) // "embedded-kafka"
	return b, name, func() { _ = b.Close(); _ = e.Close() }, nil
}

// consumers names, per topic, the groups that must settle every message.
var consumers = map[string][]string{
	shop.TopicCommands: {shop.GroupCommands},
	shop.TopicEvents:   {shop.GroupSaga, shop.GroupProjection},
}

// runShop is `edload run`: environment up, shop wired with recording and
// faults, open-loop load, quiescence, checks, report. Everything it starts
// is stopped before it returns, whatever happens.
func runShop(ctx context.Context, f *runFlags, stdout, progress io.Writer, tty *os.File) (_ *reports.Run, err error) {
	if err := ensureDir(f.out); err != nil {
		return nil, err
	}
	started := time.Now()
	hf, err := os.Create(filepath.Join(f.out, "history.jsonl"))
	if err != nil {
		return nil, &usageError{fmt.Errorf("--out: %w", err)}
	}
	defer func() {
		// history.jsonl is an output of the run: a failed close may mean
		// the flushed ops never reached the disk.
		if cerr := hf.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close history: %w", cerr))
		}
	}()
	rec := history.NewRecorder(clock.Real{}, history.WithSink(hf))

	b, brokerName, stopBus, err := startBus(ctx, f)
	if err != nil {
		return nil, err
	}
	defer stopBus()

	fault, err := f.messageFault()
	if err != nil {
		return nil, &usageError{err}
	}
	logger := slog.New(slog.DiscardHandler)
	if f.verbose {
		logger = slog.New(slog.NewTextHandler(progress, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	store := memstore.New()
	// In memory, nothing to flush: Close only fails when already closed.
	defer func() { _ = store.Close() }()
	ledger := record.NewLedger()
	recBus := record.NewBus(b, rec, "loadgen", record.WithLedger(ledger))
	svc, err := service.New(service.Config{
		Store:     store,
		Bus:       recBus,
		Inventory: record.Inventory{Inventory: shop.NewMemoryInventory(nil, true), Rec: rec},
		Gateway:   record.Gateway{PaymentGateway: shop.NewMemoryGateway(paymentLimit), Rec: rec},
		Dedup:     f.dedup,
		Wrap: func(group string, h bus.Handler) bus.Handler {
			h = record.Consumer(rec, group, record.WithLedger(ledger))(h)
			if fault != nil {
				h = fault.Middleware(group)(h)
			}
			return h
		},
		OnDeadLetter: func(ctx context.Context, group string, m *bus.Message, reason string, attempts int) {
			record.DeadLetter(ctx, rec, group, m, reason, attempts)
		},
		Logger: logger,
	})
	if err != nil {
		return nil, err
	}

	visible, closed := loadgen.NewTracker(), loadgen.NewTracker()
	var closedMu sync.Mutex
	closedOrders := map[string]bool{}
	svc.Summaries().OnChange(func(row shop.OrderSummary) {
		now := time.Now()
		if row.Events == 1 {
			visible.Done(row.OrderID, now)
		}
		if row.Status == shop.StatusConfirmed || row.Status == shop.StatusCancelled {
			closedMu.Lock()
			first := !closedOrders[row.OrderID]
			closedOrders[row.OrderID] = true
			closedMu.Unlock()
			if first {
				closed.Done(row.OrderID, now)
			}
		}
	})

	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	var svcRunErr error
	svcDone := make(chan struct{})
	go func() {
		defer close(svcDone)
		svcRunErr = svc.Run(runCtx)
	}()

	note := strings.Repeat("x", f.payload)
	driver := loadgen.DriverFunc(func(ctx context.Context, r loadgen.Request) error {
		id := fmt.Sprintf("o-%d", r.Seq+1)
		amount := int64(1000 + r.Seq%50*100)
		if f.declineOne > 0 && (r.Seq+1)%uint64(f.declineOne) == 0 {
			amount = paymentLimit + 1
		}
		visible.Start(id, r.Intended)
		closed.Start(id, r.Intended)
		return svc.Send(ctx, "place-"+id, shop.Command{Type: shop.CmdPlaceOrder, OrderID: id, Customer: r.Key,
			Items: []shop.Item{{SKU: "sku-" + fmt.Sprint(r.Seq%20), Qty: 1}}, AmountCents: amount, Note: note})
	})
	opts := []loadgen.Option{loadgen.WithKeyName(func(n int) string { return fmt.Sprintf("customer-%d", n) })}
	if tty != nil {
		opts = append(opts, loadgen.WithTerminalProgress(tty))
	} else {
		opts = append(opts, loadgen.WithProgress(loadgen.NewLogProgress(progress), 2*time.Second))
	}
	fmt.Fprintf(progress, "edload: %s load on %s for %v at %.0f/s (fault=%s dedup=%v seed=%d)\n",
		"place-order", brokerName, f.duration, f.rate, f.fault, f.dedup, f.seed)
	res, err := loadgen.Run(runCtx, loadgen.Config{Rate: f.rate, Duration: f.duration, Workers: f.workers,
		Keys: f.keys, PayloadSize: 0, Seed: f.seed}, driver, opts...)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}

	// Quiescence: every order the load placed has closed and every message
	// published has been settled by every group that consumes it.
	quiesced := waitQuiet(ctx, f.quiesce, svcDone, func() bool {
		return closed.Pending() == 0 && ledger.Outstanding(consumers) == 0
	})
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	cancelRun()
	<-svcDone
	if svcRunErr != nil {
		return nil, fmt.Errorf("shop stopped: %w", svcRunErr)
	}
	if err := rec.Flush(); err != nil {
		return nil, fmt.Errorf("write history: %w", err)
	}

	ops := rec.Ops()
	results := check.Run(ops,
		check.NewLoss(check.LossOptions{Groups: consumers}),
		check.NewPhantom(check.PhantomOptions{}),
		check.NewOrder(check.OrderOptions{}),
		// At-least-once delivery may duplicate by design; the guarantee the
		// shop makes is no duplicate *effect*.
		check.NewDuplicateDelivery(check.DuplicateDeliveryOptions{Permitted: true}),
		check.NewDuplicateEffect(check.DuplicateEffectOptions{}),
		check.NewDLQAccounting(check.DLQAccountingOptions{}),
	)
	ends, err := sagaEnds(ctx, svc, res.Sent)
	if err != nil {
		return nil, err
	}
	sagas := check.NewSagaOutcomes(shop.Fulfilment, 0).Check(ends)
	if !quiesced {
		sagas.Note += fmt.Sprintf("; the system did not quiesce within %v", f.quiesce)
	}
	results = append(results, sagas)

	rep := &reports.Run{
		Name:      "shop-place-order",
		Command:   "edload " + strings.Join(os.Args[1:], " "),
		StartedAt: started,
		Duration:  time.Since(started),
		Seed:      f.seed,
		Config: []reports.KV{
			{Key: "broker", Value: brokerName}, {Key: "rate", Value: fmt.Sprint(f.rate)},
			{Key: "duration", Value: f.duration.String()}, {Key: "workers", Value: fmt.Sprint(f.workers)},
			{Key: "keys", Value: fmt.Sprint(f.keys)}, {Key: "payload", Value: fmt.Sprint(f.payload)},
			{Key: "fault", Value: f.fault}, {Key: "dup-rate", Value: fmt.Sprint(f.dupRate)},
			{Key: "delay-rate", Value: fmt.Sprint(f.delayRate)}, {Key: "max-delay", Value: f.maxDelay.String()},
			{Key: "dedup", Value: fmt.Sprint(f.dedup)}, {Key: "decline-every", Value: fmt.Sprint(f.declineOne)},
			{Key: "partitions", Value: fmt.Sprint(f.partitions)}, {Key: "min-rate", Value: fmt.Sprint(f.minRate)},
		},
		Counts: []reports.Count{
			{Name: "commands sent", Value: int64(res.Sent)},
			{Name: "commands acked", Value: int64(res.OK)},
			{Name: "send errors", Value: int64(res.Errors)},
			{Name: "orders confirmed", Value: int64(countStatus(svc.Summaries(), shop.StatusConfirmed))},
			{Name: "orders cancelled", Value: int64(countStatus(svc.Summaries(), shop.StatusCancelled))},
			{Name: "orders unsettled", Value: int64(closed.Pending())},
			{Name: "history ops", Value: int64(len(ops))},
		},
		Latencies: []reports.Latency{
			latency("send (intended → broker ack)", res.Latency),
			latency("end-to-end (intended → read model shows order)", visible.Summary()),
			latency("order settled (intended → confirmed/cancelled)", closed.Summary()),
			latency("schedule lag", res.ScheduleLag),
		},
		Invariants: results,
		Thresholds: []reports.Threshold{
			reports.AtMost("send errors", float64(res.Errors), 0, ""),
			reports.AtLeast("achieved rate", res.Rate, f.minRate*f.rate, "msg/s"),
		},
	}
	rep.Counts = append(rep.Counts, faultCounts(fault)...)
	if f.maxP99 > 0 {
		p99 := visible.Summary().P99
		rep.Thresholds = append(rep.Thresholds, reports.AtMost("end-to-end p99", float64(p99.Milliseconds()), float64(f.maxP99.Milliseconds()), "ms"))
	}
	if err := reports.WriteDir(f.out, rep); err != nil {
		return nil, fmt.Errorf("write report: %w", err)
	}
	if err := reports.WriteSummary(stdout, rep); err != nil {
		return nil, err
	}
	fmt.Fprintf(stdout, "report: %s\n", f.out)
	return rep, nil
}

// waitQuiet polls done until it holds, the timeout passes, or the shop
// fails. It reports whether the system quiesced.
func waitQuiet(ctx context.Context, timeout time.Duration, failed <-chan struct{}, done func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !done() {
		select {
		case <-ctx.Done():
			return false
		case <-deadline.C:
			return false
		case <-failed:
			return false
		case <-tick.C:
		}
	}
	return true
}

func countStatus(s *shop.Summaries, status string) int {
	n := 0
	for _, r := range s.All() {
		if r.Status == status {
			n++
		}
	}
	return n
}

// sagaEnds loads the persisted saga state of every order the load placed
// (o-1 … o-n), whether or not it ever reached the read model.
func sagaEnds(ctx context.Context, svc *service.Shop, placed uint64) ([]check.SagaEnd, error) {
	ends := make([]check.SagaEnd, 0, placed)
	for i := uint64(1); i <= placed; i++ {
		id := fmt.Sprintf("o-%d", i)
		st, err := svc.Saga(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("load saga %s: %w", id, err)
		}
		ends = append(ends, check.SagaEnd{ID: id, State: st})
	}
	return ends, nil
}

func latency(name string, s loadgen.Summary) reports.Latency {
	return reports.Latency{Name: name, Count: s.Count, Min: s.Min, Mean: s.Mean, P50: s.P50, P90: s.P90,
		P99: s.P99, P999: s.P999, Max: s.Max}
}
