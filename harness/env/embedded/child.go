package embedded

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/reference/atomicfile"
)

// BrokerBinaryEnv names the environment variable that points child mode at
// a prebuilt edkit-broker binary.
const BrokerBinaryEnv = "EDKIT_BROKER_BIN"

// maxLogBytes bounds the output kept per child; older output is dropped.
const maxLogBytes = 1 << 20

// Pause freezes the child process with SIGSTOP: its connections stay open
// and requests stall until Resume.
func (c *Child) Pause(context.Context) error {
	return c.signal(syscall.SIGSTOP)
}

// Resume thaws a paused child with SIGCONT.
func (c *Child) Resume(context.Context) error {
	return c.signal(syscall.SIGCONT)
}

func (c *Child) signal(sig syscall.Signal) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return env.ErrClosed
	}
	if !c.running {
		return ErrNotRunning
	}
	return c.child.signal(sig)
}

// Logs returns what the child printed (stdout and stderr, every run since
// Start, each restart marked), up to the last MiB.
func (c *Child) Logs(context.Context) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(c.child.logs.bytes())), nil
}

// childRunner runs edkit-broker with fixed arguments; each start is a new
// process.
type childRunner struct {
	bin   string
	args  func() []string
	ready func(ctx context.Context) error // protocol check after "ready"; may be nil
	logs  *logBuffer

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // Wait's result, valid once exited is closed
}

func (r *childRunner) start(ctx context.Context) error {
	// Not CommandContext: the broker must outlive the Start call's ctx;
	// stop, kill and Pdeathsig end it.
	cmd := exec.Command(r.bin, r.args()...) //nolint:gosec,noctx // our own broker binary with our own arguments
	cmd.SysProcAttr = sysProcAttr()
	rw := &readyWriter{logs: r.logs, ready: make(chan struct{})}
	cmd.Stdout = rw
	cmd.Stderr = r.logs
	r.logs.mark(fmt.Sprintf("--- edkit-broker %v\n", cmd.Args[1:]))
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start edkit-broker: %w", err)
	}
	exited := make(chan struct{})
	r.mu.Lock()
	r.cmd, r.exited = cmd, exited
	r.mu.Unlock()
	go func() {
		err := cmd.Wait()
		r.mu.Lock()
		r.err = err
		r.mu.Unlock()
		close(exited)
	}()
	fail := func(err error) error {
		_ = r.kill(context.Background())
		return fmt.Errorf("%w\n%s", err, r.logs.tail(2000))
	}
	select {
	case <-rw.ready:
	case <-exited:
		return fail(fmt.Errorf("edkit-broker exited before ready: %w", r.waitErr()))
	case <-ctx.Done():
		return fail(fmt.Errorf("edkit-broker not ready: %w", ctx.Err()))
	}
	if r.ready != nil {
		if err := r.ready(ctx); err != nil {
			return fail(err)
		}
	}
	return nil
}

func (r *childRunner) waitErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// stop sends SIGTERM (and SIGCONT, in case it is paused) and waits; past
// ctx it kills.
func (r *childRunner) stop(ctx context.Context) error {
	if err := r.signal(syscall.SIGTERM); err != nil {
		return err
	}
	_ = r.signal(syscall.SIGCONT)
	r.mu.Lock()
	exited := r.exited
	r.mu.Unlock()
	select {
	case <-exited:
		if err := r.waitErr(); err != nil {
			return fmt.Errorf("edkit-broker exit: %w", err)
		}
		return nil
	case <-ctx.Done():
		_ = r.kill(context.Background())
		return fmt.Errorf("edkit-broker did not stop on SIGTERM: %w", ctx.Err())
	}
}

// kill sends SIGKILL to the process group and waits for the exit.
func (r *childRunner) kill(ctx context.Context) error {
	if err := r.signal(syscall.SIGKILL); err != nil {
		return err
	}
	r.mu.Lock()
	exited := r.exited
	r.mu.Unlock()
	select {
	case <-exited:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// signal signals the child's process group (Setpgid made the child its
// leader).
func (r *childRunner) signal(sig syscall.Signal) error {
	r.mu.Lock()
	cmd, exited := r.cmd, r.exited
	r.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return ErrNotRunning
	}
	select {
	case <-exited:
		return nil // already gone: nothing to signal
	default:
	}
	if err := syscall.Kill(-cmd.Process.Pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %v: %w", sig, err)
	}
	return nil
}

// readyWriter passes the child's stdout to the log and closes ready when a
// line reads "ready".
type readyWriter struct {
	logs  *logBuffer
	ready chan struct{}
	line  []byte
	seen  bool
}

func (w *readyWriter) Write(p []byte) (int, error) {
	if !w.seen {
		for _, b := range p {
			if b != '\n' {
				w.line = append(w.line, b)
				continue
			}
			if string(bytes.TrimSpace(w.line)) == "ready" {
				w.seen = true
				close(w.ready)
				break
			}
			w.line = w.line[:0]
		}
	}
	return w.logs.Write(p)
}

// logBuffer keeps the last maxLogBytes of output; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	if over := len(l.buf) - maxLogBytes; over > 0 {
		l.buf = append([]byte(nil), l.buf[over:]...)
	}
	return len(p), nil
}

func (l *logBuffer) mark(s string) { _, _ = l.Write([]byte(s)) }

func (l *logBuffer) bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]byte(nil), l.buf...)
}

func (l *logBuffer) tail(n int) string {
	b := l.bytes()
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// brokerBinary finds edkit-broker: the provider's option, then
// $EDKIT_BROKER_BIN, then a binary named edkit-broker beside this
// executable, and last a `go build` of cmd/edkit-broker from this source
// tree, cached for the process.
func (p *Provider) brokerBinary(ctx context.Context) (string, error) {
	if p.brokerBin != "" {
		return p.brokerBin, nil
	}
	if b := os.Getenv(BrokerBinaryEnv); b != "" {
		return b, nil
	}
	if exe, err := os.Executable(); err == nil {
		sib := filepath.Join(filepath.Dir(exe), "edkit-broker")
		if fi, err := os.Stat(sib); err == nil && fi.Mode().IsRegular() {
			return sib, nil
		}
	}
	return builtBroker(ctx)
}

// built caches the process's one build of edkit-broker.
var built struct {
	mu   sync.Mutex
	path string
}

// builtBroker builds cmd/edkit-broker once per process into the user cache
// dir (a fixed path, replaced atomically, so repeated test runs leave no
// temp dirs behind and concurrent builds never expose a half-written file).
func builtBroker(ctx context.Context) (string, error) {
	built.mu.Lock()
	defer built.mu.Unlock()
	if built.path != "" {
		return built.path, nil
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("%w: cannot locate edkit's source; set %s", ErrBrokerBinary, BrokerBinaryEnv)
	}
	root := filepath.Join(filepath.Dir(file), "..", "..", "..")
	if _, err := os.Stat(filepath.Join(root, "cmd", "edkit-broker", "main.go")); err != nil {
		return "", fmt.Errorf("%w: no source at %s; set %s: %w", ErrBrokerBinary, root, BrokerBinaryEnv, err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "edkit")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("%w: %w", ErrBrokerBinary, err)
	}
	out := filepath.Join(dir, "edkit-broker")
	tmp := out + ".tmp-" + strconv.Itoa(os.Getpid())
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", tmp, "./cmd/edkit-broker") //nolint:gosec // builds edkit's own package into our cache dir
	cmd.Dir = root
	if msg, err := cmd.CombinedOutput(); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("%w: go build: %w\n%s", ErrBrokerBinary, err, msg)
	}
	if err := atomicfile.Rename(tmp, out); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("%w: %w", ErrBrokerBinary, err)
	}
	built.path = out
	return out, nil
}
