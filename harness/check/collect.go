package check

import (
	"fmt"
	"sort"
	"time"
)

// DefaultMaxAnomalies is how many anomalies a checker lists when its options
// leave MaxAnomalies zero: enough to diagnose, few enough that a badly broken
// run's report stays readable. Every anomaly is still counted in the Note.
const DefaultMaxAnomalies = 20

// collector keeps the earliest max anomalies and counts them all.
type collector struct {
	max   int
	total int
	list  []Anomaly
	// tags identify listed anomalies for callers that fill in witnesses
	// later; parallel to list.
	tags []int
}

func newCollector(max int) *collector {
	if max <= 0 {
		max = DefaultMaxAnomalies
	}
	return &collector{max: max}
}

// wants reports whether an anomaly at time at would be listed, so callers
// can skip building witnesses that would be dropped. It counts the anomaly.
func (c *collector) wants(at time.Duration) bool {
	c.total++
	if len(c.list) < c.max {
		return true
	}
	return at < c.list[c.latest()].At
}

func (c *collector) latest() int {
	j := 0
	for i := range c.list {
		if c.list[i].At > c.list[j].At {
			j = i
		}
	}
	return j
}

// add lists a, replacing the latest listed anomaly when full. Call it only
// after wants returned true.
func (c *collector) add(a Anomaly) { c.addTagged(a, -1) }

// addTagged is add with a tag the caller can find the anomaly by.
func (c *collector) addTagged(a Anomaly, tag int) {
	if len(c.list) < c.max {
		c.list = append(c.list, a)
		c.tags = append(c.tags, tag)
		return
	}
	j := c.latest()
	c.list[j], c.tags[j] = a, tag
}

// anomalies sorts the listed anomalies (and their tags) into time order
// and returns them.
func (c *collector) anomalies() []Anomaly {
	sort.Stable(byAt{c})
	return c.list
}

type byAt struct{ c *collector }

func (b byAt) Len() int           { return len(b.c.list) }
func (b byAt) Less(i, j int) bool { return b.c.list[i].At < b.c.list[j].At }
func (b byAt) Swap(i, j int) {
	b.c.list[i], b.c.list[j] = b.c.list[j], b.c.list[i]
	b.c.tags[i], b.c.tags[j] = b.c.tags[j], b.c.tags[i]
}

// note says how many anomalies there were, and how many are not listed.
func (c *collector) note() string {
	switch {
	case c.total == 0:
		return ""
	case c.total > len(c.list):
		return fmt.Sprintf("%d anomalies, %d not listed", c.total, c.total-len(c.list))
	case c.total == 1:
		return "1 anomaly"
	}
	return fmt.Sprintf("%d anomalies", c.total)
}

// result builds a Result: valid when no anomaly was found, or when they
// were found but permitted by the guarantee profile.
func (c *collector) result(inv string, checked int, permitted bool, extra string) Result {
	r := Result{
		Invariant: inv,
		Valid:     c.total == 0 || permitted,
		Checked:   checked,
		Permitted: c.total > 0 && permitted,
		Anomalies: c.anomalies(),
		Found:     c.total,
		Note:      joinNote(c.note(), extra),
	}
	return r
}

func joinNote(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}
