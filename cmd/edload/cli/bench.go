package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/edkit-dev/edkit/brokerbench"
)

// benchFlags are `edload bench`'s settings, one per brokerbench.Workload
// field.
type benchFlags struct {
	broker, mode                                  string
	producers, consumers, size, partitions, batch int
	rate                                          float64
	duration                                      time.Duration
	backlog                                       int
}

// benchFlagNames maps a Workload field to the flag that sets it, so
// Workload.Validate's problems read as flag errors.
var benchFlagNames = map[string]string{
	"Mode": "--mode", "Producers": "--producers", "Consumers": "--consumers", "MessageSize": "--size",
	"Partitions": "--partitions", "Batch": "--batch", "Rate": "--rate", "Duration": "--duration", "Backlog": "--backlog",
}

func newBenchCmd(stdout, stderr io.Writer) *cobra.Command {
	f := &benchFlags{}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Broker workloads (OMB-style) with edkit's bus beside the bare client, same run",
		Long: `bench starts a broker (Kafka in-process, NATS, Redis and RabbitMQ as local
server processes on free loopback ports), runs an OpenMessaging-Benchmark-style
workload on it twice, first with the plain client library (kafka-go, nats.go,
go-redis, amqp091-go) and then with edkit's bus backend for that broker, each
on a fresh topic, and prints both clients' throughput and publish and
end-to-end latency percentiles, and edkit's figures over the bare client's.

Modes: produce (producers only), consume (consumers drain --backlog messages
produced while they were paused), produce-consume (both, for --duration).
--rate is the producers' total in messages/s; 0 sends each next batch when
the last one is acknowledged.

Exit codes: 0 the comparison ran; 1 a client's consumers did not receive
exactly what was published, or a client failed; 2 bad usage; 3 the broker
could not start.`,
		Example: "  edload bench --broker kafka --mode produce-consume --duration 10s\n" +
			"  edload bench --broker nats --mode consume --backlog 100000 --consumers 4\n" +
			"  edload bench --broker redis --mode produce --size 100 --batch 50 --rate 20000",
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			b, w, err := f.workload(c)
			if err != nil {
				fmt.Fprintln(stderr, c.UsageString())
				return &usageError{err}
			}
			return runBench(c.Context(), b, w, stdout, stderr)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.broker, "broker", "kafka", "broker: kafka, nats, redis or rabbitmq")
	fl.StringVar(&f.mode, "mode", "produce-consume", "workload: produce, consume or produce-consume")
	fl.IntVar(&f.producers, "producers", 2, "producers, each with its own client")
	fl.IntVar(&f.consumers, "consumers", 2, "consumers in the one consumer group (not in produce mode)")
	fl.IntVar(&f.size, "size", 1024, "message size in bytes")
	fl.IntVar(&f.partitions, "partitions", 4, "topic partitions (Kafka; the other brokers have one stream or queue)")
	fl.IntVar(&f.batch, "batch", 10, "messages per publish call")
	fl.Float64Var(&f.rate, "rate", 0, "total messages/s over all producers; 0: as fast as acknowledged")
	fl.DurationVar(&f.duration, "duration", 10*time.Second, "how long the producers run (not in consume mode)")
	fl.IntVar(&f.backlog, "backlog", 0, "consume mode: messages produced before the consumers start")
	return cmd
}

// workload checks the flags and makes the Workload, naming the flag of
// every problem.
func (f *benchFlags) workload(c *cobra.Command) (brokerbench.Broker, brokerbench.Workload, error) {
	var errs []error
	b, err := brokerbench.ParseBroker(f.broker)
	if err != nil {
		errs = append(errs, fmt.Errorf("--broker %q: want kafka, nats, redis or rabbitmq", f.broker))
	}
	mode, err := brokerbench.ParseMode(f.mode)
	if err != nil {
		return b, brokerbench.Workload{}, errors.Join(append(errs,
			fmt.Errorf("--mode %q: want produce, consume or produce-consume", f.mode))...)
	}
	w := brokerbench.Workload{Mode: mode, Producers: f.producers, Consumers: f.consumers, MessageSize: f.size,
		Partitions: f.partitions, Batch: f.batch, Rate: f.rate, Duration: f.duration, Backlog: f.backlog}
	// Defaults that do not apply to the mode step aside; a value the
	// user gave is checked.
	if mode == brokerbench.ProduceOnly && !c.Flags().Changed("consumers") {
		w.Consumers = 0
	}
	if mode == brokerbench.ConsumeOnly && !c.Flags().Changed("duration") {
		w.Duration = 0
	}
	for _, p := range w.Problems() {
		errs = append(errs, fmt.Errorf("%s %v: want %s", benchFlagNames[p.Field], p.Value, p.Want))
	}
	return b, w, errors.Join(errs...)
}

// runBench starts the broker, compares the clients on it and prints the
// table; the broker stops on return, also when interrupted.
func runBench(ctx context.Context, b brokerbench.Broker, w brokerbench.Workload, stdout, stderr io.Writer) error {
	fmt.Fprintf(stderr, "edload bench: starting %s\n", b)
	e, target, err := brokerbench.StartBroker(ctx, b)
	if err != nil {
		return &envError{err}
	}
	defer func() {
		if err := e.Close(); err != nil {
			printErr(stderr, fmt.Errorf("stop %s: %w", b, err))
		}
	}()
	fmt.Fprintf(stderr, "edload bench: %s on %s, bare client first, then edkit\n", w.Mode, target.Endpoint.Redacted())
	res, err := brokerbench.Compare(ctx, target, w)
	var incomplete *brokerbench.IncompleteError
	if err != nil && !errors.As(err, &incomplete) {
		return err
	}
	if werr := res.WriteTable(stdout); werr != nil {
		return werr
	}
	if err != nil {
		printErr(stderr, err)
		return errBroken
	}
	return nil
}
