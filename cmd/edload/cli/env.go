package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/harness/env/container"
	"github.com/edkit-dev/edkit/harness/env/external"
	"github.com/edkit-dev/edkit/harness/env/ownership"
	"github.com/edkit-dev/edkit/reference/atomicfile"
	"github.com/edkit-dev/edkit/reports"
)

// envState is what `env up` leaves behind for `env down`: the daemon that
// holds the environment, and the endpoints it handed out. The file holds
// full URLs (credentials included) for tools on this machine, so it is
// written 0600; the terminal only ever sees redacted endpoints.
type envState struct {
	PID int `json:"pid"`
	// Owner identifies the daemon beyond its PID: env down signals it only
	// after checking that the PID still names this process.
	Owner      ownership.ID     `json:"owner"`
	Status     string           `json:"status"` // starting, ready, failed
	Error      string           `json:"error,omitempty"`
	Spec       string           `json:"spec"`
	Components []stateComponent `json:"components,omitempty"`
}

type stateComponent struct {
	Name     string   `json:"name"`
	Kind     string   `json:"kind"`
	Provider string   `json:"provider"`
	Addrs    []string `json:"addrs,omitempty"`
	URL      string   `json:"url,omitempty"`
	Redacted string   `json:"redacted"`
	// StartupMS is how long the component took to answer its protocol.
	StartupNS int64 `json:"startup_ns"`
}

const defaultStateFile = ".edkit/env.json"

func newEnvCmd(stdout, stderr io.Writer) *cobra.Command {
	var state string
	cmd := &cobra.Command{
		Use:   "env",
		Short: "Start brokers for manual work and stop them again",
		Long: `env up starts the components a spec names (Kafka, RabbitMQ, Redis, NATS,
PostgreSQL, each embedded, as a local process, in a container or external),
waits until each answers its protocol, prints the endpoints and returns,
leaving them running in a background edload process. env down stops and
removes everything env up started.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			fmt.Fprintln(stderr, c.UsageString())
			return &usageError{errors.New("env needs a subcommand: up or down")}
		},
	}
	cmd.PersistentFlags().StringVar(&state, "state", defaultStateFile, "file recording the running environment")
	var allow []string
	cmd.PersistentFlags().StringSliceVar(&allow, "allow-remote", nil,
		"hosts off this machine an external component may name (host, host:port or CIDR; loopback needs none)")

	var timeout time.Duration
	up := &cobra.Command{
		Use:     "up SPEC",
		Short:   "Start the components of SPEC in the background and print their endpoints",
		Example: "  edload env up harness/env/testdata/all.yaml\n  edload env down",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &usageError{fmt.Errorf("env up takes one spec file, got %d arguments", len(args))}
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			return envUp(c.Context(), args[0], state, allow, timeout, stdout)
		},
	}
	up.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "how long the components may take to be ready")

	down := &cobra.Command{
		Use:   "down",
		Short: "Stop and remove everything env up started",
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return envDown(c.Context(), state, stdout)
		},
	}
	clean := &cobra.Command{
		Use:   "clean",
		Short: "Remove what a killed edload left behind: state, temp dirs, containers",
		Long: `clean removes the leftovers of edload processes that died without cleaning
up (SIGKILL, a crash, a failed env up): the state files of a daemon that no
longer holds its lock, edkit's temporary directories whose recorded owner
is gone, and edkit's containers whose owner process is gone. Anything whose
owner still runs, or that edkit cannot prove it made, is left alone.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return envClean(c.Context(), state, stdout)
		},
	}
	serve := &cobra.Command{
		Use:    "serve SPEC",
		Short:  "Hold an environment until SIGTERM (started by env up)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return envServe(args[0], state, allow)
		},
	}
	cmd.AddCommand(up, down, clean, serve)
	return cmd
}

func noArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return &usageError{fmt.Errorf("%s takes no arguments, got %q", c.CommandPath(), args)}
	}
	return nil
}

func readState(path string) (*envState, error) {
	b, err := os.ReadFile(path) //nolint:gosec // the state file edload itself wrote, at the path the user chose
	if err != nil {
		return nil, err
	}
	var s envState
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	return &s, nil
}

func writeState(path string, s *envState) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, b, 0o600)
}

// lockPath is the lock the daemon holds for its life, beside the state:
// whether a daemon runs is asked of it, not of a PID that may be reused.
func lockPath(statePath string) string { return statePath + ".lock" }

// daemonUp reports whether a daemon holds the lock of statePath.
func daemonUp(statePath string) (bool, error) {
	up, err := ownership.Held(lockPath(statePath))
	if err != nil {
		return false, &usageError{fmt.Errorf("--state: %w", err)}
	}
	return up, nil
}

func envUp(ctx context.Context, specPath, statePath string, allow []string, timeout time.Duration, stdout io.Writer) error {
	spec, err := env.LoadSpec(specPath)
	if err != nil {
		return &inputError{err}
	}
	if err := env.Check(spec, providers(external.Allow(allow...))...); err != nil {
		return &inputError{err}
	}
	if up, err := daemonUp(statePath); err != nil || up {
		if err != nil {
			return err
		}
		return &usageError{fmt.Errorf("an environment is already up (state %s); run 'edload env down' first", statePath)}
	}
	if err := os.MkdirAll(filepath.Dir(statePath), 0o750); err != nil {
		return &usageError{fmt.Errorf("--state: %w", err)}
	}
	_ = os.Remove(statePath) // a stale file from a daemon that died
	self, err := os.Executable()
	if err != nil {
		return err
	}
	logPath := statePath + ".log"
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600) //nolint:gosec // beside the state file
	if err != nil {
		return err
	}
	// The daemon holds its own descriptor; ours only had to hand it over.
	defer func() { _ = logf.Close() }()
	abs, err := filepath.Abs(specPath)
	if err != nil {
		return err
	}
	// The daemon must outlive this command: its own session, no context
	// tying it to ours.
	args := []string{"env", "serve", abs, "--state", statePath}
	for _, a := range allow {
		args = append(args, "--allow-remote", a)
	}
	daemon := exec.Command(self, args...) //nolint:gosec,noctx // our own binary, detached on purpose
	daemon.Stdout, daemon.Stderr = logf, logf
	daemon.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := daemon.Start(); err != nil {
		return &envError{err}
	}
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = daemon.Wait(); close(exited) }()
	deadline := time.After(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			_ = daemon.Process.Signal(syscall.SIGTERM)
			<-exited // the daemon cleans up on SIGTERM
			return ctx.Err()
		case <-exited:
			s, rerr := readState(statePath)
			if rerr == nil && s.Error != "" {
				return &envError{errors.New(s.Error)}
			}
			return &envError{fmt.Errorf("the environment daemon exited (%w); see %s", waitErr, logPath)}
		case <-deadline:
			_ = daemon.Process.Signal(syscall.SIGTERM)
			<-exited
			return &envError{fmt.Errorf("not ready within %v; see %s", timeout, logPath)}
		case <-tick.C:
		}
		s, err := readState(statePath)
		if err != nil || s.Status != "ready" {
			continue
		}
		fmt.Fprintf(stdout, "environment up (pid %d, state %s):\n", s.PID, statePath)
		for _, c := range s.Components {
			fmt.Fprintf(stdout, "  %-12s %-9s %-9s %-7s %s\n", reports.Clean(c.Name), reports.Clean(c.Kind), reports.Clean(c.Provider),
				time.Duration(c.StartupNS).Round(100*time.Microsecond).String(), reports.Clean(c.Redacted))
		}
		fmt.Fprintln(stdout, "run 'edload env down' to stop and remove it")
		return nil
	}
}

// envServe is the daemon: start, publish endpoints, hold until SIGTERM,
// then close everything and remove the state file.
func envServe(specPath, statePath string, allow []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	spec, err := env.LoadSpec(specPath)
	if err != nil {
		return err
	}
	lock, err := ownership.Acquire(lockPath(statePath))
	if err != nil {
		return err
	}
	defer func() { _ = lock.Release() }()
	self, err := ownership.Self()
	if err != nil {
		return err
	}
	st := &envState{PID: self.PID, Owner: self, Status: "starting", Spec: specPath}
	if err := writeState(statePath, st); err != nil {
		return err
	}
	var mu sync.Mutex
	took := map[string]time.Duration{}
	opts := append(providers(external.Allow(allow...)), env.OnReady(func(name string, d time.Duration) {
		mu.Lock()
		took[name] = d
		mu.Unlock()
	}))
	e, err := env.Start(ctx, spec, opts...)
	if err != nil {
		st.Status, st.Error = "failed", err.Error()
		_ = writeState(statePath, st)
		return err
	}
	for _, c := range e.Components() {
		ep := c.Endpoint()
		st.Components = append(st.Components, stateComponent{Name: c.Name(), Kind: string(c.Kind()),
			Provider: string(c.Provider()), Addrs: ep.Addrs, URL: ep.URL, Redacted: ep.Redacted(),
			StartupNS: took[c.Name()].Nanoseconds()})
	}
	st.Status = "ready"
	if err := writeState(statePath, st); err != nil {
		return errors.Join(err, e.Close())
	}
	<-ctx.Done()
	cerr := e.Close()
	for _, p := range []string{statePath, lockPath(statePath)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			cerr = errors.Join(cerr, err)
		}
	}
	return cerr
}

// envClean removes what dead edload processes left: see the clean
// command's help.
func envClean(ctx context.Context, statePath string, stdout io.Writer) error {
	up, err := daemonUp(statePath)
	if err != nil {
		return err
	}
	if !up {
		for _, p := range []string{statePath, statePath + ".log", lockPath(statePath)} {
			if err := os.Remove(p); err == nil {
				fmt.Fprintf(stdout, "removed %s\n", p)
			} else if !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	dirs, derr := ownership.Sweep("")
	for _, d := range dirs {
		fmt.Fprintf(stdout, "removed %s\n", d)
	}
	n, cerr := container.New().Sweep(ctx)
	if n > 0 {
		fmt.Fprintf(stdout, "removed %d container(s)\n", n)
	}
	if err := errors.Join(derr, cerr); err != nil {
		return err
	}
	if up {
		fmt.Fprintf(stdout, "an environment is still up (state %s): 'edload env down' stops it\n", statePath)
	}
	return nil
}

func envDown(ctx context.Context, statePath string, stdout io.Writer) error {
	s, err := readState(statePath)
	if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintln(stdout, "no environment is up")
		return nil
	}
	if err != nil {
		return &inputError{err}
	}
	up, err := daemonUp(statePath)
	if err != nil {
		return err
	}
	if !up {
		// No daemon holds the lock: whatever process has its PID now is
		// not ours, and nothing is signalled.
		_ = os.Remove(statePath)
		_ = os.Remove(lockPath(statePath))
		fmt.Fprintf(stdout, "the environment daemon (pid %d) was already gone; removed %s\n", s.PID, statePath)
		return nil
	}
	p, err := ownership.Open(s.Owner)
	if err != nil {
		return &inputError{fmt.Errorf("%s: %w; not signalling it. A daemon holds %s but the state does not identify it: find it with 'fuser %[3]s' and stop it yourself",
			statePath, err, lockPath(statePath))}
	}
	defer func() { _ = p.Release() }()
	if err := p.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if up, err := daemonUp(statePath); err != nil || !up {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("environment daemon %d did not stop within 2 minutes", s.PID)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	fmt.Fprintf(stdout, "environment down: %d components stopped and removed\n", len(s.Components))
	return nil
}
