package container_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/edkit-dev/edkit/harness/env"
	edc "github.com/edkit-dev/edkit/harness/env/container"
	"github.com/testcontainers/testcontainers-go"
)

// TestMain fails the run if any container this process labelled as
// edkit-managed is still there afterwards.
func TestMain(m *testing.M) {
	edc.Prepare() // before the leak check's Docker client reads testcontainers' config
	before, _ := managed(nil)
	code := m.Run()
	pid := strconv.Itoa(os.Getpid())
	after, err := managed(&pid)
	switch {
	case err != nil:
		fmt.Fprintln(os.Stderr, "leak check: cannot list containers:", err)
	case len(after) > 0:
		fmt.Fprintf(os.Stderr, "leak check: %d edkit-managed containers of this run remain: %v (managed before the run: %d)\n", len(after), after, len(before))
		code = 1
	}
	os.Exit(code)
}

// managed lists edkit-managed containers, of one owner pid if given.
func managed(pid *string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = cli.Close() }()
	args := filters.NewArgs(filters.Arg("label", edc.LabelManaged+"=true"))
	if pid != nil {
		args.Add("label", edc.LabelOwnerPID+"="+*pid)
	}
	list, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: args})
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, c := range list {
		ids = append(ids, c.ID[:12]+" "+c.Image)
	}
	return ids, nil
}

// eventually polls cond until it returns nil or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func(ctx context.Context) error) {
	t.Helper()
	deadline := time.Now().Add(within)
	var err error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		prev := err
		err = cond(ctx)
		cancel()
		if err == nil {
			return
		}
		if prev == nil || prev.Error() != err.Error() {
			t.Logf("%s: not yet: %v", what, err) // each new reason once, for the record of a failure
		}
		select {
		case <-time.After(200 * time.Millisecond):
		case <-t.Context().Done():
			t.Fatalf("%s: test ended: %v", what, err)
		}
	}
	t.Fatalf("%s: not within %s: %v", what, within, err)
}

// mustFail asserts that a fresh client request fails within a few seconds.
func mustFail(t *testing.T, what string, probe func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	if err := probe(ctx); err == nil {
		t.Fatalf("%s: a client request succeeded", what)
	} else {
		t.Logf("%s: client sees %v", what, err)
	}
}

func TestProvider(t *testing.T) {
	p := edc.New(edc.LocalImages(), edc.WithLogger(edc.LoggerFunc(t.Logf)))
	for _, kind := range env.Kinds() {
		t.Run("container/"+string(kind), func(t *testing.T) {
			if err := p.Supports(kind); err != nil {
				t.Fatalf("the local image for %s is missing — run `make images` first: %v", kind, err)
			}
			d := drivers[kind]
			testKind(t, p, kind, d)
		})
	}
}

func testKind(t *testing.T, p *edc.Provider, kind env.Kind, d driver) {
	t.Helper()
	ctx := t.Context()
	spec := env.Spec{Components: []env.ComponentSpec{{Kind: kind, Provider: env.Container, Durable: true}}}
	var took time.Duration
	e, err := env.Start(ctx, spec, env.WithProvider(p), env.OnReady(func(_ string, d time.Duration) { took = d }))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s ready in %s", kind, took.Round(time.Millisecond))
	comp := e.Component(string(kind))
	t.Cleanup(func() {
		if t.Failed() {
			dumpLogs(t, comp)
		}
		if err := e.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	if comp.Provider() != env.Container || comp.Kind() != kind {
		t.Fatalf("handle says %s/%s", comp.Provider(), comp.Kind())
	}
	ep := comp.Endpoint()
	t.Logf("endpoint %s", ep.Redacted())

	// Round trip: one acknowledged message, read back.
	if err := d.publish(ctx, ep, "m1"); err != nil {
		t.Fatalf("publish: %v", err)
	}
	got, err := d.read(ctx, ep)
	if err != nil || !slices.Contains(got, "m1") {
		t.Fatalf("read back = %v, %v; want m1", got, err)
	}

	t.Run("logs", func(t *testing.T) {
		rc, err := comp.(env.LogSource).Logs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = rc.Close() }()
		b, err := io.ReadAll(io.LimitReader(rc, 1<<16))
		if err != nil || len(b) == 0 {
			t.Fatalf("logs: %d bytes, %v", len(b), err)
		}
	})

	t.Run("pause", func(t *testing.T) {
		req, closeSess, err := d.session(ctx, ep)
		if err != nil {
			t.Fatal(err)
		}
		defer closeSess()
		bctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := req(bctx); err != nil {
			t.Fatalf("request before pause: %v", err)
		}
		pz := comp.(env.Pauser)
		if err := pz.Pause(ctx); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			defer cancel()
			done <- req(rctx)
		}()
		select {
		case err := <-done:
			_ = pz.Resume(ctx)
			t.Fatalf("request finished while paused: %v", err)
		case <-time.After(time.Second):
		}
		if err := pz.Resume(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("stalled request after resume: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("stalled request did not complete after resume")
		}
	})

	t.Run("partition", func(t *testing.T) {
		req, closeSess, err := d.session(ctx, ep)
		if err != nil {
			t.Fatal(err)
		}
		// Closing a connection cut by the partition may block: do not wait.
		defer func() { go closeSess() }()
		pt := comp.(env.Partitioner)
		if err := pt.Partition(ctx); err != nil {
			t.Fatal(err)
		}
		mustFail(t, "partitioned", func(ctx context.Context) error { return d.probe(ctx, ep) })
		// A request on a connection opened before the partition must not
		// succeed: it stalls or fails.
		mustFail(t, "partitioned, open connection", req)
		if err := pt.Heal(ctx); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, "after heal", func(ctx context.Context) error { return d.probe(ctx, ep) })
	})

	t.Run("kill-restart", func(t *testing.T) {
		if err := comp.(env.Killer).Kill(ctx); err != nil {
			t.Fatal(err)
		}
		mustFail(t, "killed", func(ctx context.Context) error { return d.probe(ctx, ep) })
		if err := comp.(env.Restarter).Restart(ctx); err != nil {
			t.Fatal(err)
		}
		if comp.Endpoint().Redacted() != ep.Redacted() {
			t.Fatalf("endpoint moved: %s -> %s", ep.Redacted(), comp.Endpoint().Redacted())
		}
		// A read that fails after taking m1 (RabbitMQ's basic.get, say)
		// leaves it unacked until the broker notices the closed connection
		// and requeues it; a read that races that requeue sees an empty
		// queue. So m1 must come back within the window, not at once: a
		// lost m1 never does.
		eventually(t, 30*time.Second, "read m1 after restart", func(ctx context.Context) error {
			got, err := d.read(ctx, ep)
			switch {
			case err != nil:
				return err
			case !slices.Contains(got, "m1"):
				return fmt.Errorf("after kill and restart read %v; the acknowledged m1 is lost", got)
			}
			return nil
		})
		if err := d.publish(ctx, ep, "m2"); err != nil {
			t.Fatalf("publish after restart: %v", err)
		}
	})

	t.Run("stop-restart", func(t *testing.T) {
		if err := comp.(env.Stopper).Stop(ctx); err != nil {
			t.Fatal(err)
		}
		mustFail(t, "stopped", func(ctx context.Context) error { return d.probe(ctx, ep) })
		if err := comp.(env.Restarter).Restart(ctx); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, "probe after restart", func(ctx context.Context) error { return d.probe(ctx, ep) })
	})

	t.Run("close", func(t *testing.T) {
		if err := comp.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if err := comp.Close(ctx); !errors.Is(err, env.ErrClosed) {
			t.Fatalf("second Close = %v, want ErrClosed", err)
		}
		if err := comp.(env.Pauser).Pause(ctx); !errors.Is(err, env.ErrClosed) {
			t.Fatalf("Pause after Close = %v, want ErrClosed", err)
		}
		mustFail(t, "closed", func(ctx context.Context) error { return d.probe(ctx, ep) })
	})
}

func dumpLogs(t *testing.T, c env.Component) {
	t.Helper()
	ls, ok := c.(env.LogSource)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rc, err := ls.Logs(ctx)
	if err != nil {
		return
	}
	defer func() { _ = rc.Close() }()
	// The end of the log tells what happened last (a restart's recovery, say).
	b, _ := io.ReadAll(rc)
	if len(b) > 1<<14 {
		b = b[len(b)-1<<14:]
	}
	t.Logf("%s logs (last 16 KiB):\n%s", c.Name(), b)
}
