package brokerbench

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/edkit-dev/edkit/loadgen"
)

// WriteTable prints the Result as a table, one row per client, and the
// ratio line:
//
//	edkit/bare: throughput 0.93, e2e p99 1.10
//
// (publish p99 in ProduceOnly, where nothing is consumed).
func (r Result) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "%s, %s\n", r.Target.describe(), r.Workload.describe())
	fmt.Fprintln(tw, "client\tlibrary\tproduced\tconsumed\tmsgs/s\tMB/s\tpub p50\tpub p99\te2e p50\te2e p99\te2e p999\te2e max\t")
	for _, s := range []Stats{r.Bare, r.Edkit} {
		m := r.Workload.Mode
		e2e := s.EndToEnd
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.0f\t%.2f\t%s\t%s\t%s\t%s\t%s\t%s\t\n", s.Client, s.Library, s.Produced, s.Consumed,
			s.Throughput(m), s.ThroughputMBps(m), latency(s.Publish, s.Publish.P50), latency(s.Publish, s.Publish.P99),
			latency(e2e, e2e.P50), latency(e2e, e2e.P99), latency(e2e, e2e.P999), latency(e2e, e2e.Max))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, r.RatioLine())
	return err
}

// RatioLine is "edkit/bare: throughput X, e2e p99 Y" (publish p99 in
// ProduceOnly).
func (r Result) RatioLine() string {
	which := "e2e"
	if !r.Workload.Mode.consumes() {
		which = "publish"
	}
	return fmt.Sprintf("edkit/bare: throughput %s, %s p99 %s", ratio(r.Ratio.Throughput), which, ratio(r.Ratio.P99(r.Workload.Mode)))
}

func ratio(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// latency prints d to three significant figures, or "-" when s recorded
// nothing.
func latency(s loadgen.Summary, d time.Duration) string {
	if s.Count == 0 {
		return "-"
	}
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < 10*time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	case d < 100*time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(10 * time.Millisecond).String()
}

// describe is the workload on one line.
func (w Workload) describe() string {
	rate := "max"
	if w.Rate > 0 {
		rate = strconv.FormatFloat(w.Rate, 'f', -1, 64) + "/s"
	}
	length := w.Duration.String()
	if w.Mode == ConsumeOnly {
		length = fmt.Sprintf("backlog %d", w.Backlog)
	}
	return fmt.Sprintf("%s: %d producers, %d consumers, %d B, %d partitions, batch %d, rate %s, %s",
		w.Mode, w.Producers, w.Consumers, w.MessageSize, w.Partitions, w.Batch, rate, length)
}
