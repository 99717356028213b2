package env

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Kafka is a handle to a Kafka-compatible cluster, whichever provider
// started it.
type Kafka struct {
	name    string
	brokers []string
}

// Brokers returns the bootstrap addresses (host:port), for kafka-go or any
// other client.
func (k *Kafka) Brokers() []string { return append([]string(nil), k.brokers...) }

// Name says which provider and component this is ("embedded-kfake"), for
// reports and guarantee profiles.
func (k *Kafka) Name() string { return k.name }

// Environment is a set of started components. Close stops them all.
type Environment struct {
	kafka *Kafka

	mu      sync.Mutex
	closed  bool
	comps   []Component // in start order; closed in reverse
	byName  map[string]Component
	closers []func() error // legacy closers of StartEmbedded; run after comps
}

func (e *Environment) add(name string, c Component) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.byName == nil {
		e.byName = map[string]Component{}
	}
	e.comps = append(e.comps, c)
	e.byName[name] = c
}

// Component returns the named component, or nil.
func (e *Environment) Component(name string) Component {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.byName[name]
}

// Components returns every component, in spec order.
func (e *Environment) Components() []Component {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Component(nil), e.comps...)
}

// Kafka returns the Kafka handle, or nil when the environment has none.
func (e *Environment) Kafka() *Kafka { return e.kafka }

// KafkaBrokers is shorthand for Kafka().Brokers(); nil when there is no Kafka.
func (e *Environment) KafkaBrokers() []string {
	if e.kafka == nil {
		return nil
	}
	return e.kafka.Brokers()
}

// Close stops every component the environment started, in reverse start
// order, and joins their errors. Later calls return ErrClosed.
func (e *Environment) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return ErrClosed
	}
	e.closed = true
	comps, closers := e.comps, e.closers
	e.comps, e.closers = nil, nil
	e.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var errs []error
	for i := len(comps) - 1; i >= 0; i-- {
		if err := comps[i].Close(ctx); err != nil && !errors.Is(err, ErrClosed) {
			errs = append(errs, fmt.Errorf("close %s: %w", comps[i].Name(), err))
		}
	}
	for i := len(closers) - 1; i >= 0; i-- {
		errs = append(errs, closers[i]())
	}
	return errors.Join(errs...)
}

// EmbeddedOption configures StartEmbedded.
type EmbeddedOption func(*embeddedConfig)

type embeddedConfig struct {
	brokers    int
	partitions int
	topics     []string
}

// KafkaBrokerCount sets how many in-process Kafka brokers to start
// (default 1).
func KafkaBrokerCount(n int) EmbeddedOption {
	return func(c *embeddedConfig) { c.brokers = n }
}

// KafkaPartitions sets the partition count of seeded and auto-created topics
// (default 4).
func KafkaPartitions(n int) EmbeddedOption {
	return func(c *embeddedConfig) { c.partitions = n }
}

// KafkaTopics creates these topics at start.
func KafkaTopics(topics ...string) EmbeddedOption {
	return func(c *embeddedConfig) { c.topics = append(c.topics, topics...) }
}

func (c *embeddedConfig) validate() error {
	var errs []error
	if c.brokers < 1 {
		errs = append(errs, fmt.Errorf("env: kafka broker count %d, want >= 1", c.brokers))
	}
	if c.partitions < 1 {
		errs = append(errs, fmt.Errorf("env: kafka partitions %d, want >= 1", c.partitions))
	}
	return errors.Join(errs...)
}

// StartEmbedded starts the embedded environment: an in-process Kafka (kfake,
// the real wire protocol) listening on random 127.0.0.1 ports, with topic
// auto-creation on. The caller must Close it.
func StartEmbedded(ctx context.Context, opts ...EmbeddedOption) (*Environment, error) {
	cfg := embeddedConfig{brokers: 1, partitions: 4}
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	kopts := []kfake.Opt{
		kfake.NumBrokers(cfg.brokers),
		kfake.DefaultNumPartitions(cfg.partitions),
		kfake.AllowAutoTopicCreation(),
	}
	if len(cfg.topics) > 0 {
		kopts = append(kopts, kfake.SeedTopics(int32(cfg.partitions), cfg.topics...))
	}
	c, err := kfake.NewCluster(kopts...)
	if err != nil {
		return nil, fmt.Errorf("%w: embedded kafka: %w", ErrStart, err)
	}
	e := &Environment{
		kafka:   &Kafka{name: "embedded-kfake", brokers: c.ListenAddrs()},
		closers: []func() error{func() error { c.Close(); return nil }},
	}
	return e, nil
}
