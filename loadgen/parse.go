package loadgen

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MaxSpecLen bounds the text ParseKeys and ParseRate read, so that the work
// and memory they spend on any input, a flag or a line of a workload file,
// is bounded too. A steps schedule of a few hundred steps fits.
const MaxSpecLen = 4096

const (
	keysSyntax = "uniform, zipf:SKEW, hot:FRACTION/KEYS or seq:LENGTH"
	rateSyntax = "RATE, ramp:FROM-TO/DURATION or steps:RATE/DURATION,..."
)

// ParseKeys reads a key distribution as the CLI spells it:
//
//	uniform      every key equally
//	zipf:1.2     Zipf with skew 1.2 (KeySpec.Skew)
//	hot:0.9/10   90% of requests to the first 10 keys, the rest to the others
//	seq:4        runs of 4 operations per key (create, update, update, close)
//
// An error names the part that is wrong and wraps ErrBadSpec for text that
// does not parse or ErrBadKeyDist for a value out of range; the caller
// prefixes the flag or field name. Whether HotKeys fits the key space is
// checked by NewKeyDist, which knows it.
func ParseKeys(s string) (KeySpec, error) {
	if len(s) > MaxSpecLen {
		return KeySpec{}, fmt.Errorf("key distribution is %d bytes long (max %d): %w", len(s), MaxSpecLen, ErrBadSpec)
	}
	s = strings.TrimSpace(s)
	kind, arg, hasArg := strings.Cut(s, ":")
	var spec KeySpec
	var errs []error
	switch KeyKind(kind) {
	case KeysUniform:
		spec.Dist = KeysUniform
		if hasArg {
			errs = append(errs, fmt.Errorf("uniform takes no parameter, got %q: %w", arg, ErrBadSpec))
		}
	case KeysZipf:
		spec.Dist = KeysZipf
		spec.Skew, errs = parseFloat(errs, "zipf skew", arg, "zipf:1.2")
	case KeysHot:
		spec.Dist = KeysHot
		frac, keys, ok := strings.Cut(arg, "/")
		if !ok {
			errs = append(errs, fmt.Errorf("hot %q wants FRACTION/KEYS, e.g. hot:0.9/10: %w", arg, ErrBadSpec))
			break
		}
		spec.HotFraction, errs = parseFloat(errs, "hot fraction", frac, "hot:0.9/10")
		spec.HotKeys, errs = parseInt(errs, "hot keys", keys, "hot:0.9/10")
	case KeysSeq:
		spec.Dist = KeysSeq
		spec.SeqLen, errs = parseInt(errs, "sequence length", arg, "seq:4")
	case "":
		errs = append(errs, fmt.Errorf("empty key distribution (want %s): %w", keysSyntax, ErrBadSpec))
	default:
		errs = append(errs, fmt.Errorf("unknown key distribution %q (want %s): %w", kind, keysSyntax, ErrBadSpec))
	}
	if len(errs) == 0 {
		if err := spec.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return KeySpec{}, err
	}
	return spec, nil
}

// String spells s as ParseKeys reads it, so a report can show the
// distribution a run used and a user can paste it back.
func (s KeySpec) String() string {
	switch s.Dist {
	case "", KeysUniform:
		return string(KeysUniform)
	case KeysZipf:
		return "zipf:" + strconv.FormatFloat(s.Skew, 'g', -1, 64)
	case KeysHot:
		return "hot:" + strconv.FormatFloat(s.HotFraction, 'g', -1, 64) + "/" + strconv.Itoa(s.HotKeys)
	case KeysSeq:
		return "seq:" + strconv.Itoa(s.SeqLen)
	}
	return string(s.Dist)
}

// ParseRate reads a rate schedule as the CLI spells it:
//
//	100                        a constant 100 requests/s (ConstantPacer)
//	ramp:100-1000/30s          100/s rising linearly to 1000/s over 30 s, then 1000/s (RampPacer)
//	steps:100/10s,200/10s      100/s for 10 s, then 200/s, held after the last step (StepPacer)
//
// Every rate must be positive, finite and at most MaxRate; every duration
// (Go syntax: 30s, 1m30s) positive. An error names the part that is wrong and
// wraps ErrBadSpec for text that does not parse, or ErrBadRate,
// ErrBadDuration or ErrBadSchedule for a value out of range; the caller
// prefixes the flag or field name. Every pacer returned is also a Scheduler.
func ParseRate(s string) (Pacer, error) {
	if len(s) > MaxSpecLen {
		return nil, fmt.Errorf("rate is %d bytes long (max %d): %w", len(s), MaxSpecLen, ErrBadSpec)
	}
	s = strings.TrimSpace(s)
	kind, arg, hasArg := strings.Cut(s, ":")
	switch {
	case !hasArg:
		if s == "" {
			return nil, fmt.Errorf("empty rate (want %s): %w", rateSyntax, ErrBadSpec)
		}
		r, err := strconv.ParseFloat(s, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return nil, fmt.Errorf("rate %q is not a number (want %s): %w", s, rateSyntax, ErrBadSpec)
		}
		if err := validShapeRate("rate", r); err != nil {
			return nil, err
		}
		return ConstantPacer{Rate: r}, nil
	case kind == "ramp":
		return parseRamp(arg)
	case kind == "steps":
		return parseSteps(arg)
	}
	return nil, fmt.Errorf("unknown rate schedule %q (want %s): %w", kind, rateSyntax, ErrBadSpec)
}

func parseRamp(arg string) (Pacer, error) {
	const example = "ramp:100-1000/30s"
	rates, dur, ok := strings.Cut(arg, "/")
	if !ok {
		return nil, fmt.Errorf("ramp %q wants FROM-TO/DURATION, e.g. %s: %w", arg, example, ErrBadSpec)
	}
	from, to, ok := cutRange(rates)
	if !ok {
		return nil, fmt.Errorf("ramp rates %q want FROM-TO, e.g. %s: %w", rates, example, ErrBadSpec)
	}
	var p RampPacer
	var errs []error
	p.From, errs = parseFloat(errs, "ramp start rate", from, example)
	p.To, errs = parseFloat(errs, "ramp end rate", to, example)
	p.Over, errs = parseDuration(errs, "ramp duration", dur, example)
	if len(errs) == 0 {
		if err := p.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

// cutRange splits "FROM-TO" at the first '-' that is neither a leading sign
// nor an exponent's sign, so "1e-3-2" is (1e-3, 2) and "-5-10" is (-5, 10),
// which then fails as a negative rate rather than as bad syntax.
func cutRange(s string) (from, to string, ok bool) {
	for i := 1; i < len(s); i++ {
		if s[i] == '-' && !strings.ContainsRune("eEpP", rune(s[i-1])) {
			return s[:i], s[i+1:], true
		}
	}
	return "", "", false
}

func parseSteps(arg string) (Pacer, error) {
	const example = "steps:100/10s,200/10s"
	if strings.TrimSpace(arg) == "" {
		return nil, fmt.Errorf("steps missing (want RATE/DURATION,..., e.g. %s): %w", example, ErrBadSpec)
	}
	parts := strings.Split(arg, ",")
	steps := make([]Step, len(parts))
	var errs []error
	for i, part := range parts {
		part = strings.TrimSpace(part)
		rate, dur, ok := strings.Cut(part, "/")
		if !ok {
			errs = append(errs, fmt.Errorf("step %d %q wants RATE/DURATION, e.g. %s: %w", i+1, part, example, ErrBadSpec))
			continue
		}
		name := "step " + strconv.Itoa(i+1)
		steps[i].Rate, errs = parseFloat(errs, name+" rate", rate, example)
		steps[i].For, errs = parseDuration(errs, name+" duration", dur, example)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	p, err := NewStepPacer(steps...)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// parseFloat reads what from s, appending a problem to errs. A number too
// large or too small for a float64 is returned as ±Inf or 0 without a
// problem, so that validation names it as out of range.
func parseFloat(errs []error, what, s, example string) (float64, []error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, append(errs, fmt.Errorf("%s missing (want e.g. %s): %w", what, example, ErrBadSpec))
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, append(errs, fmt.Errorf("%s %q is not a number: %w", what, s, ErrBadSpec))
	}
	return v, errs
}

func parseInt(errs []error, what, s, example string) (int, []error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, append(errs, fmt.Errorf("%s missing (want e.g. %s): %w", what, example, ErrBadSpec))
	}
	v, err := strconv.Atoi(s)
	if errors.Is(err, strconv.ErrRange) {
		return 0, append(errs, fmt.Errorf("%s %s is out of range: %w", what, s, ErrBadKeyDist))
	}
	if err != nil {
		return 0, append(errs, fmt.Errorf("%s %q is not a whole number: %w", what, s, ErrBadSpec))
	}
	return v, errs
}

func parseDuration(errs []error, what, s, example string) (time.Duration, []error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, append(errs, fmt.Errorf("%s missing (want e.g. %s): %w", what, example, ErrBadSpec))
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, append(errs, fmt.Errorf("%s %q is not a duration such as 30s or 1m30s: %w", what, s, ErrBadSpec))
	}
	return d, errs
}
