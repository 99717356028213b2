package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// runFlags are `edload run`'s settings.
type runFlags struct {
	broker     string
	duration   time.Duration
	rate       float64
	workers    int
	keys       int
	payload    int
	seed       int64
	fault      string
	dupRate    float64
	delayRate  float64
	maxDelay   time.Duration
	dedup      bool
	declineOne int
	partitions int
	quiesce    time.Duration
	maxP99     time.Duration
	minRate    float64
	out        string
	verbose    bool
}

func (f *runFlags) validate() error {
	var errs []error
	switch f.broker {
	case "kafka", "memory":
	default:
		errs = append(errs, fmt.Errorf("--broker %q: want kafka or memory", f.broker))
	}
	switch f.fault {
	case "none", "duplicate":
	default:
		errs = append(errs, fmt.Errorf("--fault %q: want none or duplicate", f.fault))
	}
	if f.duration <= 0 {
		errs = append(errs, fmt.Errorf("--duration %v: want > 0", f.duration))
	}
	if f.rate <= 0 {
		errs = append(errs, fmt.Errorf("--rate %v: want > 0", f.rate))
	}
	if f.workers < 1 {
		errs = append(errs, fmt.Errorf("--workers %d: want >= 1", f.workers))
	}
	if f.keys < 1 {
		errs = append(errs, fmt.Errorf("--keys %d: want >= 1", f.keys))
	}
	if f.payload < 0 {
		errs = append(errs, fmt.Errorf("--payload %d: want >= 0", f.payload))
	}
	if f.dupRate < 0 || f.dupRate > 1 || f.delayRate < 0 || f.delayRate > 1 {
		errs = append(errs, errors.New("--dup-rate and --delay-rate: want fractions within [0, 1]"))
	}
	if f.minRate < 0 || f.minRate > 1 {
		errs = append(errs, fmt.Errorf("--min-rate %v: want a fraction within [0, 1]", f.minRate))
	}
	if f.declineOne < 0 {
		errs = append(errs, fmt.Errorf("--decline-every %d: want >= 0", f.declineOne))
	}
	if f.partitions < 1 {
		errs = append(errs, fmt.Errorf("--partitions %d: want >= 1", f.partitions))
	}
	if f.quiesce <= 0 {
		errs = append(errs, fmt.Errorf("--quiesce-timeout %v: want > 0", f.quiesce))
	}
	if strings.TrimSpace(f.out) == "" {
		errs = append(errs, errors.New("--out: want a directory"))
	}
	return errors.Join(errs...)
}

func newRunCmd(stdout, stderr io.Writer) *cobra.Command {
	f := &runFlags{}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Drive open-loop load through the reference shop, check invariants, write a report",
		Long: `run starts the reference shop (command service, order-fulfilment saga,
order-summary projection, outbox relay) on the chosen broker, drives
place-order commands at a constant open-loop rate, waits for the system to
quiesce, checks the recorded history against edkit's invariants, and writes
report.json, junit.xml and history.jsonl to --out.

Latency is measured from each command's intended send time, so a stalled
system cannot hide its stall. End-to-end latency is from that time until the
order-summary read model shows the order.`,
		Example: `  edload run --duration 20s --rate 100 --fault duplicate --dedup=true
  edload run --duration 20s --rate 100 --fault duplicate --dedup=false   # exits 1: duplicate effects`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return &usageError{fmt.Errorf("run takes no arguments, got %q", args)}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.validate(); err != nil {
				fmt.Fprintln(stderr, cmd.UsageString())
				return &usageError{err}
			}
			progress := io.Writer(stderr)
			var tty *os.File
			if file, ok := stderr.(*os.File); ok {
				tty = file
			}
			rep, err := runShop(cmd.Context(), f, stdout, progress, tty)
			if err != nil {
				return err
			}
			if rep != nil && !rep.OK() {
				return errBroken
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.broker, "broker", "kafka", "broker: kafka (embedded, real wire protocol) or memory")
	fl.DurationVar(&f.duration, "duration", 20*time.Second, "how long to send load")
	fl.Float64Var(&f.rate, "rate", 100, "target place-order commands per second (open loop)")
	fl.IntVar(&f.workers, "workers", 32, "concurrent senders; bounds concurrency, never the schedule")
	fl.IntVar(&f.keys, "keys", 50, "number of customers commands are spread over")
	fl.IntVar(&f.payload, "payload", 64, "bytes of note carried by each order")
	fl.Int64Var(&f.seed, "seed", 1, "seed for keys and the fault schedule; the same seed replays the same run")
	fl.StringVar(&f.fault, "fault", "none", "fault to inject: none or duplicate (duplicates and delays deliveries)")
	fl.Float64Var(&f.dupRate, "dup-rate", 0.05, "fraction of deliveries duplicated by the duplicate fault")
	fl.Float64Var(&f.delayRate, "delay-rate", 0.05, "fraction of deliveries delayed by the duplicate fault")
	fl.DurationVar(&f.maxDelay, "max-delay", 20*time.Millisecond, "longest delay the duplicate fault adds")
	fl.BoolVar(&f.dedup, "dedup", true, "inbox deduplication by message ID in the command service")
	fl.IntVar(&f.declineOne, "decline-every", 10, "every Nth order is over the payment limit and is compensated (0: none)")
	fl.IntVar(&f.partitions, "partitions", 4, "partitions per Kafka topic")
	fl.DurationVar(&f.quiesce, "quiesce-timeout", 60*time.Second, "how long to wait for in-flight orders to settle after the load")
	fl.DurationVar(&f.maxP99, "max-p99", 0, "fail the run when end-to-end p99 exceeds this (0: no threshold)")
	fl.Float64Var(&f.minRate, "min-rate", 0.95, "fail the run when the achieved rate is below this fraction of --rate")
	fl.StringVar(&f.out, "out", "runs/latest", "directory for report.json, junit.xml and history.jsonl")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "log the shop's warnings (dead-letters, retries)")
	return cmd
}

// ensureDir makes the output directory before anything starts, so a bad
// --out fails fast as bad usage rather than after the load.
func ensureDir(dir string) error {
	// 0o755 like reports.WriteDir: the run directory is uploaded as a CI
	// artifact, possibly by another user.
	if err := os.MkdirAll(dir, 0o755); err != nil { //nolint:gosec // G301: shared with CI artifact uploaders on purpose
		return &usageError{fmt.Errorf("--out %s: %w", dir, err)}
	}
	return nil
}
