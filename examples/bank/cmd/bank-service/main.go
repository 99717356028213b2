// Command bank-service runs the bank's accounts as a separate service on
// one broker, for edkit's black-box tests: it consumes commands (JSON
// bank.Msg, keyed by account) from --in as group --group and answers each
// with one event on --out, carrying the command's --correlation-header
// and, as causation-id, the command's message ID (see package
// examples/bank/service).
//
//	bank-service --broker kafka --addr 127.0.0.1:9092
//	bank-service --broker rabbitmq --url amqp://guest:guest@127.0.0.1:5672/
//	bank-service --broker nats --url nats://127.0.0.1:4222
//	bank-service --broker redis --addr 127.0.0.1:6379
//
// --drop-every, --duplicate-every and --reorder-every switch misbehaviour
// on, to prove a checker catches it. Once subscribed it prints
// "bank-service ready" on stdout; SIGTERM or SIGINT stops it cleanly (exit
// 0). Bad flags exit 2 naming the flag; broker errors exit 1.
//
// Kafka topics must exist (--in and --out; it checks at start and waits
// up to 10 s for them); the other brokers make theirs on first use.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/edkit-dev/edkit/examples/bank/service"
	"github.com/edkit-dev/edkit/reference/bus"
)

// readyLine is what edkit's process provider waits for on stdout.
const readyLine = "bank-service ready"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run is the command: parse, open the broker, serve until a signal. It
// returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseArgs(args, stderr)
	if errors.Is(err, pflag.ErrHelp) {
		return 0
	}
	if err != nil {
		for _, e := range flatten(err) {
			fmt.Fprintf(stderr, "bank-service: %v\n", e)
		}
		fmt.Fprintln(stderr, "bank-service: see --help")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	context.AfterFunc(ctx, stop) // a second signal kills a shutdown that hangs
	if err := serve(ctx, o, stdout); err != nil {
		fmt.Fprintf(stderr, "bank-service: %s\n", o.scrub(err))
		return 1
	}
	return 0
}

// serve opens the broker, runs the service until ctx is done, printing
// readyLine once it is subscribed, and closes the broker.
func serve(ctx context.Context, o *options, stdout io.Writer) (err error) {
	b, err := o.open(ctx)
	if err != nil {
		return fmt.Errorf("%s at %s: %w", o.broker, o.redacted(), err)
	}
	defer func() {
		if cerr := b.Close(); cerr != nil && !errors.Is(cerr, bus.ErrClosed) {
			err = errors.Join(err, fmt.Errorf("close %s: %w", o.broker, cerr))
		}
	}()
	svc := service.New(b, o.cfg)
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	select {
	case <-svc.Ready():
		fmt.Fprintln(stdout, readyLine)
	case err := <-done:
		return fmt.Errorf("%s at %s: %w", o.broker, o.redacted(), err)
	}
	if err := <-done; err != nil {
		return fmt.Errorf("%s at %s: %w", o.broker, o.redacted(), err)
	}
	return nil
}

// flatten lists the errors joined in err.
func flatten(err error) []error {
	var j interface{ Unwrap() []error }
	if errors.As(err, &j) {
		return j.Unwrap()
	}
	return []error{err}
}
