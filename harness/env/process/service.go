package process

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/edkit-dev/edkit/harness/env"
)

// KindService is the Kind of a user's service started by StartService. It
// is not one of env.Kinds(): a spec cannot ask a provider for one, the
// program under test is handed to StartService directly.
const KindService env.Kind = "service"

// serviceGrace is how long a service without a ReadyLog must stay alive
// after it started to count as ready: long enough to catch one that fails
// at once on a bad flag or a missing file.
const serviceGrace = 100 * time.Millisecond

// ServiceSpec asks for one user service: any program, such as the
// microservice under test, run as an owned child process so black-box runs
// start it beside the brokers and chaos can kill, pause and restart it.
type ServiceSpec struct {
	// Name is the component's name; empty is the base name of Command[0].
	Name string
	// Command is the argv. Command[0] is looked up on PATH when it has no
	// slash; a relative path is taken from the current directory.
	Command []string
	// Env is added to the child's base environment (PATH, HOME and TMPDIR
	// set to the instance's temp dir, a UTF-8 locale) and wins over it;
	// nothing else leaks in from ours, so runs are reproducible.
	Env map[string]string
	// Dir is the working directory; empty is the instance's temp dir.
	Dir string
	// ReadyLog, when set, makes the service ready once its combined
	// stdout and stderr contain it (like testcontainers' wait.ForLog).
	// Empty: ready once it has stayed alive for a short grace (100 ms).
	ReadyLog string
	// ReadyTimeout bounds the wait for readiness on Start and Restart;
	// zero is the provider's (WithReadyTimeout).
	ReadyTimeout time.Duration
}

// StartService starts spec's program in a fresh temp dir, as the user
// running edkit, and returns once it is ready. ctx bounds only the start:
// the service runs until Stop, Kill or Close, and dies with this process.
// A bad spec wraps env.ErrBadSpec and leaves nothing behind; a service
// that exits before it is ready wraps ErrExited and carries its output.
func (p *Provider) StartService(ctx context.Context, spec ServiceSpec) (*Instance, error) {
	srv, err := spec.server()
	if err != nil {
		return nil, err
	}
	name := spec.name()
	in := &Instance{p: p, name: name, kind: KindService, srv: srv,
		spec: env.ComponentSpec{Name: name, Kind: KindService, Provider: env.Process}}
	if err := in.create(ctx); err != nil {
		return nil, err
	}
	return in, nil
}

func (s ServiceSpec) name() string {
	if s.Name != "" {
		return s.Name
	}
	if len(s.Command) == 0 {
		return "service"
	}
	return filepath.Base(s.Command[0])
}

// server checks the spec, reporting every problem at once before anything
// is made, and resolves its paths: a later chdir of ours must not move
// the program or its working directory between restarts.
func (s ServiceSpec) server() (*serviceServer, error) {
	srv := &serviceServer{env: maps.Clone(s.Env), timeout: s.ReadyTimeout, readyLog: s.ReadyLog}
	var errs []error
	if len(s.Command) == 0 || s.Command[0] == "" {
		errs = append(errs, errors.New("empty Command"))
	} else if p, err := exec.LookPath(s.Command[0]); err != nil {
		errs = append(errs, fmt.Errorf("command: %w", err))
	} else if srv.path, err = filepath.Abs(p); err != nil {
		errs = append(errs, fmt.Errorf("command: %w", err))
	} else {
		srv.args = slices.Clone(s.Command[1:])
	}
	if s.Dir != "" {
		if st, err := os.Stat(s.Dir); err != nil {
			errs = append(errs, fmt.Errorf("dir: %w", err))
		} else if !st.IsDir() {
			errs = append(errs, fmt.Errorf("dir: %s is not a directory", s.Dir))
		} else if srv.dir, err = filepath.Abs(s.Dir); err != nil {
			errs = append(errs, fmt.Errorf("dir: %w", err))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(s.Env)) {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			errs = append(errs, fmt.Errorf("env: bad variable name %q", k))
		}
	}
	if s.ReadyTimeout < 0 {
		errs = append(errs, fmt.Errorf("negative ReadyTimeout %v", s.ReadyTimeout))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("process: service %s: %w: %w", s.name(), env.ErrBadSpec, err)
	}
	return srv, nil
}

// serviceServer runs a user's program. Unlike the brokers it needs no
// config, ports or system user; readiness is a line in its output.
type serviceServer struct {
	path     string
	args     []string
	env      map[string]string
	dir      string
	timeout  time.Duration
	readyLog string

	cmdEnv  []string  // base environment plus env, set by prepare
	scan    logScan   // finds readyLog in the output of the current run
	started time.Time // when the current run began
}

var _ server = (*serviceServer)(nil)

// users is none: the service runs as whoever runs edkit, root included,
// since it is the user's own program.
func (s *serviceServer) users() []string { return nil }

func (s *serviceServer) prepare(_ context.Context, st *setup) error {
	s.cmdEnv = slices.Clone(st.env)
	// Later entries win in os/exec, so Env overrides the base.
	for _, k := range slices.Sorted(maps.Keys(s.env)) {
		s.cmdEnv = append(s.cmdEnv, k+"="+s.env[k])
	}
	s.scan = logScan{path: st.log, want: []byte(s.readyLog)}
	return nil
}

// command also marks where this run's output begins: the log is appended
// to across restarts, and a Restart must wait for the new run's ReadyLog,
// not find the old one.
func (s *serviceServer) command() *exec.Cmd {
	s.scan.fromEnd()
	s.started = time.Now()
	//nolint:gosec,noctx // G204: running the user's program is the point; it outlives any call's ctx and is ended by signal.
	cmd := exec.Command(s.path, s.args...)
	cmd.Env = s.cmdEnv
	cmd.Dir = s.dir
	return cmd
}

func (s *serviceServer) stopSignal() syscall.Signal { return syscall.SIGTERM }

func (s *serviceServer) probe(_ context.Context) error {
	if s.readyLog == "" {
		if time.Since(s.started) < serviceGrace {
			return fmt.Errorf("alive for less than %v", serviceGrace)
		}
		return nil
	}
	seen, err := s.scan.seen()
	if err != nil {
		return err
	}
	if !seen {
		return fmt.Errorf("ReadyLog %q not in its output yet", s.readyLog)
	}
	return nil
}

func (s *serviceServer) readyTimeout() time.Duration { return s.timeout }

// endpoint is empty: the service is a client of the brokers, not a server
// edkit knows the address of.
func (s *serviceServer) endpoint() env.Endpoint { return env.Endpoint{} }

func (s *serviceServer) sidecars() []*exec.Cmd { return nil }

// logScan finds want in a log that only grows, reading each byte once: it
// remembers how far it has read and keeps only the last len(want)-1 bytes,
// the most of a match that can straddle two reads. A chatty service thus
// costs each probe only its new output.
type logScan struct {
	path string
	want []byte
	off  int64
	keep []byte
	buf  []byte
}

// fromEnd starts the scan at the log's current end.
func (l *logScan) fromEnd() {
	l.off, l.keep = 0, nil
	if st, err := os.Stat(l.path); err == nil {
		l.off = st.Size()
	}
}

// seen reads what was appended since the last call and reports whether
// want has appeared.
func (l *logScan) seen() (bool, error) {
	f, err := os.Open(l.path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer func() { _ = f.Close() }()
	if l.buf == nil {
		l.buf = make([]byte, 32<<10)
	}
	for {
		n, err := f.ReadAt(l.buf, l.off)
		if n > 0 {
			l.off += int64(n)
			win := append(l.keep, l.buf[:n]...)
			if bytes.Contains(win, l.want) {
				return true, nil
			}
			l.keep = bytes.Clone(win[max(0, len(win)-(len(l.want)-1)):])
		}
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
}
