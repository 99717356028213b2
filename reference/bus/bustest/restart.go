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

// RestartConfig is one broker-restart run under load: publishers and the
// members of one consumer group run the whole time while the broker is
// killed and restarted Restarts times; after the last restart the
// publishers stop and the members have ReadWindow to receive every
// acknowledged message.
type RestartConfig struct {
	// NewBus opens a bus on the broker. The run calls it once for the
	// publishers and once per member, and closes them all itself.
	NewBus func(t *testing.T) bus.Bus
	// Prepare, when set, runs once on the publishers' bus before anything
	// else: declaring the group's queue (AMQP drops what no queue is bound
	// for), bouncing the broker so definitions are on disk.
	Prepare func(ctx context.Context, b bus.Bus) error
	// Kill stops the broker with no grace (env.Killer); Restart brings it
	// back at the same endpoint with its data (env.Restarter). A graceful
	// Stop in place of Kill makes a weaker run; say so in the test.
	Kill    func(ctx context.Context) error
	Restart func(ctx context.Context) error
	// Topic and Group are what the run publishes to and consumes from. The
	// topic must exist on the broker (or be created by publishing), and the
	// group must read it from its start.
	Topic, Group string
	// Publishers is the number of goroutines publishing one message per
	// Publish call (default 8).
	Publishers int
	// Members is the number of subscriptions of Group, each on its own bus,
	// that consume and ack from before the first kill to the end (default
	// 1). A subscription whose channel closes while the run goes on is
	// opened again, as a consumer process would, and counted.
	Members int
	// Restarts is how many times the broker is killed and restarted
	// (default 2).
	Restarts int
	// PerPhase is how many acknowledged publishes the run waits for before
	// the first kill, after each restart (default 1000).
	PerPhase int
	// Downtime is how long the broker stays dead between Kill and Restart
	// while the publishers keep trying (default 300 ms). Longer than the
	// backend's own retries, it makes publishes fail as outcome unknown.
	Downtime time.Duration
	// PublishTimeout bounds each Publish call (default 3 s); a publish still
	// waiting for its acknowledgement then is outcome unknown.
	PublishTimeout time.Duration
	// ReadWindow is how long the members may take, once the publishers
	// stopped, to receive every acknowledged message; what is missing then
	// is lost (default 30 s). It must be well past every interval after
	// which the backend reclaims or redelivers a message on its own
	// (Redis MinIdle, an ack wait), or a late redelivery looks like loss.
	ReadWindow time.Duration
	// Quiet is how long the members keep consuming once every acknowledged
	// message arrived, to count duplicates and maybe-messages (default 1 s).
	Quiet time.Duration
	// Timeout bounds the publishing phases (default 120 s); ReadWindow and
	// Quiet come on top.
	Timeout time.Duration
	// MaxDuplicates bounds redeliveries of messages already delivered
	// (default a tenth of the acknowledged publishes). A restart may
	// redeliver what was in flight; a backend that hands a message out again
	// and again while the broker is away (each failed ack a redelivery)
	// fails.
	MaxDuplicates int
}

func (c *RestartConfig) defaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.Publishers, 8)
	def(&c.Members, 1)
	def(&c.Restarts, 2)
	def(&c.PerPhase, 1000)
	defDur(&c.Downtime, 300*time.Millisecond)
	defDur(&c.PublishTimeout, 3*time.Second)
	defDur(&c.ReadWindow, 30*time.Second)
	defDur(&c.Quiet, time.Second)
	defDur(&c.Timeout, 120*time.Second)
	if c.Group == "" {
		c.Group = "restart"
	}
}

// RestartReport is what a restart run measured. Publishes are sorted by
// their outcome: acked (Publish returned nil), maybe (an error wrapping
// bus.ErrOutcomeUnknown) and refused (any other error: the broker has none
// of them, by the bus.Publisher contract).
type RestartReport struct {
	Members, Restarts     int
	Acked, Maybe, Refused int
	// AckedBeforeKill and AckedAfterRestart are the acknowledgements of
	// publishes begun before the first kill and after the last restart.
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
	// Resubscribed counts member subscriptions that ended during the run
	// and were opened again; AckErrors the members' failed acks.
	Resubscribed, AckErrors int
	// DuplicateLimit is the run's RestartConfig.MaxDuplicates (resolved).
	DuplicateLimit int
	// KillTook, RestartTook (the longest of each) and ReadTook (publishers
	// stopped to every acked message delivered, or the window's end) time
	// the run, for the log.
	KillTook, RestartTook, ReadTook time.Duration
	// FirstErrors holds the first publish errors seen after the first
	// kill, for the log.
	FirstErrors []string

	maxDup int
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
	if r.Duplicates > r.DuplicateLimit {
		errs = append(errs, fmt.Errorf("%d duplicate deliveries, more than the %d allowed: redelivery without bound", r.Duplicates, r.DuplicateLimit))
	}
	if r.Acked > 0 && r.AckedAfterRestart == 0 {
		errs = append(errs, errors.New("no publish was acknowledged after the last restart"))
	}
	return errors.Join(errs...)
}

func (r RestartReport) String() string {
	return fmt.Sprintf("members=%d restarts=%d acked=%d (before the first kill %d, after the last restart %d) "+
		"maybe=%d (delivered %d) refused=%d (delivered %d) lost=%d delivered=%d dup=%d (allowed %d) phantoms=%d "+
		"resubscribed=%d ack-errors=%d; kill %v, restart %v, read %v",
		r.Members, r.Restarts, r.Acked, r.AckedBeforeKill, r.AckedAfterRestart, r.Maybe, r.MaybeDelivered, r.Refused,
		len(r.RefusedDelivered), len(r.Lost), r.Delivered, r.Duplicates, r.DuplicateLimit, r.Phantoms, r.Resubscribed, r.AckErrors,
		r.KillTook.Round(time.Millisecond), r.RestartTook.Round(time.Millisecond), r.ReadTook.Round(time.Millisecond))
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

// RunRestart runs cfg and returns what it measured; the error is for a run
// that could not be carried out (the broker did not restart, a member could
// not subscribe, too few publishes succeeded in time).
func RunRestart(t *testing.T, cfg RestartConfig) (RestartReport, error) {
	t.Helper()
	cfg.defaults()
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
	defer cancel()
	pub := cfg.NewBus(t)
	defer func() { _ = pub.Close() }()
	if cfg.Prepare != nil {
		if err := cfg.Prepare(ctx, pub); err != nil {
			return RestartReport{Members: cfg.Members, Restarts: cfg.Restarts}, fmt.Errorf("prepare: %w", err)
		}
	}
	log := &publishLog{outcomes: map[string]pubOutcome{}, phase: map[string]int32{}}
	got := &deliveryLog{seen: map[string]int{}}
	members, err := startMembers(t, cfg, got)
	if err != nil {
		return RestartReport{Members: cfg.Members, Restarts: cfg.Restarts}, err
	}
	defer members.stop()
	pubs := startPublishers(ctx, cfg, pub, log)
	defer pubs.halt()

	r := RestartReport{Members: cfg.Members, Restarts: cfg.Restarts, maxDup: cfg.MaxDuplicates}
	if err := runPhases(ctx, cfg, log, pubs, &r); err != nil {
		pubs.halt()
		members.stop()
		r.fill(log, got, pubs.last())
		return r, err
	}
	pubs.halt()
	start := time.Now()
	awaitDelivered(cfg, log, got)
	r.ReadTook = time.Since(start)
	members.stop()
	r.fill(log, got, pubs.last())
	return r, nil
}

// runPhases waits for PerPhase acknowledgements, then kills and restarts
// the broker Restarts times, waiting for PerPhase more after each.
func runPhases(ctx context.Context, cfg RestartConfig, log *publishLog, pubs *publishers, r *RestartReport) error {
	if err := restartWait(ctx, func() bool { return log.acked.Load() >= int64(cfg.PerPhase) }); err != nil {
		return fmt.Errorf("%d of %d publishes acknowledged before the first kill: %w", log.acked.Load(), cfg.PerPhase, err)
	}
	for i := 1; i <= cfg.Restarts; i++ {
		pubs.phase.Store(int32(2*i - 1)) // killed
		start := time.Now()
		if err := cfg.Kill(ctx); err != nil {
			return fmt.Errorf("kill %d: %w", i, err)
		}
		r.KillTook = max(r.KillTook, time.Since(start))
		// Let the publishers run into the dead broker for a while: in-flight
		// publishes fail, reconnects begin.
		if err := restartSleep(ctx, cfg.Downtime); err != nil {
			return err
		}
		start = time.Now()
		if err := cfg.Restart(ctx); err != nil {
			return fmt.Errorf("restart %d: %w", i, err)
		}
		r.RestartTook = max(r.RestartTook, time.Since(start))
		at := log.acked.Load()
		pubs.phase.Store(int32(2 * i)) // restarted
		if err := restartWait(ctx, func() bool { return log.acked.Load() >= at+int64(cfg.PerPhase) }); err != nil {
			return fmt.Errorf("%d of %d publishes acknowledged after restart %d: %w",
				log.acked.Load()-at, cfg.PerPhase, i, err)
		}
	}
	return nil
}

// awaitDelivered waits until every acknowledged publish was delivered and
// then Quiet more, or until ReadWindow passes.
func awaitDelivered(cfg RestartConfig, log *publishLog, got *deliveryLog) {
	want := log.ackedIDs()
	deadline := time.Now().Add(cfg.ReadWindow)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		if got.missing(want) == 0 {
			time.Sleep(cfg.Quiet) // late duplicates still count
			return
		}
		<-tick.C
	}
}

// pubOutcome is the outcome of one publish.
type pubOutcome int

const (
	outAcked pubOutcome = iota
	outMaybe
	outRefused
)

// publishLog records every publish of the run by message ID, with the
// phase it began in: 0 before the first kill, odd while the broker was
// (being) killed, even after a restart.
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
	if err != nil && phase > 0 && len(l.firstErr) < 5 {
		l.firstErr = append(l.firstErr, err.Error())
	}
}

func (l *publishLog) ackedIDs() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ids []string
	for id, o := range l.outcomes {
		if o == outAcked {
			ids = append(ids, id)
		}
	}
	return ids
}

// deliveryLog counts what the members received, by message ID.
type deliveryLog struct {
	mu           sync.Mutex
	seen         map[string]int
	resubscribed int
	ackErrors    int
}

func (g *deliveryLog) add(id string, ackErr error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.seen[id]++
	if ackErr != nil {
		g.ackErrors++
	}
}

func (g *deliveryLog) missing(want []string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, id := range want {
		if g.seen[id] == 0 {
			n++
		}
	}
	return n
}

// fill tallies what the members saw against the publish outcomes.
func (r *RestartReport) fill(l *publishLog, g *deliveryLog, lastPhase int32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	g.mu.Lock()
	defer g.mu.Unlock()
	r.Resubscribed, r.AckErrors = g.resubscribed, g.ackErrors
	r.FirstErrors = append([]string(nil), l.firstErr...)
	for id, n := range g.seen {
		if _, ok := l.outcomes[id]; !ok {
			r.Phantoms += n
		}
	}
	for id, o := range l.outcomes {
		r.countOutcome(o, l.phase[id], lastPhase)
		n := g.seen[id]
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
	r.DuplicateLimit = r.maxDup
	if r.DuplicateLimit <= 0 {
		r.DuplicateLimit = r.Acked / 10
	}
}

func (r *RestartReport) countOutcome(o pubOutcome, phase, lastPhase int32) {
	switch o {
	case outAcked:
		r.Acked++
		if phase == 0 {
			r.AckedBeforeKill++
		}
		if phase == lastPhase && phase > 0 && phase%2 == 0 {
			r.AckedAfterRestart++
		}
	case outMaybe:
		r.Maybe++
	case outRefused:
		r.Refused++
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
