package process

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/edkit-dev/edkit/harness/env"
)

// Option configures a Provider.
type Option func(*Provider)

// WithLogger sends the provider's lifecycle events (start, ready with its
// start-up time, stop, kill, close) to l. Without it they are discarded.
func WithLogger(l *slog.Logger) Option {
	return func(p *Provider) { p.log = l }
}

// Verbose logs start-up timing at Info level instead of Debug, for
// `edload -v` and test runs that measure how long brokers take to start.
func Verbose() Option {
	return func(p *Provider) { p.verbose = true }
}

// WithBinary overrides where a program is found. program is one of
// "redis-server", "nats-server", "rabbitmq-server" (the script from
// /usr/lib/rabbitmq/bin, not the /usr/sbin wrapper that switches user),
// "epmd", "initdb" or "postgres"; path is its absolute path.
func WithBinary(program, path string) Option {
	return func(p *Provider) { p.bins[program] = path }
}

// WithReadyTimeout bounds how long Start and Restart wait for readiness
// when ctx has no earlier deadline (default 90 s: RabbitMQ needs about 8 s
// on an idle machine, much more on a loaded one).
func WithReadyTimeout(d time.Duration) Option {
	return func(p *Provider) { p.readyTimeout = d }
}

// Provider starts locally installed servers as child processes. It is safe
// for concurrent use; each Start makes an independent instance.
type Provider struct {
	log          *slog.Logger
	verbose      bool
	bins         map[string]string
	readyTimeout time.Duration
}

var _ env.Provider = (*Provider)(nil)

// New returns a process provider.
func New(opts ...Option) *Provider {
	p := &Provider{
		log:          slog.New(slog.NewTextHandler(io.Discard, nil)),
		bins:         map[string]string{},
		readyTimeout: 90 * time.Second,
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Name is env.Process.
func (p *Provider) Name() env.ProviderName { return env.Process }

// Supports reports whether kind's server is installed, naming the missing
// program and its Debian package when it is not.
func (p *Provider) Supports(kind env.Kind) error {
	_, err := p.programs(kind)
	return err
}

// debianPackage says which package installs each program, for errors.
var debianPackage = map[string]string{
	"redis-server":    "redis-server",
	"nats-server":     "nats-server",
	"rabbitmq-server": "rabbitmq-server",
	"epmd":            "erlang-base (a rabbitmq-server dependency)",
	"initdb":          "postgresql",
	"postgres":        "postgresql",
}

// programs resolves every program kind needs, by name.
func (p *Provider) programs(kind env.Kind) (map[string]string, error) {
	var names []string
	switch kind {
	case env.KindRedis:
		names = []string{"redis-server"}
	case env.KindNATS:
		names = []string{"nats-server"}
	case env.KindRabbitMQ:
		names = []string{"rabbitmq-server", "epmd"}
	case env.KindPostgres:
		names = []string{"initdb", "postgres"}
	default:
		return nil, fmt.Errorf("%w: %s (the process provider runs %s)", ErrUnsupportedKind, kind,
			strings.Join([]string{string(env.KindRedis), string(env.KindPostgres), string(env.KindNATS), string(env.KindRabbitMQ)}, ", "))
	}
	out := map[string]string{}
	for _, n := range names {
		path, err := p.lookup(n)
		if err != nil {
			return nil, fmt.Errorf("%w: %s needs %s (install Debian package %s): %w", ErrNotInstalled, kind, n, debianPackage[n], err)
		}
		out[n] = path
	}
	return out, nil
}

// lookup finds one program: an override, then the places Debian puts it,
// then PATH.
func (p *Provider) lookup(name string) (string, error) {
	if path, ok := p.bins[name]; ok {
		if _, err := os.Stat(path); err != nil {
			return "", err
		}
		return path, nil
	}
	var candidates []string
	switch name {
	case "rabbitmq-server":
		// The /usr/sbin wrapper su's to rabbitmq and redirects output to
		// /var/log; the real script runs in the foreground.
		candidates = append(candidates, "/usr/lib/rabbitmq/bin/rabbitmq-server")
		candidates = append(candidates, globNewest("/usr/lib/rabbitmq/lib/rabbitmq_server-*/sbin/rabbitmq-server")...)
	case "initdb", "postgres":
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err := exec.CommandContext(ctx, "pg_config", "--bindir").Output()
		cancel()
		if err == nil {
			candidates = append(candidates, filepath.Join(strings.TrimSpace(string(out)), name))
		}
		candidates = append(candidates, globNewest("/usr/lib/postgresql/*/bin/"+name)...)
	}
	for _, c := range candidates {
		if st, err := os.Stat(c); err == nil && !st.IsDir() {
			return c, nil
		}
	}
	if name == "rabbitmq-server" {
		return "", fmt.Errorf("no rabbitmq-server script under /usr/lib/rabbitmq")
	}
	return exec.LookPath(name)
}

// globNewest returns pattern's matches, the highest version first
// (lexical order is good enough for Debian's single installed version).
func globNewest(pattern string) []string {
	m, _ := filepath.Glob(pattern)
	sort.Sort(sort.Reverse(sort.StringSlice(m)))
	return m
}

// Start starts one server of spec.Kind in a fresh temp dir and returns once
// it answers its protocol's handshake.
func (p *Provider) Start(ctx context.Context, spec env.ComponentSpec) (env.Component, error) {
	return p.StartInstance(ctx, spec)
}

// StartInstance is Start returning the concrete handle.
func (p *Provider) StartInstance(ctx context.Context, spec env.ComponentSpec) (*Instance, error) {
	bins, err := p.programs(spec.Kind)
	if err != nil {
		return nil, err
	}
	name := spec.Name
	if name == "" {
		name = string(spec.Kind)
	}
	var srv server
	switch spec.Kind {
	case env.KindRedis:
		srv = &redisServer{bin: bins["redis-server"]}
	case env.KindNATS:
		srv = &natsServer{bin: bins["nats-server"]}
	case env.KindRabbitMQ:
		srv = &rabbitServer{bin: bins["rabbitmq-server"], epmd: bins["epmd"]}
	case env.KindPostgres:
		srv = &postgresServer{initdb: bins["initdb"], postgres: bins["postgres"]}
	}
	in := &Instance{p: p, name: name, kind: spec.Kind, spec: spec, srv: srv}
	if err := in.create(ctx); err != nil {
		return nil, err
	}
	return in, nil
}

// CheckSpec refuses options: the process provider takes none.
func (p *Provider) CheckSpec(spec env.ComponentSpec) error { return env.NoOptions(spec) }

var _ env.SpecChecker = (*Provider)(nil)
