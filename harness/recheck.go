package harness

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/edkit-dev/edkit/harness/check"
	"github.com/edkit-dev/edkit/harness/history"
	"github.com/edkit-dev/edkit/reports"
)

// RecheckOptions adjust a re-judgement.
type RecheckOptions struct {
	// Profile, when set, judges under another guarantee profile than the
	// run's (what if duplicates were not permitted?).
	Profile *Profile
	// System, when it is the run's system, adds its own history checkers
	// (HistoryCheckers), as the run did.
	System System
	// TempDir holds the checkers' partition files (default the run
	// directory).
	TempDir string
}

// Recheck judges again the history a run left in dir (Options.Out), the
// way the run judged it (its checks.json) or under another profile, and
// returns the run's report with the history's verdicts replaced. The
// system's final-state verdicts and the run's thresholds cannot be
// re-measured from a history: they are kept as the run recorded them. The
// report's OK then gives the same exit code as the run, unless the history
// (or the profile) says otherwise.
func Recheck(dir string, o RecheckOptions) (*reports.Run, error) {
	c, err := ReadChecks(dir)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, reports.JSONFile)
	f, err := os.Open(path) // #nosec G304 -- the user's run directory
	if err != nil {
		return nil, err
	}
	rep, err := reports.ReadJSON(f, path)
	if err = errors.Join(err, f.Close()); err != nil {
		return nil, err
	}
	if o.Profile != nil {
		c.Profile = *o.Profile
		setConfig(rep, "guarantee profile", c.Profile.Name)
	}
	var sys System
	if o.System != nil && o.System.Name() == c.System {
		sys = o.System
	}
	tmp := o.TempDir
	if tmp == "" {
		tmp = dir
	}
	results, err := judgeHistory(filepath.Join(dir, history.FileName), tmp, c, sys)
	if err != nil {
		return nil, err
	}
	rep.Invariants = replaceResults(rep.Invariants, results)
	return rep, nil
}

// replaceResults puts fresh in place of the recorded results of the same
// invariants, keeping the rest (the final-state verdicts) after them, in
// the order a run reports them.
func replaceResults(recorded, fresh []check.Result) []check.Result {
	judged := make(map[string]bool, len(fresh))
	for _, r := range fresh {
		judged[r.Invariant] = true
	}
	out := append([]check.Result(nil), fresh...)
	for _, r := range recorded {
		if !judged[r.Invariant] {
			out = append(out, r)
		}
	}
	return out
}

func setConfig(rep *reports.Run, key, value string) {
	for i := range rep.Config {
		if rep.Config[i].Key == key {
			rep.Config[i].Value = value
			return
		}
	}
	rep.Config = append(rep.Config, reports.KV{Key: key, Value: value})
}

// String names the profile, for flags.
func (p Profile) String() string {
	return fmt.Sprintf("%s (duplicate delivery permitted: %v)", p.Name, p.DuplicateDelivery)
}
