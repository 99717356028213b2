package amqpbus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/edkit-dev/edkit/reference/backoff"
	"github.com/edkit-dev/edkit/reference/bus"
)

// HeaderKey is the AMQP header that carries bus.Message.Key. The key is also
// the routing key, but routing keys are limited to 255 bytes and the header
// is what the consumer reads, so any key round-trips.
const HeaderKey = "edkit-key"

// headerDeliveryCount is the header quorum queues add on redelivery: how
// many times the message was delivered before (returned or lost with a
// consumer).
const headerDeliveryCount = "x-delivery-count"

// QueueType selects the RabbitMQ queue type of the group queues.
type QueueType string

// The queue types.
const (
	// Quorum queues are replicated (Raft), durable and count deliveries
	// (x-delivery-count). RabbitMQ 3.10 puts a requeued message at the
	// back of a quorum queue (measured by TestBrokerRequeueOrder).
	Quorum QueueType = "quorum"
	// Classic queues are single-node; a requeued message goes back to its
	// original position, so it is the next delivery. They carry no
	// delivery count.
	Classic QueueType = "classic"
)

// Option configures a Bus.
type Option func(*config)

type config struct {
	queueType      QueueType
	prefetch       int
	deadLetter     string
	singleActive   bool
	provision      []string
	requeueWait    time.Duration
	brokerRequeue  bool
	dialTimeout    time.Duration
	backoffMin     time.Duration
	backoffMax     time.Duration
	exchangeKind   string
	connectionName string
}

// WithQueueType picks quorum (default) or classic group queues. A queue's
// type is fixed when it is first declared; declaring it again with another
// type fails.
func WithQueueType(t QueueType) Option { return func(c *config) { c.queueType = t } }

// Prefetch sets the per-subscription QoS prefetch count (default 16): the
// most unacked deliveries the broker hands one subscription, which is its
// in-flight bound and back-pressure.
func Prefetch(n int) Option { return func(c *config) { c.prefetch = n } }

// DeadLetterExchange sets x-dead-letter-exchange on every group queue this
// Bus declares, so Nack without requeue makes the broker republish the
// message to that exchange (with its routing key, headers and an x-death
// record). Naming another topic of this Bus here lets a subscriber read the
// dead letters as an ordinary topic.
func DeadLetterExchange(name string) Option { return func(c *config) { c.deadLetter = name } }

// SingleActiveConsumer sets x-single-active-consumer on the group queues:
// only one member of a group receives at a time (the others stand by), which
// is what keeps per-key order with more than one member.
func SingleActiveConsumer() Option { return func(c *config) { c.singleActive = true } }

// ProvisionGroups makes the first publish to a topic also declare the queues
// of these consumer groups. AMQP exchanges do not retain messages: a group
// gets only what was published after its queue was bound, so groups must
// exist before publishing (see DeclareGroup). This option is the
// provisioning shortcut for tests and demos that publish before subscribing.
func ProvisionGroups(groups ...string) Option {
	return func(c *config) { c.provision = append(c.provision, groups...) }
}

// BrokerRequeue makes Nack(requeue) return the message to the broker
// (basic.nack requeue=true), so any member of the group may get it and a
// quorum queue counts the attempt (its delivery-limit applies), instead of
// the default requeue in place, where the subscription hands the message
// out again itself. The subscription then holds the key's later messages
// until the requeued one comes back, up to RequeueWait. On a quorum queue,
// which puts a requeued message at the back, a key whose backlog fills the
// prefetch window waits the whole RequeueWait on every requeue (measured
// in doc.go): use it with classic queues, or with a prefetch above any
// key's backlog.
func BrokerRequeue() Option { return func(c *config) { c.brokerRequeue = true } }

// RequeueWait bounds how long a subscription holds later messages of a key
// after a BrokerRequeue, waiting for the requeued message to come back so
// it is delivered first (default 5 s). It comes back at once with one
// member per group; with several members it may go to another one, and
// then the key resumes after this wait.
func RequeueWait(d time.Duration) Option { return func(c *config) { c.requeueWait = d } }

// Reconnect sets the redial backoff after a lost connection (defaults
// 50 ms doubling to 2 s, each delay jittered between half and all of its
// step).
func Reconnect(minBackoff, maxBackoff time.Duration) Option {
	return func(c *config) { c.backoffMin, c.backoffMax = minBackoff, maxBackoff }
}

// DirectExchanges declares the topic exchanges as direct instead of topic
// exchanges. Group queues are bound with "#", which only a topic exchange
// treats as a wildcard, so this suits only brokers where the exchanges are
// provisioned already; it exists for interoperating with them.
func DirectExchanges() Option { return func(c *config) { c.exchangeKind = amqp.ExchangeDirect } }

// Bus is a RabbitMQ-backed bus.Bus over one AMQP connection, redialled when
// it drops. Publishes share a pool of confirm-mode channels; each
// subscription has its own channel.
type Bus struct {
	url string
	cfg config

	mu       sync.Mutex
	closed   bool
	done     chan struct{}
	life     context.Context // cancelled by Close, so Close ends every wait
	end      context.CancelFunc
	conn     *amqp.Connection // nil while reconnecting
	gen      uint64           // counts connections, to drop stale pooled channels
	ready    chan struct{}    // closed once conn is set
	free     []*pubChan
	declared map[string]bool // exchanges declared on this connection
	// declaring serialises a topic's first declaration: a second publisher
	// must not publish into a quorum queue another one is still creating:
	// the conformance suite's concurrent publishers saw the broker nack
	// such publishes (the second declare-ok apparently comes before the
	// new queue has a leader).
	declaring map[string]*sync.Mutex
	wg        sync.WaitGroup
}

var _ bus.Bus = (*Bus)(nil)

type pubChan struct {
	ch  *amqp.Channel
	gen uint64
}

// New dials the broker at url (amqp://user:pass@host:port/vhost) and returns
// a Bus that keeps the connection up until Close.
func New(ctx context.Context, url string, opts ...Option) (*Bus, error) {
	if url == "" {
		return nil, ErrNoURL
	}
	cfg := config{
		queueType:      Quorum,
		prefetch:       16,
		requeueWait:    5 * time.Second,
		dialTimeout:    5 * time.Second,
		backoffMin:     50 * time.Millisecond,
		backoffMax:     2 * time.Second,
		exchangeKind:   amqp.ExchangeTopic,
		connectionName: "edkit-amqpbus",
	}
	for _, o := range opts {
		o(&cfg)
	}
	b := &Bus{url: url, cfg: cfg, done: make(chan struct{}), ready: make(chan struct{}), declared: map[string]bool{}, declaring: map[string]*sync.Mutex{}}
	b.life, b.end = context.WithCancel(context.Background())
	conn, err := b.dial(ctx)
	if err != nil {
		b.end()
		return nil, err
	}
	b.setConn(conn)
	b.wg.Add(1)
	go b.supervise(conn)
	return b, nil
}

func (b *Bus) dial(ctx context.Context) (*amqp.Connection, error) {
	timeout := b.cfg.dialTimeout
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
		timeout = time.Until(dl)
	}
	props := amqp.NewConnectionProperties()
	props.SetClientConnectionName(b.cfg.connectionName)
	conn, err := amqp.DialConfig(b.url, amqp.Config{Dial: amqp.DefaultDial(timeout), Properties: props})
	if err != nil {
		return nil, fmt.Errorf("amqpbus: dial: %w", err)
	}
	return conn, nil
}

func (b *Bus) setConn(conn *amqp.Connection) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.conn = conn
	b.gen++
	b.declared = map[string]bool{}
	close(b.ready)
}

// supervise waits for the connection to drop and dials again with backoff
// until it succeeds or the Bus closes. Subscriptions notice the loss on
// their own channels and wait for the new connection through current.
func (b *Bus) supervise(conn *amqp.Connection) {
	defer b.wg.Done()
	for {
		lost := conn.NotifyClose(make(chan *amqp.Error, 1))
		select {
		case <-b.done:
			return
		case cerr := <-lost:
			_ = cerr // why it closed does not matter: redial either way
		}
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return
		}
		b.conn, b.free, b.ready = nil, nil, make(chan struct{})
		b.mu.Unlock()
		// Jittered, so the clients of one restarted broker do not redial in
		// lockstep.
		retry := backoff.New(b.cfg.backoffMin, b.cfg.backoffMax)
		for {
			c, err := b.dial(b.life)
			if err == nil {
				conn = c
				break
			}
			if !retry.Sleep(b.life) {
				return
			}
		}
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			_ = conn.Close() // the Bus closed while we dialled; nobody will use it
			return
		}
		b.mu.Unlock()
		b.setConn(conn)
	}
}

// current returns the live connection, waiting for a reconnect if needed.
func (b *Bus) current(ctx context.Context) (*amqp.Connection, uint64, error) {
	for {
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return nil, 0, bus.ErrClosed
		}
		if b.conn != nil && !b.conn.IsClosed() {
			c, g := b.conn, b.gen
			b.mu.Unlock()
			return c, g, nil
		}
		ready := b.ready
		b.mu.Unlock()
		select {
		case <-ready:
		case <-b.done:
			return nil, 0, bus.ErrClosed
		case <-ctx.Done():
			return nil, 0, fmt.Errorf("%w: %w", ErrNotConnected, ctx.Err())
		}
	}
}

// declareExchange declares topic's exchange (durable, idempotent) once per
// connection, and the provisioned groups' queues with it.
func (b *Bus) declareExchange(ch *amqp.Channel, gen uint64, topic string) error {
	b.mu.Lock()
	done := b.gen == gen && b.declared[topic]
	lock := b.declaring[topic]
	if lock == nil {
		lock = &sync.Mutex{}
		b.declaring[topic] = lock
	}
	b.mu.Unlock()
	if done {
		return nil
	}
	lock.Lock()
	defer lock.Unlock()
	b.mu.Lock()
	done = b.gen == gen && b.declared[topic]
	b.mu.Unlock()
	if done {
		return nil
	}
	if err := ch.ExchangeDeclare(topic, b.cfg.exchangeKind, true, false, false, false, nil); err != nil {
		return fmt.Errorf("amqpbus: declare exchange %s: %w", topic, err)
	}
	for _, g := range b.cfg.provision {
		if err := b.declareQueue(ch, topic, g); err != nil {
			return err
		}
	}
	b.mu.Lock()
	if b.gen == gen {
		b.declared[topic] = true
	}
	b.mu.Unlock()
	return nil
}

// QueueName is the queue that group's members share on topic.
func QueueName(topic, group string) string { return topic + "." + group }

func (b *Bus) queueArgs() amqp.Table {
	args := amqp.Table{amqp.QueueTypeArg: string(b.cfg.queueType)}
	if b.cfg.deadLetter != "" {
		args["x-dead-letter-exchange"] = b.cfg.deadLetter
	}
	if b.cfg.singleActive {
		args[amqp.SingleActiveConsumerArg] = true
	}
	return args
}

func (b *Bus) declareQueue(ch *amqp.Channel, topic, group string) error {
	q := QueueName(topic, group)
	if _, err := ch.QueueDeclare(q, true, false, false, false, b.queueArgs()); err != nil {
		return fmt.Errorf("amqpbus: declare queue %s: %w", q, err)
	}
	if err := ch.QueueBind(q, "#", topic, false, nil); err != nil {
		return fmt.Errorf("amqpbus: bind queue %s to %s: %w", q, topic, err)
	}
	return nil
}

// DeclareGroup declares topic's exchange and group's queue bound to it, so
// the group receives everything published from now on, before any member
// subscribes. Idempotent.
func (b *Bus) DeclareGroup(ctx context.Context, topic, group string) error {
	if topic == "" {
		return ErrNoTopic
	}
	if group == "" {
		return ErrNoGroup
	}
	conn, gen, err := b.current(ctx)
	if err != nil {
		return err
	}
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("amqpbus: open channel: %w", err)
	}
	defer func() { _ = ch.Close() }() // only declarations ran on it
	if err := b.declareExchange(ch, gen, topic); err != nil {
		return err
	}
	return b.declareQueue(ch, topic, group)
}

// getChan takes a confirm-mode channel from the pool or opens one.
func (b *Bus) getChan(conn *amqp.Connection, gen uint64) (*pubChan, error) {
	b.mu.Lock()
	for len(b.free) > 0 {
		pc := b.free[len(b.free)-1]
		b.free = b.free[:len(b.free)-1]
		if pc.gen == gen && !pc.ch.IsClosed() {
			b.mu.Unlock()
			return pc, nil
		}
	}
	b.mu.Unlock()
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("amqpbus: open channel: %w", err)
	}
	if err := ch.Confirm(false); err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("amqpbus: confirm mode: %w", err)
	}
	return &pubChan{ch: ch, gen: gen}, nil
}

func (b *Bus) putChan(pc *pubChan) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || pc.gen != b.gen || pc.ch.IsClosed() {
		_ = pc.ch.Close()
		return
	}
	b.free = append(b.free, pc)
}

// Publish sends the messages persistent on a confirm-mode channel and
// returns once the broker confirmed every one. A broker nack is a definite
// failure (ErrNacked); a channel or connection that closes before the
// confirm, or ctx ending while waiting for it, wraps bus.ErrOutcomeUnknown.
// Every broker round trip is bounded by ctx: a broker that stops answering
// (a quorum queue without a leader blocks its channel) cannot hold Publish
// past it.
func (b *Bus) Publish(ctx context.Context, msgs ...*bus.Message) error {
	for i, m := range msgs {
		if m == nil {
			return fmt.Errorf("message %d: %w", i, ErrNilMessage)
		}
		if m.Topic == "" {
			return fmt.Errorf("message %d (%s): %w", i, m.ID, ErrNoTopic)
		}
	}
	conn, gen, err := b.current(ctx)
	if err != nil {
		return err
	}
	pc, err := b.preparePublish(ctx, conn, gen, msgs)
	if err != nil {
		return err
	}
	confirms := make([]*amqp.DeferredConfirmation, 0, len(msgs))
	for _, m := range msgs {
		dc, err := pc.ch.PublishWithDeferredConfirmWithContext(ctx, m.Topic, routingKey(m.Key), false, false, toAMQP(m))
		if err != nil {
			// Earlier messages, or part of this one, may be on the wire.
			closeAsync(pc.ch)
			return fmt.Errorf("amqpbus: publish %s: %w: %w", m.ID, bus.ErrOutcomeUnknown, err)
		}
		confirms = append(confirms, dc)
	}
	var nacked []error
	for i, dc := range confirms {
		ok, err := dc.WaitContext(ctx)
		if err != nil {
			// Confirms still pending on the channel: do not reuse it.
			closeAsync(pc.ch)
			return fmt.Errorf("amqpbus: publish %s: %w: %w", msgs[i].ID, bus.ErrOutcomeUnknown, err)
		}
		if ok {
			continue
		}
		// The library nacks every pending confirm when the channel shuts
		// down, after marking it closed: a nack on an open channel came
		// from the broker.
		if pc.ch.IsClosed() {
			return fmt.Errorf("amqpbus: publish %s: %w: channel closed before confirm", msgs[i].ID, bus.ErrOutcomeUnknown)
		}
		nacked = append(nacked, fmt.Errorf("amqpbus: publish %s: %w", msgs[i].ID, ErrNacked))
	}
	b.putChan(pc)
	return errors.Join(nacked...)
}

// preparePublish gets a confirm channel and declares the messages' topics,
// giving up when ctx ends (nothing was published: a definite failure). An
// abandoned preparation finishes in the background and closes its channel.
func (b *Bus) preparePublish(ctx context.Context, conn *amqp.Connection, gen uint64, msgs []*bus.Message) (*pubChan, error) {
	type result struct {
		pc  *pubChan
		err error
	}
	res := make(chan result, 1)
	go func() {
		pc, err := b.getChan(conn, gen)
		if err == nil {
			for _, m := range msgs {
				if err = b.declareExchange(pc.ch, gen, m.Topic); err != nil {
					_ = pc.ch.Close() // a failed declare closed it already
					pc = nil
					break
				}
			}
		}
		res <- result{pc, err}
	}()
	select {
	case r := <-res:
		return r.pc, r.err
	case <-ctx.Done():
		go func() {
			if r := <-res; r.pc != nil {
				_ = r.pc.ch.Close() // nobody will publish on it
			}
		}()
		return nil, fmt.Errorf("amqpbus: prepare publish: %w: %w", ErrNotConnected, ctx.Err())
	}
}

// closeAsync closes ch without waiting for the broker's close-ok, which a
// stalled broker may never send; closing the connection ends it anyway.
func closeAsync(ch *amqp.Channel) {
	go func() { _ = ch.Close() }()
}

// routingKey is the message key when it fits AMQP's 255-byte limit; the
// key header is authoritative either way.
func routingKey(k string) string {
	if len(k) > 255 {
		return ""
	}
	return k
}

func toAMQP(m *bus.Message) amqp.Publishing {
	hs := make(amqp.Table, len(m.Headers)+1)
	for k, v := range m.Headers {
		hs[k] = v
	}
	hs[HeaderKey] = m.Key
	return amqp.Publishing{
		MessageId:    m.ID,
		DeliveryMode: amqp.Persistent,
		Headers:      hs,
		Body:         m.Payload,
	}
}

// fromAMQP rebuilds the message. String headers come back as they were
// sent; a quorum queue's x-delivery-count becomes bus.HeaderAttempt
// (count+1), set only on redeliveries so a first delivery's headers are
// exactly the published ones. Non-string headers the broker adds (x-death
// on dead letters) are dropped.
func fromAMQP(d *amqp.Delivery, topic string) *bus.Message {
	m := &bus.Message{ID: d.MessageId, Topic: topic, Payload: d.Body}
	for k, v := range d.Headers {
		switch k {
		case HeaderKey:
			m.Key, _ = v.(string)
			continue
		case headerDeliveryCount:
			if n, ok := toInt(v); ok && n > 0 {
				m.SetHeader(bus.HeaderAttempt, fmt.Sprint(n+1))
			}
			continue
		}
		switch s := v.(type) {
		case string:
			m.SetHeader(k, s)
		case []byte:
			m.SetHeader(k, string(s))
		}
	}
	return m
}

func toInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int32:
		return int64(n), true
	case int16:
		return int64(n), true
	case int8:
		return int64(n), true
	case int:
		return int64(n), true
	case uint8:
		return int64(n), true
	case uint16:
		return int64(n), true
	case uint32:
		return int64(n), true
	}
	return 0, false
}

// Close stops every subscription (their channels close; unacked deliveries
// go back to their queues), then closes the connection. Later calls return
// bus.ErrClosed.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return bus.ErrClosed
	}
	b.closed = true
	close(b.done)
	b.end()
	b.mu.Unlock()
	b.wg.Wait()
	b.mu.Lock()
	conn, free := b.conn, b.free
	b.conn, b.free = nil, nil
	b.mu.Unlock()
	for _, pc := range free {
		_ = pc.ch.Close() // the connection close below ends them anyway
	}
	if conn == nil || conn.IsClosed() {
		return nil
	}
	if err := conn.Close(); err != nil && !errors.Is(err, amqp.ErrClosed) {
		return fmt.Errorf("amqpbus: close: %w", err)
	}
	return nil
}
