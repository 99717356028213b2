package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/amqpbus"
	"github.com/edkit-dev/edkit/reference/bus/kafkabus"
	"github.com/edkit-dev/edkit/reference/bus/natsbus"
	"github.com/edkit-dev/edkit/reference/bus/redisbus"
	"github.com/edkit-dev/edkit/reports"
)

// dlqFlags are the settings `edload dlq ls` and `dlq redrive` share.
type dlqFlags struct {
	broker  string
	brokers string
	url     string
	state   string
	allow   []string
	topic   string
	group   string
	limit   int
	idle    time.Duration
	json    bool
	// redrive only
	to       string
	reason   string
	ids      []string
	original string
	dryRun   bool
}

// dlqBrokerKinds maps --broker to the env kind `env up` records.
var dlqBrokerKinds = map[string]env.Kind{
	"kafka": env.KindKafka, "nats": env.KindNATS, "redis": env.KindRedis, "amqp": env.KindRabbitMQ,
}

func (f *dlqFlags) validate() error {
	var errs []error
	if _, ok := dlqBrokerKinds[f.broker]; !ok {
		errs = append(errs, fmt.Errorf("--broker %q: want kafka, nats, redis or amqp", f.broker))
	}
	if strings.TrimSpace(f.topic) == "" {
		errs = append(errs, errors.New("--topic: the dead-letter topic is required"))
	}
	if strings.TrimSpace(f.group) == "" {
		errs = append(errs, errors.New("--group: want a consumer group name"))
	}
	if f.limit < 0 {
		errs = append(errs, fmt.Errorf("--limit %d: want >= 0 (0: no limit)", f.limit))
	}
	if f.idle <= 0 {
		errs = append(errs, fmt.Errorf("--idle %v: want > 0", f.idle))
	}
	return errors.Join(errs...)
}

// options turns the flags into the library's options.
func (f *dlqFlags) options() []bus.DLQOption {
	opts := []bus.DLQOption{bus.Idle(f.idle), bus.Limit(f.limit)}
	if f.to != "" {
		opts = append(opts, bus.RedriveTo(f.to))
	}
	if f.reason != "" {
		opts = append(opts, bus.MatchReason(f.reason))
	}
	if len(f.ids) > 0 {
		opts = append(opts, bus.MatchIDs(f.ids...))
	}
	if f.original != "" {
		opts = append(opts, bus.MatchTopic(f.original))
	}
	if f.dryRun {
		opts = append(opts, bus.DryRun())
	}
	return opts
}

func newDLQCmd(stdout, stderr io.Writer) *cobra.Command {
	f := &dlqFlags{}
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "List dead letters and redrive them to their original topics",
		Long: `dlq ls lists the dead letters on a DLQ topic that --group has not consumed,
without removing them. dlq redrive republishes them to their original topic
(or --to) with the same ID and key, and removes each from the DLQ only after
the broker confirmed the republish: a failure leaves the entry where it was.

The broker's address comes from --brokers or --url, else from the state file
'edload env up' wrote. Exit codes: 0 done; 1 some entries could not be
redriven (they stay in the DLQ); 2 bad usage; 3 the broker is unreachable.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			fmt.Fprintln(stderr, c.UsageString())
			return &usageError{errors.New("dlq needs a subcommand: ls or redrive")}
		},
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.broker, "broker", "kafka", "broker: kafka, nats, redis or amqp")
	pf.StringVar(&f.brokers, "brokers", "", "comma-separated host:port addresses (kafka, redis)")
	pf.StringVar(&f.url, "url", "", "broker URL (nats://, amqp://, redis://)")
	pf.StringVar(&f.state, "state", defaultStateFile, "state file of 'edload env up', read when no address is given")
	pf.StringSliceVar(&f.allow, "allow-remote", nil, "hosts off this machine dlq may connect to (host, host:port or CIDR; loopback needs none)")
	pf.StringVar(&f.topic, "topic", "", "dead-letter topic (required)")
	pf.StringVar(&f.group, "group", "edkit-dlq-redrive", "consumer group that reads the dead-letter topic")
	pf.IntVar(&f.limit, "limit", 0, "stop after this many entries (0: no limit)")
	pf.DurationVar(&f.idle, "idle", 2*time.Second, "stop once the topic has been quiet this long")
	pf.BoolVar(&f.json, "json", false, "print JSON instead of a table")

	ls := &cobra.Command{
		Use:     "ls",
		Short:   "List dead letters without removing them",
		Example: "  edload dlq ls --topic shop.dlq\n  edload dlq ls --broker kafka --brokers 127.0.0.1:9092 --topic shop.dlq --json",
		Args:    noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := f.validate(); err != nil {
				fmt.Fprintln(stderr, c.UsageString())
				return &usageError{err}
			}
			return dlqList(c.Context(), f, stdout)
		},
	}
	redrive := &cobra.Command{
		Use:   "redrive",
		Short: "Republish dead letters to their original topic, then remove them from the DLQ",
		Example: "  edload dlq redrive --topic shop.dlq --reason timeout --dry-run\n" +
			"  edload dlq redrive --topic shop.dlq --id o-17 --id o-18 --to shop.commands.replay",
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := f.validate(); err != nil {
				fmt.Fprintln(stderr, c.UsageString())
				return &usageError{err}
			}
			return dlqRedrive(c.Context(), f, stdout)
		},
	}
	rf := redrive.Flags()
	rf.StringVar(&f.to, "to", "", "republish to this topic instead of each entry's original topic")
	rf.StringVar(&f.reason, "reason", "", "only entries whose reason contains this")
	rf.StringSliceVar(&f.ids, "id", nil, "only entries with these message IDs (repeatable, comma-separated)")
	rf.StringVar(&f.original, "original-topic", "", "only entries dead-lettered from this topic")
	rf.BoolVar(&f.dryRun, "dry-run", false, "report what would be redriven; publish and remove nothing")
	cmd.AddCommand(ls, redrive)
	return cmd
}

func dlqList(ctx context.Context, f *dlqFlags, stdout io.Writer) error {
	b, err := openDLQBus(ctx, f)
	if err != nil {
		return err
	}
	defer func() { _ = b.Close() }()
	entries, err := bus.Peek(ctx, b, f.topic, f.group, f.options()...)
	if err != nil {
		return &envError{err}
	}
	if f.json {
		if entries == nil {
			entries = []bus.DeadLetterEntry{}
		}
		return writeJSON(stdout, entries)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tORIGINAL TOPIC\tGROUP\tATTEMPTS\tREASON")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", reports.Clean(e.ID), reports.Clean(e.OriginalTopic), reports.Clean(e.Group), e.Attempts, reports.Clean(e.Reason))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d dead letters on %s not yet consumed by %s\n", len(entries), f.topic, f.group)
	return nil
}

func dlqRedrive(ctx context.Context, f *dlqFlags, stdout io.Writer) error {
	b, err := openDLQBus(ctx, f)
	if err != nil {
		return err
	}
	defer func() { _ = b.Close() }()
	rep, err := bus.Redrive(ctx, b, b, f.topic, f.group, f.options()...)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &envError{err}
	}
	if f.json {
		if err := writeJSON(stdout, rep); err != nil {
			return err
		}
	} else {
		verb := "redriven"
		if rep.DryRun {
			verb = "would redrive"
		}
		for _, e := range rep.Redriven {
			to := f.to
			if to == "" {
				to = e.OriginalTopic
			}
			fmt.Fprintf(stdout, "%-14s %s → %s\n", verb, reports.Clean(e.ID), reports.Clean(to))
		}
		for _, e := range rep.Skipped {
			fmt.Fprintf(stdout, "%-14s %s (left in the DLQ)\n", "skipped", reports.Clean(e.ID))
		}
		for _, fl := range rep.Failed {
			fmt.Fprintf(stdout, "%-14s %s: %s (left in the DLQ)\n", "failed", reports.Clean(fl.Entry.ID), reports.Clean(fl.Err))
		}
		fmt.Fprintf(stdout, "%s %d, skipped %d, failed %d\n", verb, len(rep.Redriven), len(rep.Skipped), len(rep.Failed))
	}
	if len(rep.Failed) > 0 {
		return errBroken
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// dlqAddress returns the addresses (kafka, redis) or URL (nats, amqp) to
// dial: the flags first, else the `env up` state file.
func dlqAddress(f *dlqFlags) (addrs []string, u string, err error) {
	if f.brokers != "" || f.url != "" {
		for _, a := range strings.Split(f.brokers, ",") {
			if a = strings.TrimSpace(a); a != "" {
				addrs = append(addrs, a)
			}
		}
		return addrs, f.url, nil
	}
	s, err := readState(f.state)
	if errors.Is(err, os.ErrNotExist) {
		return nil, "", &usageError{fmt.Errorf("no --brokers or --url, and no environment state at %s (run 'edload env up' or give an address)", f.state)}
	}
	if err != nil {
		return nil, "", &inputError{err}
	}
	kind := dlqBrokerKinds[f.broker]
	for _, c := range s.Components {
		if c.Kind == string(kind) {
			return c.Addrs, c.URL, nil
		}
	}
	return nil, "", &usageError{fmt.Errorf("the environment in %s has no %s component", f.state, kind)}
}

// dialTargets lists host:port pairs to probe for reachability. A URL that
// does not parse is bad usage, told without its password: url.Parse's
// error quotes the URL or a piece of it, so its detail is not repeated.
func dialTargets(addrs []string, u string) ([]string, error) {
	out := append([]string(nil), addrs...)
	for _, one := range splitURLs(u) {
		pu, err := url.Parse(one)
		if err != nil {
			return nil, &usageError{fmt.Errorf("--url %s: not a URL (want scheme://host:port, any user and password before the host, with %%, @ and : in a password escaped)",
				reports.Redact(one))}
		}
		if pu.Host == "" {
			return nil, &usageError{fmt.Errorf("--url %s: no host", reports.Redact(one))}
		}
		out = append(out, pu.Host)
	}
	return out, nil
}

// splitURLs splits a comma-separated list of URLs (NATS takes several),
// keeping a comma that is not followed by a scheme inside its URL: a
// password may hold one.
func splitURLs(u string) []string {
	var out []string
	for _, piece := range strings.Split(u, ",") {
		switch {
		case len(out) > 0 && !strings.Contains(piece, "://"):
			out[len(out)-1] += "," + piece
		case strings.TrimSpace(piece) != "":
			out = append(out, strings.TrimSpace(piece))
		}
	}
	return out
}

// probe fails with an envError unless some target accepts a connection, so
// an unreachable broker is exit 3 at once rather than an idle-long silence.
func probe(ctx context.Context, targets []string) error {
	var errs []error
	for _, t := range targets {
		c, err := (&net.Dialer{Timeout: 3 * time.Second}).DialContext(ctx, "tcp", t)
		if err == nil {
			_ = c.Close()
			return nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return &usageError{errors.New("no broker address given")}
	}
	return &envError{fmt.Errorf("broker unreachable: %w", errors.Join(errs...))}
}

func openDLQBus(ctx context.Context, f *dlqFlags) (bus.Bus, error) {
	addrs, u, err := dlqAddress(f)
	if err != nil {
		return nil, err
	}
	targets, err := dialTargets(addrs, u)
	if err != nil {
		return nil, err
	}
	for _, t := range targets {
		if err := env.CheckTarget(t, f.allow); err != nil {
			return nil, &usageError{err}
		}
	}
	if err := probe(ctx, targets); err != nil {
		return nil, err
	}
	var b bus.Bus
	switch f.broker {
	case "kafka":
		if len(addrs) == 0 {
			return nil, &usageError{errors.New("--broker kafka needs --brokers host:port[,host:port]")}
		}
		kb, kerr := kafkabus.New(addrs)
		if kerr != nil {
			return nil, &usageError{kerr}
		}
		return kb, nil
	case "redis":
		addr := u
		if addr == "" && len(addrs) > 0 {
			addr = addrs[0]
		}
		b, err = redisbus.New(addr)
	case "nats":
		b, err = natsbus.New(u)
	case "amqp":
		b, err = amqpbus.New(ctx, u)
	}
	if err != nil {
		return nil, &envError{err}
	}
	return b, nil
}
