package container

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/go-connections/nat"
	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/harness/env/ownership"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// Labels every container of this provider carries; the sweep and the tests'
// leak check find edkit's containers by them.
const (
	LabelManaged  = "dev.edkit.managed"
	LabelOwnerPID = "dev.edkit.owner-pid"
	// LabelOwnerStart is the owner's start time (ownership.ID.Start), so
	// that a PID reused by another process is not taken for the owner.
	LabelOwnerStart = "dev.edkit.owner-start"
	LabelOwnerHost  = "dev.edkit.owner-host"
	LabelKind       = "dev.edkit.kind"
	LabelName       = "dev.edkit.name"
)

// ImagesEnv is the environment variable that selects the image set:
// "local" for edkit's offline images, anything else for the official ones.
const ImagesEnv = "EDKIT_IMAGES"

// Logger receives testcontainers' messages; testing.T's Logf fits through
// LoggerFunc.
type Logger interface {
	Printf(format string, args ...any)
}

// LoggerFunc adapts a printf-like function (t.Logf) to Logger.
type LoggerFunc func(format string, args ...any)

// Printf calls f.
func (f LoggerFunc) Printf(format string, args ...any) { f(format, args...) }

// Option configures New.
type Option func(*Provider)

// LocalImages selects edkit's offline images (edkit/<kind>:local, built by
// `make images`) instead of the official ones, whatever EDKIT_IMAGES says.
func LocalImages() Option { return func(p *Provider) { p.local = true } }

// WithImage overrides the default image of one kind (a spec's Image still
// wins). An image beginning with "edkit/" is configured as a local one.
func WithImage(kind env.Kind, image string) Option {
	return func(p *Provider) { p.images[kind] = image }
}

// StartTimeout bounds how long Start and Restart wait for a container to
// answer its protocol's handshake (default 2 minutes: RabbitMQ is slow).
func StartTimeout(d time.Duration) Option { return func(p *Provider) { p.startTimeout = d } }

// WithLogger sends testcontainers' messages to l (default: discarded).
func WithLogger(l Logger) Option { return func(p *Provider) { p.logger = l } }

// Provider starts components in Docker containers. It implements
// env.Provider; New makes one.
type Provider struct {
	local        bool
	images       map[env.Kind]string
	startTimeout time.Duration
	logger       Logger
	host         string
	ownerStart   string // this process's start time, for LabelOwnerStart

	sweepOnce sync.Once
	sweepErr  error
}

// New returns a container provider. It disables testcontainers' Ryuk reaper
// (see the package doc) and, the first time it reaches Docker, removes
// containers left by edkit processes of this host that are gone.
func New(opts ...Option) *Provider {
	Prepare()
	host, _ := os.Hostname()
	p := &Provider{
		local:        os.Getenv(ImagesEnv) == "local",
		images:       map[env.Kind]string{},
		startTimeout: 2 * time.Minute,
		logger:       LoggerFunc(func(string, ...any) {}),
		host:         host,
	}
	if self, err := ownership.Self(); err == nil {
		p.ownerStart = strconv.FormatUint(self.Start, 10)
	}
	for _, o := range opts {
		o(p)
	}
	p.sweep(context.Background())
	return p
}

// Prepare configures testcontainers-go for edkit, unless the variables are
// already set: TESTCONTAINERS_RYUK_DISABLED=true (the reaper's image is
// usually absent offline; Close and New's sweep remove containers instead)
// and TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1 (containers are reached only
// through ports published on loopback, never a detected gateway address).
// testcontainers-go v0.40.0 reads its configuration once per process, on
// first use (a Docker client, a container), so a program that touches
// testcontainers before New must call Prepare first; New calls it too.
func Prepare() {
	for k, v := range map[string]string{
		"TESTCONTAINERS_RYUK_DISABLED": "true",
		"TESTCONTAINERS_HOST_OVERRIDE": "127.0.0.1",
	} {
		if os.Getenv(k) == "" {
			_ = os.Setenv(k, v)
		}
	}
}

// reaperProblem explains a Ryuk reaper that is still enabled because
// testcontainers read its configuration before DisableReaper ran.
func reaperProblem() error {
	if testcontainers.ReadConfig().RyukDisabled {
		return nil
	}
	return errors.New("container: the Ryuk reaper is enabled (testcontainers read its configuration before container.New; call container.Prepare first, or set TESTCONTAINERS_RYUK_DISABLED=true)")
}

// Name is env.Container.
func (p *Provider) Name() env.ProviderName { return env.Container }

// Image returns the image Start would run for spec, and whether it is one
// of edkit's local images.
func (p *Provider) Image(spec env.ComponentSpec) (image string, local bool) {
	r := recipes[spec.Kind]
	switch {
	case spec.Image != "":
		image = spec.Image
	case p.images[spec.Kind] != "":
		image = p.images[spec.Kind]
	case p.local:
		image = r.local
	default:
		image = r.official
	}
	return image, strings.HasPrefix(image, "edkit/")
}

// Supports reports whether Docker is reachable and the kind's image is
// present (for the local set) — an error says which and what to run.
func (p *Provider) Supports(kind env.Kind) error {
	if _, ok := recipes[kind]; !ok {
		return fmt.Errorf("%w: %q", ErrUnsupportedKind, kind)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cli, err := p.client(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = cli.Close() }()
	image, local := p.Image(env.ComponentSpec{Kind: kind})
	if _, err := cli.ImageInspect(ctx, image); err != nil {
		if local {
			return fmt.Errorf("%w: %s (%s): run `make images` to build edkit's local images", ErrNoImage, image, kind)
		}
		// An official image absent here is pulled at Start, where a
		// registry is reachable.
		return nil
	}
	return nil
}

func (p *Provider) client(ctx context.Context) (*testcontainers.DockerClient, error) {
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoDocker, err)
	}
	if _, err := cli.Ping(ctx); err != nil {
		_ = cli.Close()
		return nil, fmt.Errorf("%w: %w", ErrNoDocker, err)
	}
	return cli, nil
}

// Sweep removes the edkit-managed containers of this host whose owner
// process is gone — what a killed edload left behind — and reports how
// many it removed. Containers of live owners, and other hosts', stay.
func (p *Provider) Sweep(ctx context.Context) (int, error) {
	n := 0
	p.sweepOnce.Do(func() { n, p.sweepErr = p.sweepNow(ctx) })
	return n, p.sweepErr
}

// sweep is Sweep once per provider, before its first start.
func (p *Provider) sweep(ctx context.Context) { _, _ = p.Sweep(ctx) }

func (p *Provider) sweepNow(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cli, err := p.client(ctx)
	if err != nil {
		return 0, nil // no Docker: nothing of edkit's can be running there; Supports and Start say why
	}
	defer func() { _ = cli.Close() }()
	list, err := cli.ContainerList(ctx, container.ListOptions{
		All:     true,
		Filters: filters.NewArgs(filters.Arg("label", LabelManaged+"=true")),
	})
	if err != nil {
		return 0, err
	}
	removed := 0
	var errs []error
	for _, c := range list {
		if c.Labels[LabelOwnerHost] != p.host {
			continue
		}
		if !ownerGone(c.Labels) {
			continue
		}
		if err := cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			errs = append(errs, err)
			continue
		}
		removed++
	}
	return removed, errors.Join(errs...)
}

// ownerGone reports whether a container's labels name an owner process
// that is surely gone: no process has its PID, or the one that has it
// started at another time (the PID was reused). Labels that name no owner
// clearly are taken as a live owner: when in doubt, nothing is removed.
func ownerGone(labels map[string]string) bool {
	pid, err := strconv.Atoi(labels[LabelOwnerPID])
	if err != nil || pid <= 0 {
		return false
	}
	start, err := strconv.ParseUint(labels[LabelOwnerStart], 10, 64)
	if err != nil { // a container from before the start label
		return !alive(pid)
	}
	id, err := ownership.Of(pid)
	if err != nil {
		return !alive(pid)
	}
	return id.Start != start
}

// alive reports whether a process with this pid exists (EPERM: it exists
// but is not ours).
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// freePort asks the kernel for a free port on 127.0.0.1.
func freePort(ctx context.Context) (int, error) {
	l, err := new(net.ListenConfig).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start runs one container for spec and returns once it answers its
// protocol's handshake through 127.0.0.1.
func (p *Provider) Start(ctx context.Context, spec env.ComponentSpec) (env.Component, error) {
	r, ok := recipes[spec.Kind]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedKind, spec.Kind)
	}
	if spec.Name == "" {
		spec.Name = string(spec.Kind)
	}
	if err := p.Supports(spec.Kind); err != nil && spec.Image == "" {
		return nil, err
	}
	if err := reaperProblem(); err != nil {
		return nil, err
	}
	var last error
	// A free port can be taken between choosing and binding it: try again
	// with another.
	for attempt := 0; attempt < 3; attempt++ {
		c, err := p.start(ctx, r, spec)
		if err == nil {
			return c, nil
		}
		last = err
		if !strings.Contains(err.Error(), "already allocated") && !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return nil, last
}

func (p *Provider) start(ctx context.Context, r recipe, spec env.ComponentSpec) (*Component, error) {
	hostPort, err := freePort(ctx)
	if err != nil {
		return nil, err
	}
	image, local := p.Image(spec)
	envs, cmd := r.configure(local, hostPort, spec)
	ep := r.endpoint(hostPort)
	port := nat.Port(r.port)

	ctx, cancel := context.WithTimeout(ctx, p.startTimeout)
	defer cancel()
	req := testcontainers.ContainerRequest{
		Image:        image,
		Env:          envs,
		Cmd:          cmd,
		ExposedPorts: []string{string(port)},
		Labels: map[string]string{
			LabelManaged:    "true",
			LabelOwnerPID:   strconv.Itoa(os.Getpid()),
			LabelOwnerStart: p.ownerStart,
			LabelOwnerHost:  p.host,
			LabelKind:       string(spec.Kind),
			LabelName:       spec.Name,
		},
		HostConfigModifier: func(hc *container.HostConfig) {
			hc.PortBindings = nat.PortMap{port: {{HostIP: "127.0.0.1", HostPort: strconv.Itoa(hostPort)}}}
		},
		// Readiness is the protocol's own handshake through 127.0.0.1
		// (testcontainers' port check would dial its detected host).
		WaitingFor: &readyStrategy{r: r, ep: ep},
	}
	ctr, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: req,
		Started:          true,
		Logger:           p.logger,
	})
	if err != nil {
		// A container made but not ready is removed here: nothing leaks.
		if ctr != nil {
			rctx, rcancel := context.WithTimeout(context.Background(), 30*time.Second)
			_ = ctr.Terminate(rctx, testcontainers.StopTimeout(time.Second))
			rcancel()
		}
		return nil, fmt.Errorf("container: start %s (%s): %w", spec.Name, image, err)
	}
	dc, ok := ctr.(*testcontainers.DockerContainer)
	if !ok {
		_ = ctr.Terminate(context.Background())
		return nil, fmt.Errorf("container: unexpected container type %T", ctr)
	}
	return &Component{
		provider: p,
		spec:     spec,
		image:    image,
		recipe:   r,
		ep:       ep,
		ctr:      dc,
	}, nil
}

// readyStrategy is a testcontainers wait strategy that runs the kind's
// protocol handshake through the published loopback port.
type readyStrategy struct {
	r  recipe
	ep env.Endpoint
}

// WaitUntilReady pings until the handshake succeeds or ctx ends.
func (s *readyStrategy) WaitUntilReady(ctx context.Context, _ wait.StrategyTarget) error {
	return waitReady(ctx, s.r, s.ep)
}

// String names the strategy in testcontainers' log lines.
func (s *readyStrategy) String() string { return "protocol handshake at " + s.ep.Redacted() }

// MaxPartitions bounds the kafka partitions option: the broker makes a log
// per partition, so a spec cannot ask for millions.
const MaxPartitions = 4096

// CheckSpec checks spec's options without starting anything: the
// container provider knows one, partitions (1 to MaxPartitions), for
// kafka.
func (p *Provider) CheckSpec(spec env.ComponentSpec) error {
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(spec.Options)) {
		v := spec.Options[k]
		var err error
		if k != "partitions" || spec.Kind != env.KindKafka {
			err = fmt.Errorf("unknown option %q (the container provider knows partitions, for kafka)", k)
		} else if n, aerr := strconv.Atoi(v); aerr != nil || n < 1 || n > MaxPartitions {
			err = fmt.Errorf("partitions=%q, want an integer from 1 to %d", v, MaxPartitions)
		}
		if err != nil {
			errs = append(errs, &env.FieldError{Field: "options." + k, Err: err})
		}
	}
	return errors.Join(errs...)
}

var _ env.SpecChecker = (*Provider)(nil)
