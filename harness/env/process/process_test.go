package process_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"

	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/harness/env/envtest"
	"github.com/edkit-dev/edkit/harness/env/process"
)

func TestMain(m *testing.M) { envtest.CheckNoLeaks(m) }

// client is the little each kind's real client library must do for the
// lifecycle test: one acknowledged write, read it back, one round trip.
type client interface {
	write(ctx context.Context, msg string) error
	read(ctx context.Context) (string, error)
	ping(ctx context.Context) error
	close()
}

var clients = map[env.Kind]func(ctx context.Context, ep env.Endpoint) (client, error){
	env.KindRedis:    dialRedis,
	env.KindPostgres: dialPostgres,
	env.KindNATS:     dialNATS,
	env.KindRabbitMQ: dialRabbit,
}

func TestProvider(t *testing.T) {
	t.Run("process", func(t *testing.T) {
		for _, kind := range []env.Kind{env.KindRabbitMQ, env.KindRedis, env.KindPostgres, env.KindNATS} {
			t.Run(string(kind), func(t *testing.T) {
				t.Parallel()
				testLifecycle(t, kind)
			})
		}
	})
}

// testLifecycle is the whole life of one kind's instance.
func testLifecycle(t *testing.T, kind env.Kind) { //nolint:thelper // the test body itself; failures should point here
	var logs bytes.Buffer
	p := process.New(process.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))), process.Verbose())
	if err := p.Supports(kind); err != nil {
		t.Fatalf("cannot run %s: %v", kind, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	e, err := env.Start(ctx, env.Spec{Components: []env.ComponentSpec{{Kind: kind, Provider: env.Process, Durable: true}}},
		env.WithProvider(p), env.OnReady(func(name string, took time.Duration) { t.Logf("%s ready in %v", name, took) }))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "level=INFO msg=\"process: ready\"") || !strings.Contains(logs.String(), "took=") {
		t.Errorf("verbose log lacks the start-up time: %q", logs.String())
	}
	comp := e.Component(string(kind))
	in := comp.(*process.Instance)
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = e.Close()
		}
	})
	if comp.Provider() != env.Process || comp.Kind() != kind {
		t.Fatalf("handle says %s/%s", comp.Provider(), comp.Kind())
	}
	ep := comp.Endpoint()
	if len(ep.Addrs) != 1 || !strings.HasPrefix(ep.Addrs[0], "127.0.0.1:") {
		t.Fatalf("endpoint %s, want one 127.0.0.1 address", ep.Redacted())
	}
	if u, err := url.Parse(ep.URL); err != nil {
		t.Errorf("endpoint URL does not parse: %v", err)
	} else if pw, ok := u.User.Password(); ok && strings.Contains(ep.Redacted(), ":"+pw+"@") {
		t.Errorf("Redacted %q shows the password", ep.Redacted())
	}
	t.Logf("%s at %s, started in %v", kind, ep.Redacted(), in.StartupTime())

	dial := func() client {
		t.Helper()
		c, err := clients[kind](ctx, ep)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		return c
	}
	want := "edkit-" + string(kind) + "-hello"
	if d, ok := dial().(declarer); ok {
		// RabbitMQ 3.10 writes queue definitions through Mnesia's log
		// lazily: a queue declared moments before a SIGKILL can vanish
		// with it, while messages published with confirms are synced. So
		// the queue is declared first and the broker bounced gracefully;
		// the kill below then tests what it must: acknowledged messages.
		if err := d.declare(); err != nil {
			t.Fatalf("declare: %v", err)
		}
		d.close()
		if err := in.Restart(ctx); err != nil {
			t.Fatalf("bounce after declare: %v", err)
		}
	}
	c := dial()
	if err := c.write(ctx, want); err != nil {
		t.Fatalf("write: %v", err)
	}
	mustRead := func(c client, when string) {
		t.Helper()
		got, err := c.read(ctx)
		if err != nil || got != want {
			t.Fatalf("%s: read %q, %v; want %q", when, got, err, want)
		}
	}
	mustRead(c, "after write")

	// Pause: a request stalls; Resume: it completes.
	if err := in.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	pinged := make(chan error, 1)
	go func() {
		pctx, pcancel := context.WithTimeout(ctx, 60*time.Second)
		defer pcancel()
		pinged <- c.ping(pctx)
	}()
	select {
	case err := <-pinged:
		_ = in.Resume(ctx)
		t.Fatalf("a request to a paused server completed (err %v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := in.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-pinged; err != nil {
		t.Fatalf("request after resume: %v", err)
	}

	// Kill: the client sees a failure.
	if err := in.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	kctx, kcancel := context.WithTimeout(ctx, 3*time.Second)
	err = c.ping(kctx)
	kcancel()
	c.close()
	if err == nil {
		t.Fatal("a request to a killed server succeeded")
	}
	if err := in.Kill(ctx); !errors.Is(err, process.ErrNotRunning) {
		t.Errorf("second Kill: %v, want ErrNotRunning", err)
	}

	// Restart: what was acknowledged is still there.
	if err := in.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s restarted after kill in %v", kind, in.StartupTime())
	if in.Endpoint().URL != ep.URL {
		t.Errorf("endpoint moved on restart: %s -> %s", ep.Redacted(), in.Endpoint().Redacted())
	}
	c = dial()
	mustRead(c, "after kill and restart")
	c.close()

	// Stop gracefully, then restart.
	if err := in.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := in.Pause(ctx); !errors.Is(err, process.ErrNotRunning) {
		t.Errorf("Pause of a stopped server: %v, want ErrNotRunning", err)
	}
	if err := in.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	c = dial()
	mustRead(c, "after stop and restart")
	c.close()

	// Logs hold what the server printed.
	rc, err := in.Logs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	serverLog, _ := io.ReadAll(rc)
	_ = rc.Close()
	if len(serverLog) == 0 {
		t.Error("empty server log")
	}

	// Close removes everything; later calls return ErrClosed.
	closed = true
	if err := e.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if _, err := os.Stat(in.Dir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temp dir %s still there after Close (%v)", in.Dir(), err)
	}
	if err := in.Close(ctx); !errors.Is(err, env.ErrClosed) {
		t.Errorf("second Close: %v, want env.ErrClosed", err)
	}
	if err := in.Restart(ctx); !errors.Is(err, env.ErrClosed) {
		t.Errorf("Restart after Close: %v, want env.ErrClosed", err)
	}
}

func TestSupports(t *testing.T) {
	tests := []struct {
		name string
		p    *process.Provider
		kind env.Kind
		want error
	}{
		{"kafka has no Debian server", process.New(), env.KindKafka, process.ErrUnsupportedKind},
		{"missing binary names the package", process.New(process.WithBinary("redis-server", "/nonexistent/redis-server")), env.KindRedis, process.ErrNotInstalled},
		{"redis installed", process.New(), env.KindRedis, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Supports(tt.kind)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Supports(%s) = %v, want %v", tt.kind, err, tt.want)
			}
			if errors.Is(err, process.ErrNotInstalled) && !strings.Contains(err.Error(), "package redis-server") {
				t.Errorf("error %q does not name the package", err)
			}
			if err == nil {
				return
			}
			if _, serr := tt.p.Start(t.Context(), env.ComponentSpec{Kind: tt.kind, Provider: env.Process}); !errors.Is(serr, tt.want) {
				t.Errorf("Start = %v, want %v", serr, tt.want)
			}
		})
	}
}

// --- Redis: a stream entry.

type redisClient struct{ c *redis.Client }

func dialRedis(_ context.Context, ep env.Endpoint) (client, error) {
	return redisClient{redis.NewClient(&redis.Options{Addr: ep.Addrs[0], MaxRetries: -1})}, nil
}

func (r redisClient) write(ctx context.Context, msg string) error {
	return r.c.XAdd(ctx, &redis.XAddArgs{Stream: "edkit", Values: map[string]any{"msg": msg}}).Err()
}

func (r redisClient) read(ctx context.Context) (string, error) {
	xs, err := r.c.XRange(ctx, "edkit", "-", "+").Result()
	if err != nil || len(xs) != 1 {
		return "", fmt.Errorf("xrange: %d entries, %w", len(xs), err)
	}
	s, _ := xs[0].Values["msg"].(string)
	return s, nil
}

func (r redisClient) ping(ctx context.Context) error { return r.c.Ping(ctx).Err() }
func (r redisClient) close()                         { _ = r.c.Close() }

// --- PostgreSQL: a row.

type pgClient struct{ c *pgx.Conn }

func dialPostgres(ctx context.Context, ep env.Endpoint) (client, error) {
	c, err := pgx.Connect(ctx, ep.URL)
	return pgClient{c}, err
}

func (p pgClient) write(ctx context.Context, msg string) error {
	if _, err := p.c.Exec(ctx, "CREATE TABLE edkit (id int PRIMARY KEY, msg text NOT NULL)"); err != nil {
		return err
	}
	_, err := p.c.Exec(ctx, "INSERT INTO edkit VALUES (1, $1)", msg)
	return err
}

func (p pgClient) read(ctx context.Context) (string, error) {
	var s string
	err := p.c.QueryRow(ctx, "SELECT msg FROM edkit WHERE id = 1").Scan(&s)
	return s, err
}

func (p pgClient) ping(ctx context.Context) error { return p.c.Ping(ctx) }
func (p pgClient) close()                         { _ = p.c.Close(context.Background()) }

// --- NATS: a JetStream message in a file-backed stream.

type natsClient struct {
	nc *nats.Conn
	js jetstream.JetStream
}

func dialNATS(_ context.Context, ep env.Endpoint) (client, error) {
	nc, err := nats.Connect(ep.URL)
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	return natsClient{nc, js}, err
}

func (n natsClient) write(ctx context.Context, msg string) error {
	if _, err := n.js.CreateStream(ctx, jetstream.StreamConfig{Name: "EDKIT", Subjects: []string{"edkit.>"}, Storage: jetstream.FileStorage}); err != nil {
		return err
	}
	_, err := n.js.Publish(ctx, "edkit.msg", []byte(msg))
	return err
}

func (n natsClient) read(ctx context.Context) (string, error) {
	s, err := n.js.Stream(ctx, "EDKIT")
	if err != nil {
		return "", err
	}
	m, err := s.GetMsg(ctx, 1)
	if err != nil {
		return "", err
	}
	return string(m.Data), nil
}

func (n natsClient) ping(ctx context.Context) error {
	_, err := n.js.AccountInfo(ctx)
	return err
}
func (n natsClient) close() { n.nc.Close() }

// --- RabbitMQ: a persistent message in a durable queue, publisher-confirmed.

type rabbitClient struct {
	conn *amqp.Connection
	ch   *amqp.Channel
}

func dialRabbit(_ context.Context, ep env.Endpoint) (client, error) {
	conn, err := amqp.Dial(ep.URL)
	if err != nil {
		return nil, err
	}
	ch, err := conn.Channel()
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return rabbitClient{conn, ch}, nil
}

// declarer is a client whose broker needs its destination declared (and
// made durable) before a message is written.
type declarer interface {
	declare() error
	close()
}

func (r rabbitClient) declare() error {
	_, err := r.ch.QueueDeclare("edkit", true, false, false, false, amqp.Table{"x-queue-type": "classic"})
	return err
}

func (r rabbitClient) write(ctx context.Context, msg string) error {
	if err := r.declare(); err != nil {
		return err
	}
	if err := r.ch.Confirm(false); err != nil {
		return err
	}
	dc, err := r.ch.PublishWithDeferredConfirmWithContext(ctx, "", "edkit", true, false,
		amqp.Publishing{DeliveryMode: amqp.Persistent, Body: []byte(msg)})
	if err != nil {
		return err
	}
	ok, err := dc.WaitContext(ctx)
	if err == nil && !ok {
		err = errors.New("publish nacked")
	}
	return err
}

func (r rabbitClient) read(_ context.Context) (string, error) {
	m, ok, err := r.ch.Get("edkit", false)
	if err != nil || !ok {
		return "", fmt.Errorf("get: ok=%v: %w", ok, err)
	}
	// Put it back, so the next read after a restart finds it again.
	return string(m.Body), m.Nack(false, true)
}

func (r rabbitClient) ping(_ context.Context) error {
	_, err := r.ch.QueueDeclarePassive("edkit", true, false, false, false, nil)
	return err
}
func (r rabbitClient) close() { _ = r.conn.Close() }

// TestCrashedParentLeaksNothing starts a server from a child test binary
// that exits without Close, as a crashed run would: the parent-death
// signal must take the server down with it.
func TestCrashedParentLeaksNothing(t *testing.T) {
	if os.Getenv("EDKIT_PROCESS_CRASH") == "1" {
		in, err := process.New().StartInstance(t.Context(), env.ComponentSpec{Kind: env.KindRedis, Provider: env.Process})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(2)
		}
		fmt.Println("dir:", in.Dir())
		os.Exit(3) // no Close: a crash
	}
	if err := process.New().Supports(env.KindRedis); err != nil {
		t.Fatalf("cannot run redis: %v", err)
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestCrashedParentLeaksNothing$")
	cmd.Env = append(os.Environ(), "EDKIT_PROCESS_CRASH=1")
	out, _ := cmd.Output()
	var dir string
	for _, line := range strings.Split(string(out), "\n") {
		if d, ok := strings.CutPrefix(line, "dir: "); ok {
			dir = d
		}
	}
	if dir == "" || !strings.Contains(dir, "edkit-redis-") {
		t.Fatalf("child did not start redis: %s", out)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	// The orphan is reparented to init, so it is not our descendant: look
	// for it by its temp dir, for at most 5 s.
	deadline := time.Now().Add(5 * time.Second)
	for {
		alive := orphansMentioning(t, dir)
		if len(alive) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("server outlived its crashed parent: %v", alive)
		}
		select {
		case <-t.Context().Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func orphansMentioning(t *testing.T, dir string) []envtest.Proc {
	t.Helper()
	ps, err := envtest.Processes()
	if err != nil {
		t.Fatal(err)
	}
	var out []envtest.Proc
	for _, p := range ps {
		if p.Mentions(dir) {
			out = append(out, p)
		}
	}
	return out
}

// TestCloseWhilePaused: Close thaws a frozen server before stopping it, so
// nothing is left stopped forever.
func TestCloseWhilePaused(t *testing.T) {
	p := process.New()
	if err := p.Supports(env.KindRedis); err != nil {
		t.Fatalf("cannot run redis: %v", err)
	}
	in, err := p.StartInstance(t.Context(), env.ComponentSpec{Kind: env.KindRedis, Provider: env.Process})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Pause(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := in.Close(t.Context()); err != nil {
		t.Fatalf("Close of a paused server: %v", err)
	}
	if _, err := os.Stat(in.Dir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temp dir still there: %v", err)
	}
	if err := in.Pause(t.Context()); !errors.Is(err, env.ErrClosed) {
		t.Errorf("Pause after Close: %v, want env.ErrClosed", err)
	}
}

// TestProxiedProcess fronts a process-provider Redis with env.Start's own
// proxy: the endpoint is the proxy, a partition cuts the client off, a heal
// lets it back, and the provider's capabilities are still found through As.
func TestProxiedProcess(t *testing.T) {
	if err := process.New().Supports(env.KindRedis); err != nil {
		t.Fatalf("redis-server cannot run: %v", err)
	}
	ctx := t.Context()
	e, err := env.Start(ctx, env.Spec{Components: []env.ComponentSpec{{Kind: env.KindRedis, Provider: env.Process, Proxied: true}}},
		env.WithProvider(process.New()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Error(err)
		}
	})
	c := e.Component("redis")
	inner, ok := c.(env.Wrapper)
	if !ok {
		t.Fatal("proxied component does not wrap the provider's")
	}
	if got, direct := c.Endpoint().Addrs[0], inner.Unwrap().Endpoint().Addrs[0]; got == direct {
		t.Fatalf("endpoint %s is not the proxy", got)
	}
	rdb := redis.NewClient(&redis.Options{Addr: c.Endpoint().Addrs[0], MaxRetries: -1, DialTimeout: 500 * time.Millisecond,
		ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("ping through the proxy: %v", err)
	}
	part, ok := env.As[env.Partitioner](c)
	if !ok {
		t.Fatal("proxied component is not a Partitioner")
	}
	if err := part.Partition(ctx); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Ping(ctx).Err(); err == nil {
		t.Fatal("ping succeeded through a partitioned proxy")
	}
	if err := part.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("ping after heal: %v", err)
	}
	if _, ok := env.As[env.Killer](c); !ok {
		t.Fatal("As does not find the provider's Killer behind the proxy")
	}
	if _, ok := c.(env.Killer); ok {
		t.Fatal("the wrapper itself claims Killer")
	}
}
