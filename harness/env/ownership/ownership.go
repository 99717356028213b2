// Package ownership makes sure edkit signals only processes it started.
// A PID names a process only while it lives: once it exits the number is
// reused, and a state file that names one may be stale, edited or copied
// from another machine. So edkit records more than the number — the
// process's start time and executable (ID) — checks both before it
// signals, and signals through a handle (a pidfd on Linux) that cannot
// come to name another process between the check and the signal. A daemon
// also holds an exclusive lock on a file beside its state (Lock): the
// kernel releases it when the daemon dies, however it dies, so whether a
// daemon still runs is asked of the lock, not of a PID.
package ownership

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// ID identifies one process for its whole life.
type ID struct {
	PID int `json:"pid"`
	// Start is when the process started, in clock ticks since boot
	// (/proc/PID/stat, field 22): two processes with the same PID never
	// share it.
	Start uint64 `json:"start"`
	// Exe is the process's executable.
	Exe string `json:"exe"`
}

var (
	// ErrGone is a recorded process that no longer runs.
	ErrGone = errors.New("ownership: the process is gone")
	// ErrNotOurs is a PID that now names another process than the one
	// recorded: nothing may be sent to it.
	ErrNotOurs = errors.New("ownership: the process is not the one recorded")
)

// NotOursError says how the process found differs from the one recorded.
type NotOursError struct {
	Recorded, Found ID
}

func (e *NotOursError) Error() string {
	switch e.Recorded.Start {
	case 0:
		return fmt.Sprintf("pid %d cannot be checked: the record names no start time to tell the process edkit started from another", e.Recorded.PID)
	case e.Found.Start:
		return fmt.Sprintf("pid %d is not the process edkit recorded: it runs %s, not %s", e.Recorded.PID, e.Found.Exe, e.Recorded.Exe)
	}
	return fmt.Sprintf("pid %d is not the process edkit recorded: it started at another time", e.Recorded.PID)
}

// Is makes errors.Is(err, ErrNotOurs) hold.
func (e *NotOursError) Is(target error) bool { return target == ErrNotOurs }

// Self is the calling process's ID.
func Self() (ID, error) { return Of(os.Getpid()) }

// Of reads the ID of the process pid now names.
func Of(pid int) (ID, error) {
	if pid <= 0 {
		return ID{}, fmt.Errorf("pid %d: %w", pid, ErrGone)
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if errors.Is(err, os.ErrNotExist) {
		return ID{}, fmt.Errorf("pid %d: %w", pid, ErrGone)
	}
	if err != nil {
		return ID{}, fmt.Errorf("ownership: %w", err)
	}
	start, err := startTime(stat)
	if err != nil {
		return ID{}, fmt.Errorf("ownership: pid %d: %w", pid, err)
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil && !errors.Is(err, os.ErrPermission) {
		if errors.Is(err, os.ErrNotExist) {
			return ID{}, fmt.Errorf("pid %d: %w", pid, ErrGone)
		}
		return ID{}, fmt.Errorf("ownership: %w", err)
	}
	// A binary rebuilt while it runs still is the same process.
	return ID{PID: pid, Start: start, Exe: strings.TrimSuffix(exe, " (deleted)")}, nil
}

// startTime is field 22 of /proc/PID/stat. The command name (field 2)
// may hold spaces and parentheses, so fields are counted from its last ')'.
func startTime(stat []byte) (uint64, error) {
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat")
	}
	fields := strings.Fields(s[i+1:]) // from field 3, the state
	const starttime = 22 - 3
	if len(fields) <= starttime {
		return 0, errors.New("malformed /proc stat")
	}
	return strconv.ParseUint(fields[starttime], 10, 64)
}

// Open returns a handle on the process id records, after checking that
// its PID still names that process: the same start time and executable.
// The handle is taken before the check, so a signal sent through it
// reaches the process checked or, if that one exited since, nothing.
func Open(id ID) (*os.Process, error) {
	p, err := os.FindProcess(id.PID)
	if err != nil {
		return nil, fmt.Errorf("pid %d: %w", id.PID, ErrGone)
	}
	found, err := Of(id.PID)
	if err != nil {
		_ = p.Release()
		return nil, err
	}
	if id.Start == 0 || found.Start != id.Start || found.Exe != id.Exe {
		_ = p.Release()
		return nil, &NotOursError{Recorded: id, Found: found}
	}
	return p, nil
}

// Lock is an exclusive advisory lock on a file, held for a daemon's life.
type Lock struct{ f *os.File }

// ErrLocked is a lock another process holds.
var ErrLocked = errors.New("ownership: locked by another process")

// Acquire takes the lock at path (creating the file 0600), without
// waiting: ErrLocked when another process holds it.
func Acquire(path string) (*Lock, error) { return acquire(path, os.O_CREATE) }

func acquire(path string, create int) (*Lock, error) {
	f, err := os.OpenFile(path, create|os.O_RDWR|syscall.O_NOFOLLOW, 0o600) //nolint:gosec // the caller's own state path
	if err != nil {
		return nil, fmt.Errorf("ownership: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", path, ErrLocked)
		}
		return nil, fmt.Errorf("ownership: lock %s: %w", path, err)
	}
	return &Lock{f: f}, nil
}

// Held reports whether a live process holds the lock at path. It takes
// and drops the lock to ask, so it is for a process that does not hold it;
// a missing file is a lock nobody holds, and asking does not create it.
func Held(path string) (bool, error) {
	l, err := acquire(path, 0)
	switch {
	case errors.Is(err, ErrLocked):
		return true, nil
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	case err != nil:
		return false, err
	}
	return false, l.Release()
}

// Release drops the lock; the kernel drops it too when the process dies.
// It is idempotent.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	f := l.f
	l.f = nil
	return f.Close()
}
