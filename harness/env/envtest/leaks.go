package envtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Proc is one live process found by Children.
type Proc struct {
	PID, PPID int
	// Cmdline is the command line, arguments joined by spaces. Servers
	// may rewrite it (redis-server shows only its address).
	Cmdline string
	// Cwd is the working directory, when readable: a process provider
	// starts servers in their temp dir.
	Cwd string
}

// Mentions reports whether the process's command line or working
// directory contains s (a temp dir, a marker).
func (p Proc) Mentions(s string) bool {
	return strings.Contains(p.Cmdline, s) || strings.Contains(p.Cwd, s)
}

func (p Proc) String() string {
	return fmt.Sprintf("pid %d (parent %d, cwd %s): %s", p.PID, p.PPID, p.Cwd, p.Cmdline)
}

// TempDirMarker is what every edkit provider's temp dir name contains;
// a process whose command line or working directory mentions it was
// started by edkit.
const TempDirMarker = "/edkit-"

// Children lists the live processes edkit is responsible for: every
// descendant of this process, and every orphan (reparented to PID 1) whose
// command line or working directory mentions an edkit temp dir — what a server that escaped its
// owner looks like. Another run's servers still owned by their test binary
// are not listed, so concurrent test runs do not see each other's.
// Zombies are dead and not listed.
func Children() ([]Proc, error) {
	all, err := readProcs()
	if err != nil {
		return nil, err
	}
	self := os.Getpid()
	var out []Proc
	for _, p := range all {
		if p.PID == self {
			continue
		}
		if descends(p.PID, self, all) || (p.PPID == 1 && p.Mentions(TempDirMarker)) {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	return out, nil
}

// Processes lists every live process on the machine, for tests that look
// for a specific server by its command line.
func Processes() ([]Proc, error) {
	all, err := readProcs()
	if err != nil {
		return nil, err
	}
	out := make([]Proc, 0, len(all))
	for _, p := range all {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	return out, nil
}

// CountChildren is len(Children()), or -1 when /proc cannot be read.
func CountChildren() int {
	ps, err := Children()
	if err != nil {
		return -1
	}
	return len(ps)
}

// descends reports whether pid's parent chain reaches ancestor.
func descends(pid, ancestor int, all map[int]Proc) bool {
	for hops := 0; hops < 64; hops++ {
		p, ok := all[pid]
		if !ok || p.PPID == 0 {
			return false
		}
		if p.PPID == ancestor {
			return true
		}
		pid = p.PPID
	}
	return false
}

// readProcs reads every live (non-zombie) process from /proc.
func readProcs() (map[int]Proc, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("envtest: %w", err)
	}
	out := map[int]Proc{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // exited meanwhile
		}
		// The command name is in parentheses and may hold spaces; the
		// fields after the last ')' are state, ppid, ...
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 2 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		cmd, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		cwd, _ := os.Readlink("/proc/" + e.Name() + "/cwd")
		out[pid] = Proc{PID: pid, PPID: ppid, Cwd: cwd, Cmdline: strings.TrimSpace(string(bytes.ReplaceAll(cmd, []byte{0}, []byte{' '})))}
	}
	return out, nil
}

// Leaked lists the processes in Children that were not in before, waiting
// up to grace for exiting ones (a server's helpers finishing their
// shutdown) to go.
func Leaked(ctx context.Context, before []Proc, grace time.Duration) ([]Proc, error) {
	had := map[int]bool{}
	for _, p := range before {
		had[p.PID] = true
	}
	ctx, cancel := context.WithTimeout(ctx, grace)
	defer cancel()
	for {
		now, err := Children()
		if err != nil {
			return nil, err
		}
		var leaked []Proc
		for _, p := range now {
			if !had[p.PID] {
				leaked = append(leaked, p)
			}
		}
		if len(leaked) == 0 {
			return nil, nil
		}
		select {
		case <-ctx.Done():
			return leaked, nil
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// CheckNoLeaks runs the tests and then fails the run (exit code 1) if any
// process edkit started during them is still alive, listing each. Use it
// as the whole TestMain.
func CheckNoLeaks(m *testing.M) {
	os.Exit(checkNoLeaks(m, os.Stderr, 5*time.Second))
}

func checkNoLeaks(m interface{ Run() int }, w io.Writer, grace time.Duration) int {
	before, err := Children()
	if err != nil {
		fmt.Fprintln(w, "envtest: cannot list processes, leak check off:", err)
		return m.Run()
	}
	code := m.Run()
	leaked, err := Leaked(context.Background(), before, grace)
	if err != nil {
		fmt.Fprintln(w, "envtest: leak check failed:", err)
		return 1
	}
	if len(leaked) > 0 {
		fmt.Fprintf(w, "envtest: %d process(es) edkit started are still alive after the tests:\n", len(leaked))
		for _, p := range leaked {
			fmt.Fprintln(w, "  ", p)
		}
		if code == 0 {
			code = 1
		}
	}
	return code
}
