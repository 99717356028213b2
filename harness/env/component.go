package env

import (
	"context"
	"io"
	"net/url"
	"strings"
)

// Kind is what a component is, whatever provider runs it.
type Kind string

// The kinds edkit speaks to.
const (
	KindKafka    Kind = "kafka"
	KindRabbitMQ Kind = "rabbitmq"
	KindRedis    Kind = "redis"
	KindNATS     Kind = "nats"
	KindPostgres Kind = "postgres"
)

// Kinds lists every kind, in a stable order.
func Kinds() []Kind { return []Kind{KindKafka, KindRabbitMQ, KindRedis, KindNATS, KindPostgres} }

// ProviderName says how a component comes to life.
type ProviderName string

// The providers.
const (
	// Embedded runs the component inside this process (or as a child process
	// of edkit's own broker binary): zero setup.
	Embedded ProviderName = "embedded"
	// Process runs a locally installed server on free loopback ports in a
	// temp dir, never the machine's own service.
	Process ProviderName = "process"
	// Container runs an image through testcontainers-go.
	Container ProviderName = "container"
	// External uses addresses from configuration; edkit starts and stops
	// nothing.
	External ProviderName = "external"
)

// Endpoint is how clients reach a component.
type Endpoint struct {
	// Addrs are host:port pairs (Kafka bootstrap brokers, Redis, ...).
	Addrs []string
	// URL is the client URL where the kind has one (amqp://, nats://,
	// postgres://). It may hold credentials: print Redacted, never URL.
	URL string
}

// Redacted is the endpoint for logs and reports, with any password in URL
// replaced by "***".
func (e Endpoint) Redacted() string {
	s := strings.Join(e.Addrs, ",")
	if e.URL == "" {
		return s
	}
	u, err := url.Parse(e.URL)
	if err != nil {
		return "<unparseable url>"
	}
	return u.Redacted()
}

// Component is a started component's handle. Fault capabilities are the
// optional interfaces below, found by type assertion: a handle implements
// only what its provider can really do.
type Component interface {
	// Name is the component's name in its Spec.
	Name() string
	Kind() Kind
	Provider() ProviderName
	Endpoint() Endpoint
	// Close stops the component and removes everything its provider made
	// for it (processes, containers, temp dirs). Idempotent; later calls
	// return ErrClosed.
	Close(ctx context.Context) error
}

// Stopper stops a component gracefully, keeping its data for Restart.
type Stopper interface {
	Stop(ctx context.Context) error
}

// Killer kills a component with no grace (SIGKILL, docker kill).
type Killer interface {
	Kill(ctx context.Context) error
}

// Restarter starts a stopped or killed component again at the same
// endpoint with the same data: what it acknowledged must still be there
// (for durable configurations).
type Restarter interface {
	Restart(ctx context.Context) error
}

// Pauser freezes a component (SIGSTOP, docker pause): connections stay
// open, requests stall. Resume thaws it.
type Pauser interface {
	Pause(ctx context.Context) error
	Resume(ctx context.Context) error
}

// Partitioner cuts a component off the network and heals it (docker network
// disconnect/connect, or a proxy that stops forwarding).
type Partitioner interface {
	Partition(ctx context.Context) error
	Heal(ctx context.Context) error
}

// LogSource exposes what a component printed, for failure reports.
type LogSource interface {
	Logs(ctx context.Context) (io.ReadCloser, error)
}

// Provider starts components of the kinds it supports.
type Provider interface {
	Name() ProviderName
	// Supports reports whether the provider can start kind on this machine
	// now; when it cannot, the error says why (a missing package, no
	// Docker), so a test can skip by name.
	Supports(kind Kind) error
	// Start starts one component and returns once it is ready by protocol
	// (a handshake, a PING), not after a sleep.
	Start(ctx context.Context, spec ComponentSpec) (Component, error)
}
