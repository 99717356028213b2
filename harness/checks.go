package harness

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/edkit-dev/edkit/harness/check"
	"github.com/edkit-dev/edkit/harness/yamlfile"
	"github.com/edkit-dev/edkit/reports"
)

// Profile is a guarantee profile: what a broker (and the run's options)
// permits by design, so that a run fails only on what its configuration
// promised. docs/guarantees.md measures each backend against its profile.
type Profile struct {
	// Name identifies the profile in reports and on the command line.
	Name string `json:"name"`
	// DuplicateDelivery permits deliveries of a message after it was acked:
	// at-least-once delivery redelivers by design, and a system's promise
	// is then no duplicate effect.
	DuplicateDelivery bool `json:"duplicate_delivery"`
}

// Guarantee profiles by name.
var (
	// AtLeastOnce is every bus backend's delivery promise: nothing lost,
	// per-key order, and duplicates permitted.
	AtLeastOnce = Profile{Name: "at-least-once", DuplicateDelivery: true}
	// ExactlyOnce permits no duplicate delivery either: for a broker with
	// idempotent producers and transactional consumption, or a run that
	// injects no redelivery.
	ExactlyOnce = Profile{Name: "exactly-once"}
)

// Profiles lists the profiles a run or `edload check --profile` can name.
func Profiles() []Profile { return []Profile{AtLeastOnce, ExactlyOnce} }

// ProfileNamed returns the profile called name.
func ProfileNamed(name string) (Profile, error) {
	var names []string
	for _, p := range Profiles() {
		if p.Name == name {
			return p, nil
		}
		names = append(names, p.Name)
	}
	return Profile{}, fmt.Errorf("unknown guarantee profile %q (want one of %s)", name, strings.Join(names, ", "))
}

// profileFor is a broker's guarantee profile: both brokers a run starts
// deliver at least once.
func profileFor(Broker) Profile { return AtLeastOnce }

// Checks is how a run's history is judged. A run writes it beside its
// history (ChecksFile), so that `edload check` (Recheck) judges the same
// history the same way later, or under another profile.
type Checks struct {
	// System names the system under test.
	System string `json:"system"`
	// Consumers are, per topic, the groups that must settle every message
	// published to it (Instance.Consumers).
	Consumers map[string][]string `json:"consumers"`
	// Profile is what the broker permits.
	Profile Profile `json:"profile"`
	// Order says whose sequence per-key order follows: "key" (one producer
	// per key), "process" or "stamp" (OrderBy).
	Order string `json:"order"`
	// Quiesced says whether the system settled before the run judged it.
	Quiesced bool `json:"quiesced"`
	// Foreign are topics the system's own processes publish to and edkit
	// only watches (Foreigner): a delivery there has no recorded publish,
	// and is no phantom for it.
	Foreign []string `json:"foreign,omitempty"`
	// Busy says the system had not settled but was still making progress
	// when the run stopped waiting: what it had not settled may have been
	// in flight, so it is reported unsettled, never lost.
	Busy bool `json:"busy,omitempty"`
}

// ChecksFile is the name of the file a run directory keeps its Checks in.
const ChecksFile = "checks.json"

// Order sources, as Checks.Order names them.
var orderNames = map[string]check.ProducerSource{
	"key": check.SingleProducer, "process": check.ProducerFromProcess, "stamp": check.ProducerFromStamp,
}

func orderName(src check.ProducerSource) string {
	for n, s := range orderNames {
		if s == src {
			return n
		}
	}
	return "key"
}

// Checkers are the built-in history checkers these Checks apply.
func (c Checks) Checkers() ([]check.Checker, error) {
	src, ok := orderNames[c.Order]
	if !ok && c.Order != "" {
		return nil, fmt.Errorf("order %q: want key, process or stamp", c.Order)
	}
	return []check.Checker{
		check.NewLoss(check.LossOptions{Groups: c.Consumers, Unsettled: c.Busy}),
		check.NewPhantom(check.PhantomOptions{Foreign: c.Foreign}),
		check.NewOrder(check.OrderOptions{PerProducer: src}),
		check.NewDuplicateDelivery(check.DuplicateDeliveryOptions{Permitted: c.Profile.DuplicateDelivery}),
		check.NewDuplicateEffect(check.DuplicateEffectOptions{}),
		check.NewDLQAccounting(check.DLQAccountingOptions{}),
	}, nil
}

// write saves c in dir.
func (c Checks) write(dir string) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, ChecksFile), append(b, '\n'), 0o644) //nolint:gosec // a report file, readable on purpose
}

// ReadChecks reads the Checks a run saved in dir. A malformed file is an
// error naming file:line:column; one above yamlfile.MaxSize (a run writes
// a few hundred bytes) is refused unread, as every input file is: a
// checks.json linked to /dev/zero once exhausted memory.
func ReadChecks(dir string) (Checks, error) {
	path := filepath.Join(dir, ChecksFile)
	b, err := yamlfile.ReadFile(path, 0)
	if err != nil {
		return Checks{}, fmt.Errorf("%s: %w", path, err)
	}
	return parseChecks(path, b)
}

func parseChecks(path string, b []byte) (Checks, error) {
	var c Checks
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Checks{}, fmt.Errorf("%s: %w", reports.JSONPosition(path, b, err), err)
	}
	if _, err := c.Checkers(); err != nil {
		return Checks{}, fmt.Errorf("%s: %w", path, err)
	}
	for topic, groups := range c.Consumers {
		if topic == "" || len(groups) == 0 {
			return Checks{}, fmt.Errorf("%s: consumers: topic %q needs a name and at least one group", path, topic)
		}
	}
	return c, nil
}
