package process

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/harness/env/ownership"
)

// server is what differs between kinds: how to lay out the dir, how to run
// the server, and how to tell it is ready.
type server interface {
	// users are the system users to run as when edkit is root, the first
	// that exists wins; none means run as ourselves (a user's service).
	users() []string
	// prepare runs once: picks ports, writes config, initialises data.
	prepare(ctx context.Context, s *setup) error
	// command is the server's command line, fresh for every (re)start.
	command() *exec.Cmd
	// stopSignal asks the server for a fast, clean shutdown.
	stopSignal() syscall.Signal
	// probe performs one protocol handshake.
	probe(ctx context.Context) error
	endpoint() env.Endpoint
	// sidecars are helpers started once before the server and killed on
	// Close (RabbitMQ's epmd).
	sidecars() []*exec.Cmd
}

// setup is what prepare gets to work with.
type setup struct {
	spec env.ComponentSpec
	dir  string
	// log is the instance log every child's output is appended to.
	log  string
	cred *syscall.Credential
	// env is the base environment of every child: PATH, HOME (the temp
	// dir), a UTF-8 locale; nothing else leaks in from ours.
	env []string
	// run runs a one-shot helper (initdb) as the server's user, logging to
	// the instance log.
	run func(ctx context.Context, cmd *exec.Cmd) error
}

// Instance is a running (or stopped) server started by the process
// provider. It owns its temp dir and every process it started.
type Instance struct {
	p    *Provider
	name string
	kind env.Kind
	spec env.ComponentSpec
	srv  server

	dir     string
	logPath string
	cred    *syscall.Credential
	baseEnv []string

	mu      sync.Mutex
	closed  bool
	main    *child // nil while stopped or killed
	paused  bool
	aux     []*child
	startup time.Duration
}

var (
	_ env.Component = (*Instance)(nil)
	_ env.Stopper   = (*Instance)(nil)
	_ env.Killer    = (*Instance)(nil)
	_ env.Restarter = (*Instance)(nil)
	_ env.Pauser    = (*Instance)(nil)
	_ env.LogSource = (*Instance)(nil)
)

// Name is the component's name in its spec.
func (in *Instance) Name() string { return in.name }

// Kind is what server this is.
func (in *Instance) Kind() env.Kind { return in.kind }

// Provider is env.Process.
func (in *Instance) Provider() env.ProviderName { return env.Process }

// Endpoint is where clients connect; it stays the same across restarts.
func (in *Instance) Endpoint() env.Endpoint { return in.srv.endpoint() }

// Dir is the instance's temp dir (data, config, log), for failure reports.
func (in *Instance) Dir() string { return in.dir }

// StartupTime is how long the last start or restart took until the server
// answered its handshake.
func (in *Instance) StartupTime() time.Duration {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.startup
}

// create makes the temp dir, prepares it and starts the server; on failure
// it removes everything it made.
func (in *Instance) create(ctx context.Context) (err error) {
	in.dir, err = ownership.MkdirTemp("", "edkit-"+string(in.kind)+"-")
	if err != nil {
		return fmt.Errorf("process: %s: temp dir: %w", in.name, err)
	}
	in.logPath = filepath.Join(in.dir, "server.log")
	defer func() {
		if err != nil {
			err = fmt.Errorf("process: start %s (%s): %w%s", in.name, in.kind, err, in.logTail())
			if terr := in.teardown(); terr != nil {
				err = errors.Join(err, terr)
			}
		}
	}()
	if in.cred, err = credentialFor(in.srv.users()); err != nil {
		return err
	}
	in.baseEnv = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + in.dir, "LANG=C.UTF-8", "LC_ALL=C.UTF-8", "TMPDIR=" + in.dir}
	if err = in.chown(); err != nil {
		return err
	}
	s := &setup{spec: in.spec, dir: in.dir, log: in.logPath, cred: in.cred, env: in.baseEnv, run: in.runOnce}
	if err = in.srv.prepare(ctx, s); err != nil {
		return err
	}
	if err = in.chown(); err != nil {
		return err
	}
	for _, cmd := range in.srv.sidecars() {
		c, err := in.spawn(cmd)
		if err != nil {
			return fmt.Errorf("sidecar %s: %w", filepath.Base(cmd.Path), err)
		}
		in.aux = append(in.aux, c)
	}
	if w, ok := in.srv.(interface {
		sidecarsReady(ctx context.Context) error
	}); ok {
		if err = w.sidecarsReady(ctx); err != nil {
			return err
		}
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.startLocked(ctx)
}

// chown hands the temp dir to the server's user when edkit runs as root.
func (in *Instance) chown() error {
	if in.cred == nil {
		return nil
	}
	root, err := os.OpenRoot(in.dir)
	if err != nil {
		return err
	}
	defer func() { _ = root.Close() }()
	return fs.WalkDir(root.FS(), ".", func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return root.Lchown(path, int(in.cred.Uid), int(in.cred.Gid))
	})
}

// runOnce runs a helper to completion as the server's user.
func (in *Instance) runOnce(ctx context.Context, cmd *exec.Cmd) error {
	c, err := in.spawn(cmd)
	if err != nil {
		return err
	}
	select {
	case <-c.done:
		if c.err != nil {
			return fmt.Errorf("%s: %w", filepath.Base(cmd.Path), c.err)
		}
		return nil
	case <-ctx.Done():
		c.signal(syscall.SIGKILL)
		<-c.done
		return ctx.Err()
	}
}

// child is one started process and its exit.
type child struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // set before done closes
}

// signal signals the child's process group and every descendant of the
// child — PostgreSQL's backends each call setsid, so the group alone does
// not reach them. The child goes first, so a SIGSTOPped parent forks no
// new process meanwhile. Processes already gone are not an error.
func (c *child) signal(sig syscall.Signal) {
	pid := c.cmd.Process.Pid
	_ = syscall.Kill(-pid, sig)
	for _, d := range descendants(pid) {
		_ = syscall.Kill(d, sig)
	}
}

// descendants lists pid's live descendants from /proc, parents before
// children.
func descendants(pid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	kids := map[int][]int{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 2 {
			continue
		}
		if ppid, err := strconv.Atoi(f[1]); err == nil {
			kids[ppid] = append(kids[ppid], p)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, k := range kids[p] {
			out = append(out, k)
			queue = append(queue, k)
		}
	}
	return out
}

// awaitStopped waits until every thread of the child and its descendants
// is stopped. kill(2) only queues SIGSTOP: a thread running on another core
// goes on until the kernel gets to it, so without the wait a request sent
// right after Pause could still be served (CI saw NATS answer one).
func (c *child) awaitStopped(ctx context.Context) error {
	pids := append([]int{c.cmd.Process.Pid}, descendants(c.cmd.Process.Pid)...)
	deadline := time.Now().Add(5 * time.Second)
	for !allStopped(pids) {
		if time.Now().After(deadline) {
			return fmt.Errorf("process: not all of %v stopped within 5s of SIGSTOP", pids)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	return nil
}

// allStopped reports whether every thread of pids is stopped (T, t),
// a zombie (Z), dead (X) or gone.
func allStopped(pids []int) bool {
	for _, pid := range pids {
		tasks, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
		if err != nil {
			continue // gone
		}
		for _, t := range tasks {
			stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + t.Name() + "/stat")
			if err != nil {
				continue
			}
			i := bytes.LastIndexByte(stat, ')')
			if i < 0 || i+2 >= len(stat) {
				continue
			}
			switch stat[i+2] {
			case 'T', 't', 'Z', 'X':
			default:
				return false
			}
		}
	}
	return true
}

// exited reports whether the child has exited.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// spawn starts cmd in its own process group, dying with us, as the
// server's user, with output appended to the instance log.
func (in *Instance) spawn(cmd *exec.Cmd) (*child, error) {
	logf, err := os.OpenFile(in.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	// The child holds its own copy of the descriptor.
	defer func() { _ = logf.Close() }()
	cmd.Stdout, cmd.Stderr = logf, logf
	if cmd.Dir == "" {
		cmd.Dir = in.dir
	}
	if cmd.Env == nil {
		cmd.Env = in.baseEnv
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: in.cred}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// startLocked starts the server and waits until it answers its handshake.
func (in *Instance) startLocked(ctx context.Context) error {
	began := time.Now()
	c, err := in.spawn(in.srv.command())
	if err != nil {
		return err
	}
	if err := in.waitReady(ctx, c); err != nil {
		c.signal(syscall.SIGKILL)
		<-c.done
		return err
	}
	in.main, in.paused = c, false
	in.startup = time.Since(began)
	level := in.p.log.Debug
	if in.p.verbose {
		level = in.p.log.Info
	}
	level("process: ready", "name", in.name, "kind", in.kind, "took", in.startup.Round(time.Millisecond), "endpoint", in.Endpoint().Redacted(), "dir", in.dir)
	return nil
}

// waitReady probes the server until it answers, it exits, or time is up.
func (in *Instance) waitReady(ctx context.Context, c *child) error {
	ctx, cancel := context.WithTimeout(ctx, in.readyTimeout())
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		pctx, pcancel := context.WithTimeout(ctx, 3*time.Second)
		last = in.srv.probe(pctx)
		pcancel()
		if last == nil {
			return nil
		}
		select {
		case <-c.done:
			return fmt.Errorf("%w before it was ready: %w", ErrExited, c.err)
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w (last probe: %w)", ctx.Err(), last)
		case <-tick.C:
		}
	}
}

// readyTimeout is the provider's, unless the server brings its own (a
// user's service knows best how long it takes).
func (in *Instance) readyTimeout() time.Duration {
	if t, ok := in.srv.(interface{ readyTimeout() time.Duration }); ok && t.readyTimeout() > 0 {
		return t.readyTimeout()
	}
	return in.p.readyTimeout
}

// logTail is the end of the log, for start errors.
func (in *Instance) logTail() string {
	f, err := os.Open(in.logPath)
	if err != nil {
		return ""
	}
	defer func() { _ = f.Close() }()
	const max = 3000
	if st, err := f.Stat(); err == nil && st.Size() > max {
		_, _ = f.Seek(st.Size()-max, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	if len(b) == 0 {
		return ""
	}
	return "\n--- " + in.logPath + " (tail) ---\n" + string(b)
}

// Stop shuts the server down cleanly (SIGTERM, or SIGINT for PostgreSQL's
// fast shutdown), waiting up to 30 s or ctx before it kills it. The data
// stays for Restart.
func (in *Instance) Stop(ctx context.Context) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return env.ErrClosed
	}
	if in.main == nil {
		return ErrNotRunning
	}
	in.p.log.Debug("process: stop", "name", in.name)
	return in.stopLocked(ctx, 30*time.Second)
}

func (in *Instance) stopLocked(ctx context.Context, grace time.Duration) error {
	c := in.main
	if in.paused {
		c.signal(syscall.SIGCONT)
	}
	_ = c.cmd.Process.Signal(in.srv.stopSignal())
	t := time.NewTimer(grace)
	defer t.Stop()
	var err error
	select {
	case <-c.done:
	case <-t.C:
		err = fmt.Errorf("process: %s did not stop within %v; killed", in.name, grace)
	case <-ctx.Done():
		err = fmt.Errorf("process: stop %s: %w; killed", in.name, ctx.Err())
	}
	// Kill the group either way: stragglers (backends, helpers) go too.
	c.signal(syscall.SIGKILL)
	<-c.done
	in.main, in.paused = nil, false
	return err
}

// Kill SIGKILLs the server's whole process group and waits for it: no
// shutdown, no flush, like a power cut for the process.
func (in *Instance) Kill(ctx context.Context) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return env.ErrClosed
	}
	if in.main == nil {
		return ErrNotRunning
	}
	in.p.log.Debug("process: kill", "name", in.name)
	c := in.main
	tree := descendants(c.cmd.Process.Pid)
	c.signal(syscall.SIGKILL)
	select {
	case <-c.done:
	case <-ctx.Done():
		return fmt.Errorf("process: kill %s: %w", in.name, ctx.Err())
	}
	// The server's helpers (PostgreSQL's backends run in their own
	// sessions) die a moment after it; until they do they hold its shared
	// memory and ports, and a Restart would fail. Kill returns once the
	// whole tree is gone.
	if err := waitGone(ctx, tree); err != nil {
		return fmt.Errorf("process: kill %s: %w", in.name, err)
	}
	in.main, in.paused = nil, false
	return nil
}

// waitGone waits until every pid has exited (a zombie counts as exited:
// an orphan's new parent may never reap it, but it holds nothing).
func waitGone(ctx context.Context, pids []int) error {
	for _, pid := range pids {
		for {
			stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
			if err != nil {
				break
			}
			if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("pid %d still alive: %w", pid, ctx.Err())
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	return nil
}

// Restart starts the server again with the same dir and ports and waits
// for readiness. A running server is stopped cleanly first, so Restart is
// also a bounce.
func (in *Instance) Restart(ctx context.Context) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return env.ErrClosed
	}
	if in.main != nil {
		if err := in.stopLocked(ctx, 30*time.Second); err != nil {
			return err
		}
	}
	in.p.log.Debug("process: restart", "name", in.name)
	if err := in.startLocked(ctx); err != nil {
		return fmt.Errorf("process: restart %s: %w%s", in.name, err, in.logTail())
	}
	return nil
}

// Pause freezes the server's process group with SIGSTOP: connections stay
// open, requests stall until Resume.
func (in *Instance) Pause(ctx context.Context) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return env.ErrClosed
	}
	if in.main == nil {
		return ErrNotRunning
	}
	in.main.signal(syscall.SIGSTOP)
	in.paused = true
	return in.main.awaitStopped(ctx)
}

// Resume thaws a paused server with SIGCONT.
func (in *Instance) Resume(_ context.Context) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return env.ErrClosed
	}
	if in.main == nil {
		return ErrNotRunning
	}
	in.main.signal(syscall.SIGCONT)
	in.paused = false
	return nil
}

// Logs returns what the server (and its helpers) printed since the
// instance was created.
func (in *Instance) Logs(_ context.Context) (io.ReadCloser, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return nil, env.ErrClosed
	}
	return os.Open(in.logPath)
}

// Close stops the server (cleanly, within 10 s), kills its helpers and
// removes the temp dir. Later calls return env.ErrClosed.
func (in *Instance) Close(ctx context.Context) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return env.ErrClosed
	}
	in.closed = true
	in.p.log.Debug("process: close", "name", in.name)
	var errs []error
	if in.main != nil {
		if err := in.stopLocked(ctx, 10*time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, in.teardown())
	return errors.Join(errs...)
}

// teardown kills the sidecars and removes the temp dir.
func (in *Instance) teardown() error {
	for _, c := range in.aux {
		c.signal(syscall.SIGKILL)
		<-c.done
	}
	in.aux = nil
	if in.dir == "" {
		return nil
	}
	if err := os.RemoveAll(in.dir); err != nil {
		return fmt.Errorf("process: remove %s: %w", in.dir, err)
	}
	return nil
}

// credentialFor returns the first existing user of names when we are root
// (servers refuse or should not run as root), else nil: run as ourselves.
// No names is nil too: a user's service runs as whoever runs edkit.
func credentialFor(names []string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 || len(names) == 0 {
		return nil, nil
	}
	for _, n := range append(names, "nobody") {
		u, err := user.Lookup(n)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, fmt.Errorf("process: running as root and none of the users %v exists to run the server as", names)
}

// freePorts reserves n distinct free loopback ports. They are released
// before the server binds them, so a race with another program is
// possible but unlikely.
func freePorts(ctx context.Context, n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		var lc net.ListenConfig
		l, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("process: free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// deadlineOr is how long until ctx's deadline, or 2 s without one, for
// clients that take a timeout instead of a context.
func deadlineOr(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		if left := time.Until(d); left > 0 {
			return left
		}
		return time.Millisecond
	}
	return 2 * time.Second
}
