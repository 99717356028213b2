package embedded

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/harness/env/netfault"
	"github.com/edkit-dev/edkit/harness/env/ownership"
)

// Option configures a Provider.
type Option func(*Provider)

// BrokerBinary sets the edkit-broker binary child mode runs, overriding
// $EDKIT_BROKER_BIN and the build from source.
func BrokerBinary(path string) Option {
	return func(p *Provider) { p.brokerBin = path }
}

// Provider starts Kafka and NATS in this process or as edkit-broker child
// processes. It is safe for concurrent use; each Start makes an
// independent broker.
type Provider struct {
	brokerBin string
}

var _ env.Provider = (*Provider)(nil)

// New returns the embedded provider.
func New(opts ...Option) *Provider {
	p := &Provider{}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Name is env.Embedded.
func (p *Provider) Name() env.ProviderName { return env.Embedded }

// Supports accepts kafka and nats, the kinds with an in-process server.
func (p *Provider) Supports(kind env.Kind) error {
	switch kind {
	case env.KindKafka, env.KindNATS:
		return nil
	}
	return fmt.Errorf("%w: %s (embedded runs kafka and nats)", ErrUnsupported, kind)
}

// FrontsProxied is true for every kind: the provider fronts its brokers
// itself, so that Kafka advertises the proxies' addresses.
func (p *Provider) FrontsProxied(env.Kind) bool { return true }

var _ env.FrontingProvider = (*Provider)(nil)

// CheckSpec checks spec's options (see the package doc) without starting
// anything.
func (p *Provider) CheckSpec(spec env.ComponentSpec) error {
	_, err := parse(spec)
	return err
}

var _ env.SpecChecker = (*Provider)(nil)

// settings are a spec's parsed options.
type settings struct {
	child      bool
	brokers    int
	partitions int
	topics     []string
}

// Bounds of the kafka options: each broker is a listener and each
// partition a log in this process, so a spec cannot ask for millions.
const (
	MaxBrokers    = 16
	MaxPartitions = 4096
)

func parse(spec env.ComponentSpec) (settings, error) {
	s := settings{brokers: 1, partitions: 4}
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, &env.FieldError{Field: "options." + key, Err: fmt.Errorf("%w: "+format, append([]any{ErrBadOption}, a...)...)})
	}
	intOpt := func(key string, dst *int, most int) {
		v, ok := spec.Options[key]
		if !ok {
			return
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > most {
			bad(key, "%s=%q, want an integer from 1 to %d", key, v, most)
			return
		}
		*dst = n
	}
	for _, k := range slices.Sorted(maps.Keys(spec.Options)) {
		v := spec.Options[k]
		switch k {
		case "mode":
			switch v {
			case "", "inprocess":
			case "child":
				s.child = true
			default:
				bad(k, "mode=%q, want inprocess or child", v)
			}
		case "brokers", "partitions", "topics":
			if spec.Kind != env.KindKafka {
				bad(k, "%s is a kafka option", k)
			}
		default:
			bad(k, "unknown option %q (want mode, or for kafka brokers, partitions, topics)", k)
		}
	}
	intOpt("brokers", &s.brokers, MaxBrokers)
	intOpt("partitions", &s.partitions, MaxPartitions)
	for _, t := range strings.Split(spec.Options["topics"], ",") {
		if t = strings.TrimSpace(t); t != "" {
			s.topics = append(s.topics, t)
		}
	}
	return s, errors.Join(errs...)
}

// Start starts one broker and returns once it is ready by protocol. The
// handle is *InProcess or *Child, or ProxiedInProcess / ProxiedChild when
// spec.Proxied.
func (p *Provider) Start(ctx context.Context, spec env.ComponentSpec) (env.Component, error) {
	if err := p.Supports(spec.Kind); err != nil {
		return nil, err
	}
	s, err := parse(spec)
	if err != nil {
		return nil, err
	}
	if spec.Name == "" {
		spec.Name = string(spec.Kind)
	}
	bin := ""
	if s.child {
		if bin, err = p.brokerBinary(ctx); err != nil {
			return nil, err
		}
	}
	dir, err := ownership.MkdirTemp("", "edkit-"+string(spec.Kind)+"-*")
	if err != nil {
		return nil, err
	}
	h := &handle{name: spec.Name, kind: spec.Kind, dir: dir}
	fail := func(err error) (env.Component, error) {
		return nil, errors.Join(err, h.Close(context.WithoutCancel(ctx)))
	}
	n := 1
	if spec.Kind == env.KindKafka {
		n = s.brokers
	}
	ports, err := freePorts(n)
	if err != nil {
		return fail(err)
	}
	addrs := make([]string, n)
	for i, port := range ports {
		addrs[i] = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	}
	endpoint := addrs
	if spec.Proxied {
		h.proxies = netfault.New()
		endpoint = make([]string, n)
		for i, a := range addrs {
			px, err := h.proxies.Front(ctx, fmt.Sprintf("%s-%d", spec.Name, i), a)
			if err != nil {
				return fail(err)
			}
			h.fronts = append(h.fronts, px)
			endpoint[i] = px.Addr()
		}
	}
	h.endpoint = env.Endpoint{Addrs: endpoint}
	logs := &logBuffer{}

	switch spec.Kind {
	case env.KindKafka:
		cfg := KafkaConfig{Ports: ports, Partitions: s.partitions, Topics: s.topics}
		if spec.Proxied {
			cfg.Advertise = endpoint
		}
		if spec.Durable {
			// Without a data dir a restarted kfake comes back empty.
			cfg.DataDir = filepath.Join(dir, "data")
		}
		if s.child {
			h.run = &childRunner{bin: bin, logs: logs, args: func() []string { return kafkaArgs(cfg) }}
		} else {
			h.run = &kafkaRunner{cfg: cfg}
		}
	case env.KindNATS:
		h.endpoint.URL = "nats://" + endpoint[0]
		cfg := NATSConfig{Port: ports[0], StoreDir: filepath.Join(dir, "jetstream"), SyncAlways: spec.Durable}
		if !spec.Durable {
			// The file store would keep streams across a restart; a
			// non-durable broker comes back empty, like kfake's.
			h.restart = func() error { return os.RemoveAll(cfg.StoreDir) }
		}
		if s.child {
			url := "nats://" + addrs[0]
			h.run = &childRunner{bin: bin, logs: logs, args: func() []string { return natsArgs(cfg) },
				ready: func(ctx context.Context) error { return natsReady(ctx, url) }}
		} else {
			h.run = &natsRunner{cfg: cfg}
		}
	}
	if err := h.run.start(ctx); err != nil {
		return fail(err)
	}
	h.running = true

	var c env.Component
	switch {
	case s.child && spec.Proxied:
		c = ProxiedChild{Child: &Child{handle: h, child: h.run.(*childRunner)}, fronts: &fronts{ps: h.fronts}}
	case s.child:
		c = &Child{handle: h, child: h.run.(*childRunner)}
	case spec.Proxied:
		c = ProxiedInProcess{InProcess: &InProcess{handle: h}, fronts: &fronts{ps: h.fronts}}
	default:
		c = &InProcess{handle: h}
	}
	return c, nil
}

// kafkaArgs is edkit-broker's command line for cfg.
func kafkaArgs(cfg KafkaConfig) []string {
	ports := make([]string, len(cfg.Ports))
	for i, p := range cfg.Ports {
		ports[i] = strconv.Itoa(p)
	}
	args := []string{"kafka", "--port", strings.Join(ports, ","), "--partitions", strconv.Itoa(cfg.Partitions)}
	if len(cfg.Topics) > 0 {
		args = append(args, "--topics", strings.Join(cfg.Topics, ","))
	}
	if len(cfg.Advertise) > 0 {
		args = append(args, "--advertise", strings.Join(cfg.Advertise, ","))
	}
	if cfg.DataDir != "" {
		args = append(args, "--data-dir", cfg.DataDir)
	}
	return args
}

// natsArgs is edkit-broker's command line for cfg.
func natsArgs(cfg NATSConfig) []string {
	args := []string{"nats", "--port", strconv.Itoa(cfg.Port), "--store-dir", cfg.StoreDir}
	if cfg.SyncAlways {
		args = append(args, "--sync")
	}
	return args
}

// kafkaRunner runs kfake in this process.
type kafkaRunner struct {
	cfg     KafkaConfig
	cluster *kfake.Cluster
}

func (r *kafkaRunner) start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c, err := NewKafkaCluster(r.cfg)
	if err != nil {
		return err
	}
	r.cluster = c
	return nil
}

// stop closes the cluster: listeners and client connections close, and a
// persisted cluster saves its state.
func (r *kafkaRunner) stop(context.Context) error {
	if r.cluster != nil {
		r.cluster.Close()
		r.cluster = nil
	}
	return nil
}

func (r *kafkaRunner) kill(ctx context.Context) error { return r.stop(ctx) }

// natsRunner runs nats-server in this process.
type natsRunner struct {
	cfg NATSConfig
	srv *server.Server
}

func (r *natsRunner) start(ctx context.Context) error {
	s, err := NewNATSServer(ctx, r.cfg)
	if err != nil {
		return err
	}
	r.srv = s
	return nil
}

func (r *natsRunner) stop(context.Context) error {
	if r.srv != nil {
		r.srv.Shutdown()
		r.srv.WaitForShutdown()
		r.srv = nil
	}
	return nil
}

func (r *natsRunner) kill(ctx context.Context) error { return r.stop(ctx) }
