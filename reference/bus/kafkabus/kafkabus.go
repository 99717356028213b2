package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/edkit-dev/edkit/reference/bus"
)

// HeaderID is the Kafka header that carries bus.Message.ID.
const HeaderID = "edkit-id"

// Option configures a Bus.
type Option func(*config)

type config struct {
	batchTimeout  time.Duration
	writeTimeout  time.Duration
	maxWait       time.Duration
	maxAttempts   int
	autoCreate    int // partitions for topics created on first use; 0: off
	maxBuffered   int
	heartbeat     time.Duration
	joinBackoff   time.Duration
	sessionTimout time.Duration
	maxInFlight   int // unsettled deliveries per partition
	commitEvery   time.Duration
}

// BatchTimeout sets how long the writer waits to fill a batch (default
// 1 ms). kafka-go's own default of 1 s would make every synchronous publish
// take a second.
func BatchTimeout(d time.Duration) Option { return func(c *config) { c.batchTimeout = d } }

// WriteTimeout bounds one write to a broker (default 10 s); past it the
// outcome is unknown.
func WriteTimeout(d time.Duration) Option { return func(c *config) { c.writeTimeout = d } }

// MaxAttempts sets how many times the writer tries a batch before failing
// the publish (kafka-go's default is 10). Fewer attempts surface a dead
// broker sooner.
func MaxAttempts(n int) Option { return func(c *config) { c.maxAttempts = n } }

// MaxWait bounds how long a fetch waits for data (default 50 ms): lower
// means lower delivery latency at the cost of more fetch requests.
func MaxWait(d time.Duration) Option { return func(c *config) { c.maxWait = d } }

// AutoCreateTopics makes Publish and Subscribe create unknown topics with
// the given partition count (via EnsureTopics) the first time this Bus
// uses them. Off by default: production topics are provisioned.
func AutoCreateTopics(partitions int) Option { return func(c *config) { c.autoCreate = partitions } }

// GroupTimings sets the consumer-group heartbeat interval, join backoff and
// session timeout (defaults 200 ms, 100 ms, 6 s: fast rebalances for tests
// and chaos runs).
func GroupTimings(heartbeat, joinBackoff, session time.Duration) Option {
	return func(c *config) { c.heartbeat, c.joinBackoff, c.sessionTimout = heartbeat, joinBackoff, session }
}

// MaxInFlightPerPartition lets up to n deliveries of one partition be
// unsettled at once (default 1), so handlers can work on several keys of a
// partition concurrently. Deliveries of a partition are still handed out in
// offset order, and never two unsettled ones with the same non-empty key:
// one key's messages are settled in order whatever the handler concurrency.
// Values below 1 mean 1.
func MaxInFlightPerPartition(n int) Option { return func(c *config) { c.maxInFlight = max(n, 1) } }

// CommitInterval sets how long the subscription waits after one offset
// commit before sending the next (default 0: the next goes as soon as the
// previous returns, carrying every ack that arrived meanwhile). A longer
// interval means fewer commit requests and more redeliveries after a crash.
func CommitInterval(d time.Duration) Option { return func(c *config) { c.commitEvery = max(d, 0) } }

// Bus is a Kafka-backed bus.Bus. It owns one writer, shared by all
// publishes, and one reader per subscription.
type Bus struct {
	brokers []string
	cfg     config
	writer  *kafka.Writer

	mu      sync.Mutex
	closed  bool
	done    chan struct{}
	ensured map[string]bool
	subs    sync.WaitGroup
}

var _ bus.Bus = (*Bus)(nil)

// New returns a Bus for the given bootstrap brokers. It does not connect
// until first use.
func New(brokers []string, opts ...Option) (*Bus, error) {
	if len(brokers) == 0 {
		return nil, ErrNoBrokers
	}
	cfg := config{
		batchTimeout:  time.Millisecond,
		writeTimeout:  10 * time.Second,
		maxWait:       50 * time.Millisecond,
		maxBuffered:   256,
		heartbeat:     200 * time.Millisecond,
		joinBackoff:   100 * time.Millisecond,
		sessionTimout: 6 * time.Second,
		maxInFlight:   1,
	}
	for _, o := range opts {
		o(&cfg)
	}
	b := &Bus{
		brokers: append([]string(nil), brokers...),
		cfg:     cfg,
		done:    make(chan struct{}),
		ensured: make(map[string]bool),
	}
	b.writer = &kafka.Writer{
		Addr:         kafka.TCP(b.brokers...),
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: cfg.batchTimeout,
		WriteTimeout: cfg.writeTimeout,
		MaxAttempts:  cfg.maxAttempts,
		// The writer's transport caches topic metadata for seconds; a topic
		// created a moment ago by EnsureTopics is "unknown" in that cache.
		// Asking for auto-creation makes it look the topic up again.
		AllowAutoTopicCreation: cfg.autoCreate > 0,
	}
	return b, nil
}

// EnsureTopics creates the topics that do not exist yet, with the given
// partition count and replication factor 1, through the cluster
// controller. Existing topics are left as they are. Without
// AutoCreateTopics, the writer may take up to its metadata TTL (6 s) to see a
// topic created after its first publish to it; create topics before use.
func (b *Bus) EnsureTopics(ctx context.Context, partitions int, topics ...string) error {
	conn, err := b.dialAny(ctx)
	if err != nil {
		return err
	}
	ctrl, err := conn.Controller()
	_ = conn.Close()
	if err != nil {
		return fmt.Errorf("kafkabus: find controller: %w", err)
	}
	var d kafka.Dialer
	cc, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ctrl.Host, strconv.Itoa(ctrl.Port)))
	if err != nil {
		return fmt.Errorf("kafkabus: dial controller: %w", err)
	}
	// Like conn above: the topics exist or the error is returned; closing
	// the admin connection can change neither.
	defer func() { _ = cc.Close() }()
	if dl, ok := ctx.Deadline(); ok {
		_ = cc.SetDeadline(dl)
	}
	for _, t := range topics {
		err := cc.CreateTopics(kafka.TopicConfig{Topic: t, NumPartitions: partitions, ReplicationFactor: 1})
		if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
			return fmt.Errorf("kafkabus: create topic %s: %w", t, err)
		}
	}
	return nil
}

func (b *Bus) dialAny(ctx context.Context) (*kafka.Conn, error) {
	var d kafka.Dialer
	var errs []error
	for _, addr := range b.brokers {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("kafkabus: dial brokers: %w", errors.Join(errs...))
}

// ensure creates topics on first use when AutoCreateTopics is set.
func (b *Bus) ensure(ctx context.Context, topics ...string) error {
	if b.cfg.autoCreate <= 0 {
		return nil
	}
	var missing []string
	b.mu.Lock()
	for _, t := range topics {
		if !b.ensured[t] {
			missing = append(missing, t)
		}
	}
	b.mu.Unlock()
	if len(missing) == 0 {
		return nil
	}
	if err := b.EnsureTopics(ctx, b.cfg.autoCreate, missing...); err != nil {
		return err
	}
	b.mu.Lock()
	for _, t := range missing {
		b.ensured[t] = true
	}
	b.mu.Unlock()
	return nil
}

func (b *Bus) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// Publish writes the messages and returns once the brokers have acked all
// of them. An error wrapping bus.ErrOutcomeUnknown means some may have been
// written.
func (b *Bus) Publish(ctx context.Context, msgs ...*bus.Message) error {
	if b.isClosed() {
		return bus.ErrClosed
	}
	kms := make([]kafka.Message, len(msgs))
	var topics []string
	seen := map[string]bool{}
	for i, m := range msgs {
		if m == nil {
			return fmt.Errorf("message %d: %w", i, ErrNilMessage)
		}
		if m.Topic == "" {
			return fmt.Errorf("message %d (%s): %w", i, m.ID, ErrNoTopic)
		}
		if !seen[m.Topic] {
			seen[m.Topic] = true
			topics = append(topics, m.Topic)
		}
		kms[i] = toKafka(m)
	}
	if err := b.ensure(ctx, topics...); err != nil {
		return err
	}
	if err := b.writer.WriteMessages(ctx, kms...); err != nil {
		if outcomeUnknown(err) {
			return fmt.Errorf("kafkabus: publish: %w: %w", bus.ErrOutcomeUnknown, err)
		}
		return fmt.Errorf("kafkabus: publish: %w", err)
	}
	return nil
}

func toKafka(m *bus.Message) kafka.Message {
	hs := make([]kafka.Header, 0, len(m.Headers)+1)
	hs = append(hs, kafka.Header{Key: HeaderID, Value: []byte(m.ID)})
	for k, v := range m.Headers {
		if k == HeaderID {
			continue
		}
		hs = append(hs, kafka.Header{Key: k, Value: []byte(v)})
	}
	km := kafka.Message{Topic: m.Topic, Value: m.Payload, Headers: hs}
	if m.Key != "" {
		km.Key = []byte(m.Key)
	}
	return km
}

func fromKafka(km kafka.Message) *bus.Message {
	m := &bus.Message{Topic: km.Topic, Key: string(km.Key), Payload: km.Value}
	for _, h := range km.Headers {
		if h.Key == HeaderID {
			m.ID = string(h.Value)
			continue
		}
		m.SetHeader(h.Key, string(h.Value))
	}
	return m
}

// outcomeUnknown reports whether a write error leaves the outcome open:
// the request may have reached the broker before the failure.
func outcomeUnknown(err error) bool {
	var wes kafka.WriteErrors
	if errors.As(err, &wes) {
		for _, e := range wes {
			if e != nil && outcomeUnknown(e) {
				return true
			}
		}
		return false
	}
	var ke kafka.Error
	if errors.As(err, &ke) {
		return ke.Timeout() || ke.Temporary()
	}
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ne)
}

// Close stops every subscription (their channels close, unsettled
// deliveries are not committed), then flushes and closes the writer. Later
// calls return bus.ErrClosed.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return bus.ErrClosed
	}
	b.closed = true
	close(b.done)
	b.mu.Unlock()
	b.subs.Wait()
	return b.writer.Close()
}
