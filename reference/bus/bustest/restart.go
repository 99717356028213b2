package bustest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/reference/bus"
)

// RestartConfig is one broker-restart run: concurrent publishers, a kill of
// the broker while they publish, a restart, more publishing, then one
// consumer that reads the topic back.
type RestartConfig struct {
	// NewBus opens a bus on the broker. The run calls it twice — for the
	// publishers before the kill and for the consumer after the restart —
	// and closes both buses itself.
	NewBus func(t *testing.T) bus.Bus
	// Prepare, when set, runs once on the publishers' bus before the loop:
	// declaring the group's queue (AMQP drops what no queue is bound for),
	// bouncing the broker so definitions are on disk.
	Prepare func(ctx context.Context, b bus.Bus) error
	// Kill stops the broker with no grace (env.Killer); Restart brings it
	// back at the same endpoint with its data (env.Restarter). A graceful
	// Stop in place of Kill makes a weaker run; say so in the test.
	Kill    func(ctx context.Context) error
	Restart func(ctx context.Context) error
	// Topic and Group are what the run publishes to and consumes from. The
	// topic must exist on the broker (or be created by publishing), and a
	// consumer that subscribes after the publishes must get them all: the
	// group reads the topic from its start.
	Topic, Group string
	// Publishers is the number of goroutines publishing one message per
	// Publish call (default 8).
	Publishers int
	// BeforeKill is how many acknowledged publishes the loop makes before
	// the kill (default 200); AfterRestart how many more after the restart
	// (default 200).
	BeforeKill, AfterRestart int
	// Downtime is how long the broker stays dead between Kill and Restart
	// while the publishers keep trying (default 300 ms). Longer than the
	// backend's own retries, it makes publishes fail as outcome unknown.
	Downtime time.Duration
	// PublishTimeout bounds each Publish call (default 3 s); a publish still
	// waiting for its acknowledgement then is outcome unknown.
	PublishTimeout time.Duration
	// Timeout bounds the whole run (default 90 s).
	Timeout time.Duration
	// Quiet is how long the consumer waits for more deliveries once every
	// acknowledged message arrived, to count duplicates and maybe-messages
	// (default 1 s).
	Quiet time.Duration
	// GiveUp is how long the consumer waits with no delivery at all while
	// acknowledged messages are still missing before counting them lost
	// (default 15 s: long enough for a consumer group to join).
	GiveUp time.Duration
}

func (c *RestartConfig) defaults() {
	if c.Publishers <= 0 {
		c.Publishers = 8
	}
	if c.BeforeKill <= 0 {
		c.BeforeKill = 200
	}
	if c.AfterRestart <= 0 {
		c.AfterRestart = 200
	}
	if c.Downtime <= 0 {
		c.Downtime = 300 * time.Millisecond
	}
	if c.PublishTimeout <= 0 {
		c.PublishTimeout = 3 * time.Second
	}
	if c.Timeout <= 0 {
		c.Timeout = 90 * time.Second
	}
	if c.Quiet <= 0 {
		c.Quiet = time.Second
	}
	if c.GiveUp <= 0 {
		c.GiveUp = 15 * time.Second
	}
	if c.Group == "" {
		c.Group = "restart"
	}
}

// RestartReport is what a restart run measured. Publishes are sorted by
// their outcome: acked (Publish returned nil), maybe (an error wrapping
// bus.ErrOutcomeUnknown) and refused (any other error: the broker has none
// of them, by the bus.Publisher contract).
type RestartReport struct {
	Acked, Maybe, Refused int
	// AckedBeforeKill and AckedAfterRestart split Acked at the kill and the
	// restart; acknowledgements between the two (a broker that is not
	// really down) are the rest.
	AckedBeforeKill, AckedAfterRestart int
	// Lost are acknowledged messages never delivered: the failure.
	Lost []string
	// MaybeDelivered counts maybe-messages that were delivered; the others
	// were not, both are allowed.
	MaybeDelivered int
	// RefusedDelivered are messages whose Publish returned an error that
	// did not say the outcome was unknown, yet were delivered: a backend
	// that misreports outcomes.
	RefusedDelivered []string
	// Phantoms counts deliveries of IDs this run never published.
	Phantoms int
	// Delivered counts distinct messages delivered; Duplicates the
	// deliveries beyond the first of each.
	Delivered, Duplicates int
	// KillTook, RestartTook and ConsumeTook time the run's phases, for
	// the log.
	KillTook, RestartTook, ConsumeTook time.Duration
	// FirstErrors holds the first publish errors seen after the kill, for
	// the log.
	FirstErrors []string
}

// Err is nil when no acknowledged message was lost, no refused or unknown
// message was delivered. Duplicates and maybe-messages are allowed.
func (r RestartReport) Err() error {
	var errs []error
	if len(r.Lost) > 0 {
		errs = append(errs, fmt.Errorf("%d acknowledged messages lost (e.g. %s)", len(r.Lost), sampleIDs(r.Lost)))
	}
	if len(r.RefusedDelivered) > 0 {
		errs = append(errs, fmt.Errorf("%d messages delivered whose publish failed without ErrOutcomeUnknown (e.g. %s)",
			len(r.RefusedDelivered), sampleIDs(r.RefusedDelivered)))
	}
	if r.Phantoms > 0 {
		errs = append(errs, fmt.Errorf("%d deliveries of messages never published", r.Phantoms))
	}
	if r.Acked > 0 && r.AckedAfterRestart == 0 {
		errs = append(errs, errors.New("no publish was acknowledged after the restart"))
	}
	return errors.Join(errs...)
}

func (r RestartReport) String() string {
	return fmt.Sprintf("acked=%d (before kill %d, after restart %d) maybe=%d (delivered %d) refused=%d (delivered %d) "+
		"lost=%d delivered=%d dup=%d phantoms=%d; kill %v, restart %v, consume %v",
		r.Acked, r.AckedBeforeKill, r.AckedAfterRestart, r.Maybe, r.MaybeDelivered, r.Refused,
		len(r.RefusedDelivered), len(r.Lost), r.Delivered, r.Duplicates, r.Phantoms,
		r.KillTook.Round(time.Millisecond), r.RestartTook.Round(time.Millisecond), r.ConsumeTook.Round(time.Millisecond))
}

func sampleIDs(ids []string) string {
	if len(ids) > 5 {
		return strings.Join(ids[:5], ", ") + ", ..."
	}
	return strings.Join(ids, ", ")
}

// RestartNoLoss runs cfg and fails t when an acknowledged message was lost
// (or an outcome misreported); it logs the counts either way and returns
// them.
func RestartNoLoss(t *testing.T, cfg RestartConfig) RestartReport {
	t.Helper()
	r, err := RunRestart(t, cfg)
	t.Logf("restart run: %s", r)
	if len(r.FirstErrors) > 0 {
		t.Logf("first publish errors after the kill:\n  %s", strings.Join(r.FirstErrors, "\n  "))
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Err(); err != nil {
		t.Error(err)
	}
	return r
}

// pubOutcome is the outcome of one publish.
type pubOutcome int

const (
	outAcked pubOutcome = iota
	outMaybe
	outRefused
)

// publishLog records every publish of the run by message ID.
type publishLog struct {
	mu       sync.Mutex
	outcomes map[string]pubOutcome
	phase    map[string]int32
	firstErr []string

	acked atomic.Int64 // running count, for the controller
}

func (l *publishLog) record(id string, phase int32, err error) {
	o := outAcked
	switch {
	case err == nil:
		l.acked.Add(1)
	case errors.Is(err, bus.ErrOutcomeUnknown):
		o = outMaybe
	default:
		o = outRefused
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.outcomes[id] = o
	l.phase[id] = phase
	if err != nil && phase > phaseRunning && len(l.firstErr) < 5 {
		l.firstErr = append(l.firstErr, err.Error())
	}
}

// Phases of the run, as seen by a publish when it started.
const (
	phaseRunning int32 = iota
	phaseKilled
	phaseRestarted
)

// RunRestart runs cfg and returns what it measured; the error is for a run
// that could not be carried out (the broker did not restart, the consumer
// could not subscribe, no publish succeeded after the restart in time).
func RunRestart(t *testing.T, cfg RestartConfig) (RestartReport, error) {
	t.Helper()
	cfg.defaults()
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
	defer cancel()

	pub := cfg.NewBus(t)
	defer func() { _ = pub.Close() }()
	if cfg.Prepare != nil {
		if err := cfg.Prepare(ctx, pub); err != nil {
			return RestartReport{}, fmt.Errorf("prepare: %w", err)
		}
	}
	log := &publishLog{outcomes: map[string]pubOutcome{}, phase: map[string]int32{}}
	var phase atomic.Int32
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range cfg.Publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			publishLoop(ctx, cfg, pub, w, &phase, stop, log)
		}()
	}
	stopped := false
	halt := func() {
		if !stopped {
			stopped = true
			close(stop)
			wg.Wait()
		}
	}
	defer halt()
	var killTook, restartTook time.Duration
	// A run that breaks off still reports what was published.
	fail := func(err error) (RestartReport, error) {
		halt()
		r := log.report()
		r.KillTook, r.RestartTook = killTook, restartTook
		return r, err
	}

	if err := restartWait(ctx, func() bool { return log.acked.Load() >= int64(cfg.BeforeKill) }); err != nil {
		return fail(fmt.Errorf("%d of %d publishes acknowledged before the kill: %w", log.acked.Load(), cfg.BeforeKill, err))
	}
	phase.Store(phaseKilled)
	start := time.Now()
	if err := cfg.Kill(ctx); err != nil {
		return fail(fmt.Errorf("kill: %w", err))
	}
	killTook = time.Since(start)
	// Let the publishers run into the dead broker for a while: in-flight
	// publishes fail, reconnects begin.
	if err := restartSleep(ctx, cfg.Downtime); err != nil {
		return fail(err)
	}
	start = time.Now()
	if err := cfg.Restart(ctx); err != nil {
		return fail(fmt.Errorf("restart: %w", err))
	}
	restartTook = time.Since(start)
	atRestart := log.acked.Load()
	phase.Store(phaseRestarted)
	if err := restartWait(ctx, func() bool { return log.acked.Load() >= atRestart+int64(cfg.AfterRestart) }); err != nil {
		return fail(fmt.Errorf("%d of %d publishes acknowledged after the restart: %w",
			log.acked.Load()-atRestart, cfg.AfterRestart, err))
	}
	halt()

	r := log.report()
	r.KillTook, r.RestartTook = killTook, restartTook
	start = time.Now()
	sub := cfg.NewBus(t)
	defer func() { _ = sub.Close() }()
	seen, phantoms, err := consumeAll(ctx, cfg, sub, log)
	r.ConsumeTook = time.Since(start)
	if err != nil {
		return r, err
	}
	r.Phantoms = phantoms
	r.tally(log, seen)
	return r, nil
}

func (l *publishLog) report() RestartReport {
	l.mu.Lock()
	defer l.mu.Unlock()
	var r RestartReport
	for id, o := range l.outcomes {
		switch o {
		case outAcked:
			r.Acked++
			switch l.phase[id] {
			case phaseRunning:
				r.AckedBeforeKill++
			case phaseRestarted:
				r.AckedAfterRestart++
			}
		case outMaybe:
			r.Maybe++
		case outRefused:
			r.Refused++
		}
	}
	r.FirstErrors = append([]string(nil), l.firstErr...)
	return r
}

// tally fills in what the consumer saw against the publish outcomes.
func (r *RestartReport) tally(l *publishLog, seen map[string]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, o := range l.outcomes {
		n := seen[id]
		if n > 1 {
			r.Duplicates += n - 1
		}
		if n > 0 {
			r.Delivered++
		}
		switch {
		case o == outAcked && n == 0:
			r.Lost = append(r.Lost, id)
		case o == outMaybe && n > 0:
			r.MaybeDelivered++
		case o == outRefused && n > 0:
			r.RefusedDelivered = append(r.RefusedDelivered, id)
		}
	}
	sort.Strings(r.Lost)
	sort.Strings(r.RefusedDelivered)
}

// publishLoop publishes one message per call until stop, backing off a
// little after a failure so a dead broker is not spun on.
func publishLoop(ctx context.Context, cfg RestartConfig, b bus.Bus, w int, phase *atomic.Int32,
	stop <-chan struct{}, log *publishLog) {
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		default:
		}
		id := fmt.Sprintf("w%d-%d", w, n)
		m := &bus.Message{ID: id, Topic: cfg.Topic, Key: fmt.Sprintf("k%d", w), Payload: []byte(id)}
		ph := phase.Load()
		pctx, cancel := context.WithTimeout(ctx, cfg.PublishTimeout)
		err := b.Publish(pctx, m)
		cancel()
		log.record(id, ph, err)
		if err != nil {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// consumeAll acks everything the group gets until every acknowledged
// message arrived and the subscription stayed quiet for cfg.Quiet, or
// nothing arrived for cfg.GiveUp, or the run's deadline passes (then the
// missing ones count as lost).
func consumeAll(ctx context.Context, cfg RestartConfig, b bus.Bus, l *publishLog) (map[string]int, int, error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, err := b.Subscribe(sctx, cfg.Topic, cfg.Group)
	if err != nil {
		return nil, 0, fmt.Errorf("subscribe after restart: %w", err)
	}
	l.mu.Lock()
	want := map[string]bool{}
	known := map[string]bool{}
	for id, o := range l.outcomes {
		known[id] = true
		if o == outAcked {
			want[id] = true
		}
	}
	l.mu.Unlock()
	seen := map[string]int{}
	phantoms := 0
	quiet := time.NewTimer(cfg.Quiet)
	defer quiet.Stop()
	last := time.Now()
	for {
		select {
		case d, ok := <-ch:
			if !ok {
				return seen, phantoms, errors.New("subscription closed while consuming")
			}
			id := d.Message().ID
			if known[id] {
				seen[id]++
				delete(want, id)
			} else {
				phantoms++
			}
			_ = d.Ack(ctx) // a lost ack only makes a duplicate, which is counted
			last = time.Now()
			quiet.Reset(cfg.Quiet)
		case <-quiet.C:
			if len(want) == 0 || time.Since(last) >= cfg.GiveUp {
				return seen, phantoms, nil
			}
			quiet.Reset(cfg.Quiet)
		case <-ctx.Done():
			return seen, phantoms, nil // what is still wanted counts as lost
		}
	}
}

// restartWait polls cond until it holds or ctx ends.
func restartWait(ctx context.Context, cond func() bool) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

func restartSleep(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}
