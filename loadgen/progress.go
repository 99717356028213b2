package loadgen

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"
)

// Snapshot is the state of a run in flight, handed to a Progress.
type Snapshot struct {
	// Elapsed is the time since the schedule started; Total is Config.Duration.
	Elapsed, Total time.Duration
	// Sent, OK and Errors count requests as in Result.
	Sent, OK, Errors uint64
	// Rate is Sent / Elapsed per second.
	Rate float64
	// P99 is the 99th percentile latency so far.
	P99 time.Duration
}

// String renders the snapshot as the plain progress line, e.g.
// "12.0s/20s sent=2400 ok=2398 err=0 rate=200.1/s p99=3.2ms".
func (s Snapshot) String() string {
	return fmt.Sprintf("%.1fs/%v sent=%d ok=%d err=%d rate=%.1f/s p99=%s",
		s.Elapsed.Seconds(), s.Total, s.Sent, s.OK, s.Errors, s.Rate, shortDur(s.P99))
}

// Progress receives snapshots while a run is in flight. Run calls Update
// from one goroutine at a time, then Finish exactly once with the final
// snapshot after the last Update has returned; Finish must release anything
// the Progress started (goroutines, terminal state).
type Progress interface {
	Update(s Snapshot)
	Finish(s Snapshot)
}

// WithTerminalProgress shows progress on f: an mpb progress bar refreshed
// every 200 ms when f is a terminal, and otherwise a LogProgress line every
// 2 s (CI logs should not fill with carriage returns).
func WithTerminalProgress(f *os.File) Option {
	return func(o *runOpts) {
		o.progressF = func(total time.Duration) (Progress, time.Duration) {
			if term.IsTerminal(int(f.Fd())) {
				return NewBarProgress(f, total), 200 * time.Millisecond
			}
			return NewLogProgress(f), 2 * time.Second
		}
	}
}

// LogProgress writes one plain line per snapshot, prefixed "edload: ".
type LogProgress struct {
	mu sync.Mutex
	w  io.Writer
}

var _ Progress = (*LogProgress)(nil)

// NewLogProgress writes progress lines to w.
func NewLogProgress(w io.Writer) *LogProgress { return &LogProgress{w: w} }

// Update writes s as one line.
func (l *LogProgress) Update(s Snapshot) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "edload: %s\n", s)
}

// Finish writes the final line, marked "done".
func (l *LogProgress) Finish(s Snapshot) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "edload: done %s\n", s)
}

// BarProgress draws an mpb progress bar of elapsed over total time with the
// run's counters beside it.
type BarProgress struct {
	p     *mpb.Progress
	bar   *mpb.Bar
	total time.Duration
	last  atomic.Pointer[Snapshot]
	once  sync.Once
}

var _ Progress = (*BarProgress)(nil)

// NewBarProgress starts a bar on w for a run of the given total duration.
// It renders to w even when w is not a terminal (the caller chose a bar;
// WithTerminalProgress makes that choice by IsTerminal).
// It starts mpb's render goroutine, which Finish stops; always call Finish.
func NewBarProgress(w io.Writer, total time.Duration) *BarProgress {
	b := &BarProgress{total: total}
	b.last.Store(&Snapshot{Total: total})
	b.p = mpb.New(mpb.WithOutput(w), mpb.WithAutoRefresh(), mpb.WithWidth(160), mpb.WithRefreshRate(150*time.Millisecond))
	b.bar = b.p.New(max(int64(total/time.Millisecond), 1), mpb.BarStyle(), mpb.BarWidth(30),
		mpb.PrependDecorators(decor.Any(func(decor.Statistics) string {
			s := b.last.Load()
			return fmt.Sprintf("%5.1fs/%v", s.Elapsed.Seconds(), s.Total)
		}, decor.WCSyncSpaceR)),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
			s := b.last.Load()
			return fmt.Sprintf("rate=%.1f/s sent=%d acked=%d err=%d p99=%s",
				s.Rate, s.Sent, s.OK, s.Errors, shortDur(s.P99))
		})),
	)
	return b
}

// Update moves the bar to s.Elapsed; it stops one step short of the end so
// that only Finish completes the bar, with the final counters.
func (b *BarProgress) Update(s Snapshot) {
	b.last.Store(&s)
	cur := min(int64(s.Elapsed/time.Millisecond), int64(b.total/time.Millisecond)-1)
	b.bar.SetCurrent(max(cur, 0))
}

// Finish shows s, completes the bar and waits for mpb to stop. Later calls
// do nothing.
func (b *BarProgress) Finish(s Snapshot) {
	b.once.Do(func() {
		b.last.Store(&s)
		b.bar.SetTotal(-1, true)
		b.p.Wait()
	})
}

// shortDur renders d with three significant figures ("3.2ms", "215µs").
func shortDur(d time.Duration) string {
	f := float64(d)
	switch {
	case d == 0:
		return "0s"
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", int64(d))
	case f < 999.5*float64(time.Microsecond):
		return fmt.Sprintf("%.3gµs", f/float64(time.Microsecond))
	case f < 999.5*float64(time.Millisecond):
		return fmt.Sprintf("%.3gms", f/float64(time.Millisecond))
	case d < 100*time.Second:
		return fmt.Sprintf("%.3gs", d.Seconds())
	default:
		return d.Round(time.Second).String()
	}
}
