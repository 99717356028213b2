package blackbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"time"
)

// A payload, key or header of an input is a Go text/template executed for
// each operation with a *Vars as its dot: {{ .Key }}, {{ .UUID }},
// {{ .Int 1 100 }}. The generators are methods, not template functions, so
// that each operation draws from its own random stream (seeded by the run's
// seed and the operation's number) and a workload replays exactly.

// funcs are the template functions that need no operation: escaping.
var funcs = template.FuncMap{
	// json renders a value as JSON: {{ json .Name }} is a quoted, escaped
	// string, safe inside a JSON payload.
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	"upper": strings.ToUpper,
	"lower": strings.ToLower,
}

// maxRendered bounds one rendered template: a loop in a template could
// otherwise build a payload of any size.
const maxRendered = 1 << 20

// errTooLong is a template that rendered more than maxRendered bytes.
var errTooLong = fmt.Errorf("rendered more than %d bytes", maxRendered)

// parseTemplate compiles one template of the workload.
func parseTemplate(name, text string) (*template.Template, error) {
	return template.New(name).Funcs(funcs).Option("missingkey=error").Parse(text)
}

// render executes t with v, bounded.
func render(t *template.Template, v *Vars) ([]byte, error) {
	w := &boundedBuffer{}
	if err := t.Execute(w, v); err != nil {
		if errors.Is(err, errTooLong) {
			return nil, errTooLong
		}
		return nil, err
	}
	return w.Bytes(), nil
}

type boundedBuffer struct{ bytes.Buffer }

func (b *boundedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > maxRendered {
		return 0, errTooLong
	}
	return b.Buffer.Write(p)
}

// Vars is the dot of an input's templates: the operation and the
// generators. Its methods are safe for the one goroutine that renders the
// operation; what they keep is shared through the run's Memory.
type Vars struct {
	// Key is the load's key for the operation ("key-17"); Seq numbers
	// operations from 0; KeySeq is the operation's place among its key's,
	// from 1; Step its place in a sequence key distribution, from 0.
	Key    string
	Seq    uint64
	KeySeq int64
	Step   int
	// Input names the input being rendered.
	Input string

	intended time.Time
	rng      *rand.Rand
	mem      *Memory
}

func newVars(input string, seed int64, seq uint64, key string, keySeq int64, step int, intended time.Time, mem *Memory) *Vars {
	return &Vars{
		Key: key, Seq: seq, KeySeq: keySeq, Step: step, Input: input,
		intended: intended, rng: rand.New(rand.NewPCG(uint64(seed), seq)), mem: mem,
	}
}

// UUID is a random (version 4 form) UUID from the operation's stream.
func (v *Vars) UUID() string {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		x := v.rng.Uint64()
		for j := range 8 {
			b[i+j] = byte(x >> (8 * j))
		}
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// Int is a whole number from lo to hi, both included.
func (v *Vars) Int(lo, hi int64) (int64, error) {
	if hi < lo {
		return 0, fmt.Errorf("Int %d %d: the high bound is below the low one", lo, hi)
	}
	span := uint64(hi - lo)
	if span == ^uint64(0) {
		return int64(v.rng.Uint64()), nil
	}
	return lo + int64(v.rng.Uint64N(span+1)), nil
}

// Decimal is a number from lo to hi with places digits after the point,
// as text (money amounts: {{ .Decimal 1 500 2 }} is "123.45").
func (v *Vars) Decimal(lo, hi float64, places int) (string, error) {
	if hi < lo || places < 0 || places > 9 {
		return "", fmt.Errorf("Decimal %g %g %d: want low <= high and 0 to 9 places", lo, hi, places)
	}
	return strconv.FormatFloat(lo+v.rng.Float64()*(hi-lo), 'f', places, 64), nil
}

// Choice is one of its arguments, evenly.
func (v *Vars) Choice(options ...string) (string, error) {
	if len(options) == 0 {
		return "", errors.New("Choice: give at least one option")
	}
	return options[v.rng.IntN(len(options))], nil
}

var (
	firstNames = []string{"Ada", "Alan", "Barbara", "Dennis", "Edsger", "Frances", "Grace", "Ken", "Leslie", "Margaret", "Niklaus", "Radia", "Rob", "Tony"}
	lastNames  = []string{"Allen", "Dijkstra", "Hamilton", "Hoare", "Hopper", "Lamport", "Liskov", "Lovelace", "Perlman", "Pike", "Ritchie", "Thompson", "Turing", "Wirth"}
)

// Name is a person's name.
func (v *Vars) Name() string {
	return firstNames[v.rng.IntN(len(firstNames))] + " " + lastNames[v.rng.IntN(len(lastNames))]
}

// Email is an address at example.com (a domain reserved for examples),
// unique to the operation.
func (v *Vars) Email() string {
	return fmt.Sprintf("%s.%d@example.com", strings.ToLower(lastNames[v.rng.IntN(len(lastNames))]), v.Seq)
}

// Time is the operation's intended send time, RFC 3339 with nanoseconds.
func (v *Vars) Time() string { return v.intended.UTC().Format(time.RFC3339Nano) }

// UnixMilli is the intended send time in milliseconds since the epoch.
func (v *Vars) UnixMilli() int64 { return v.intended.UnixMilli() }

// Keep remembers value under name for the operation's key and returns it:
// {{ .Keep "account" .UUID }} in an opening input, {{ .Kept "account" }}
// in the key's later ones.
func (v *Vars) Keep(name, value string) string {
	v.mem.keep(v.Key, name, value)
	return value
}

// Kept is the value last kept under name for the operation's key, "" when
// none was.
func (v *Vars) Kept(name string) string { return v.mem.kept(v.Key, name) }

// AnyKept is a value some key kept under name (drawn from the last
// MemoryPool kept), "" when none was: a transfer's target among the
// accounts opened so far.
func (v *Vars) AnyKept(name string) string { return v.mem.any(name, v.rng) }

// MemoryPool is how many recent values per name AnyKept draws from.
const MemoryPool = 1024

// Memory is what the templates of one run kept: per key and name the last
// value, and per name a pool of recent values. It grows with the key count
// and the names the workload uses, never with the run's length.
type Memory struct {
	mu    sync.Mutex
	byKey map[string]map[string]string
	pool  map[string]*ring
}

type ring struct {
	vals []string
	next int
}

// NewMemory returns an empty Memory.
func NewMemory() *Memory {
	return &Memory{byKey: map[string]map[string]string{}, pool: map[string]*ring{}}
}

func (m *Memory) keep(key, name, value string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := m.byKey[key]
	if k == nil {
		k = map[string]string{}
		m.byKey[key] = k
	}
	k[name] = value
	r := m.pool[name]
	if r == nil {
		r = &ring{}
		m.pool[name] = r
	}
	if len(r.vals) < MemoryPool {
		r.vals = append(r.vals, value)
		return
	}
	r.vals[r.next] = value
	r.next = (r.next + 1) % MemoryPool
}

func (m *Memory) kept(key, name string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.byKey[key][name]
}

func (m *Memory) any(name string, rng *rand.Rand) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.pool[name]
	if r == nil || len(r.vals) == 0 {
		return ""
	}
	return r.vals[rng.IntN(len(r.vals))]
}
