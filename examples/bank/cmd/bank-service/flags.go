package main

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/spf13/pflag"

	"github.com/edkit-dev/edkit/examples/bank/service"
)

// The brokers, as --broker names them.
const (
	brokerKafka    = "kafka"
	brokerRabbitMQ = "rabbitmq"
	brokerNATS     = "nats"
	brokerRedis    = "redis"
)

// options is the parsed command line.
type options struct {
	broker string
	addr   string // kafka bootstrap list; redis address
	url    string // amqp:// or nats:// URL; a redis:// URL
	cfg    service.Config
}

// flagFor names the flag that sets each service.Config field.
var flagFor = map[string]string{
	"In": "in", "Out": "out", "Group": "group", "CorrelationHeader": "correlation-header",
	"DropEvery": "drop-every", "DuplicateEvery": "duplicate-every", "ReorderEvery": "reorder-every",
}

// parseArgs parses and checks args, returning every problem at once, each
// naming its flag, or pflag.ErrHelp after printing the usage.
func parseArgs(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := pflag.NewFlagSet("bank-service", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.broker, "broker", "", "the broker: kafka, rabbitmq, nats or redis (required)")
	fs.StringVar(&o.addr, "addr", "", "kafka: bootstrap host:port[,host:port]; redis: host:port")
	fs.StringVar(&o.url, "url", "", "rabbitmq: amqp:// URL; nats: nats:// URL[,URL]; redis: a redis:// URL instead of --addr")
	fs.StringVar(&o.cfg.In, "in", service.DefaultIn, "command topic")
	fs.StringVar(&o.cfg.Out, "out", service.DefaultOut, "answer topic")
	fs.StringVar(&o.cfg.Group, "group", service.DefaultGroup, "consumer group on the command topic")
	fs.StringVar(&o.cfg.CorrelationHeader, "correlation-header", service.DefaultCorrelationHeader, "header copied from each command to its answer")
	fs.IntVar(&o.cfg.DropEvery, "drop-every", 0, "misbehave: do not publish every N-th answer (0: off)")
	fs.IntVar(&o.cfg.DuplicateEvery, "duplicate-every", 0, "misbehave: publish every N-th answer twice (0: off)")
	fs.IntVar(&o.cfg.ReorderEvery, "reorder-every", 0, "misbehave: hold every N-th answer back behind its account's next one (0: off)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: bank-service --broker kafka|rabbitmq|nats|redis (--addr host:port[,...] | --url URL) [flags]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	var errs []error
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected argument %q: every setting is a flag", fs.Arg(0)))
	}
	for _, name := range []string{"in", "out", "group", "correlation-header"} {
		if f := fs.Lookup(name); f.Value.String() == "" {
			errs = append(errs, fmt.Errorf("--%s: must not be empty", name))
		}
	}
	errs = append(errs, o.checkBroker()...)
	if errors.Join(errs...) == nil { // the config's checks, in flag names
		for _, e := range flatten(o.cfg.Validate()) {
			var fe *service.FieldError
			if errors.As(e, &fe) {
				errs = append(errs, fmt.Errorf("--%s: %s", flagFor[fe.Field], fe.Problem))
			}
		}
	}
	return o, errors.Join(errs...)
}

// checkBroker checks --broker and the address flags it needs.
func (o *options) checkBroker() []error {
	need := func(flag, value, why string) error {
		if value == "" {
			return fmt.Errorf("--%s: required with --broker %s (%s)", flag, o.broker, why)
		}
		return nil
	}
	unused := func(flag, value, instead string) error {
		if value != "" {
			return fmt.Errorf("--%s: not used with --broker %s (use --%s)", flag, o.broker, instead)
		}
		return nil
	}
	switch o.broker {
	case brokerKafka:
		return []error{need("addr", o.addr, "bootstrap host:port list"), unused("url", o.url, "addr")}
	case brokerRabbitMQ:
		return []error{need("url", o.url, "amqp://user:pass@host:port/vhost"), unused("addr", o.addr, "url"), schemeOf("url", o.url, "amqp", "amqps")}
	case brokerNATS:
		return []error{need("url", o.url, "nats://host:port"), unused("addr", o.addr, "url")}
	case brokerRedis:
		if o.addr != "" && o.url != "" {
			return []error{errors.New("--addr, --url: give one with --broker redis")}
		}
		return []error{need("addr", o.addr+o.url, "host:port, or --url redis://..."), schemeOf("url", o.url, "redis", "rediss", "unix")}
	case "":
		return []error{errors.New("--broker: required: kafka, rabbitmq, nats or redis")}
	}
	return []error{fmt.Errorf("--broker: %q is not one of kafka, rabbitmq, nats, redis", o.broker)}
}

// schemeOf checks that the URL in flag, when given, has one of schemes.
func schemeOf(flag, raw string, schemes ...string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("--%s: not a URL", flag) // url's error quotes the URL, credentials and all
	}
	for _, s := range schemes {
		if u.Scheme == s {
			return nil
		}
	}
	return fmt.Errorf("--%s: scheme %q, want %s://", flag, u.Scheme, strings.Join(schemes, ":// or "))
}
