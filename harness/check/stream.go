package check

import (
	"bufio"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"

	"github.com/edkit-dev/edkit/harness/env/ownership"
	"github.com/edkit-dev/edkit/harness/history"
)

// StreamOptions bound what RunStream holds in memory.
type StreamOptions struct {
	// MaxOps is how many ops are judged in memory at once: a history of at
	// most MaxOps ops is judged exactly as Run judges it; a longer one is
	// split into partitions of about that size (default DefaultMaxOps).
	MaxOps int
	// TempDir holds the partition files while they are judged (default
	// os.TempDir()); they are removed before RunStream returns.
	TempDir string
}

// DefaultMaxOps keeps a partition's decoded ops and index near 30 MB (an
// op is 208 bytes before its strings).
const DefaultMaxOps = 100_000

// fanOut is how many partitions one split pass writes; a partition still
// larger than MaxOps is split again, so memory stays bounded however long
// the history, with fanOut open files at a time.
const fanOut = 64

// maxDepth stops splitting: a partition that is still too large after it
// is made of one key's or one message's ops, which cannot be split further.
const maxDepth = 4

// RunStream judges the history s with the checkers and returns what Run
// would return for the same ops, holding at most about MaxOps ops in
// memory: the history is the one thing in a run that grows with its length,
// and an hour at full rate does not fit.
//
// A history longer than MaxOps is split, on disk, into partitions that the
// package's checkers can judge apart: by message ID for the checkers of one
// message's fate (loss, phantoms, duplicates, DLQ accounting) and by key for
// per-key order, each partition in history order; the partitions' verdicts
// are merged (counts summed, the earliest anomalies listed). This relies on
// every op of a message naming the message's key, as the recorder writes
// them. A Checker of another package sees the whole history (Check(ops)),
// so with one the memory is the history's again.
func RunStream(s history.Stream, o StreamOptions, checkers ...Checker) ([]Result, error) {
	if o.MaxOps <= 0 {
		o.MaxOps = DefaultMaxOps
	}
	// Read the head in fixed chunks: growing one slice by doubling would
	// hold two copies of it at the moment of each copy.
	var chunks [][]history.Op
	n := 0
	for n <= o.MaxOps && s.Next() {
		if len(chunks) == 0 || len(chunks[len(chunks)-1]) == cap(chunks[len(chunks)-1]) {
			chunks = append(chunks, make([]history.Op, 0, min(o.MaxOps+1, 8192)))
		}
		last := len(chunks) - 1
		chunks[last] = append(chunks[last], s.Op())
		n++
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	head := make([]history.Op, 0, n)
	for i, c := range chunks {
		head = append(head, c...)
		chunks[i] = nil
	}
	if n <= o.MaxOps {
		return Run(head, checkers...), nil
	}
	dir, err := ownership.MkdirTemp(o.TempDir, "edkit-check-")
	if err != nil {
		return nil, fmt.Errorf("check: %w", err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	sp := &splitter{o: o, dir: dir}
	return sp.run(head, s, checkers)
}

// route names the partition family an op goes to.
type route uint8

const (
	byMsg route = iota
	byKey
	whole
)

// splitter runs one partitioned judgement.
type splitter struct {
	o   StreamOptions
	dir string
	seq int // names partition files uniquely
}

// run spreads the history into partition families, judges each family's
// checkers over it, and merges.
func (sp *splitter) run(head []history.Op, s history.Stream, checkers []Checker) ([]Result, error) {
	var fams [3][]int // checker positions per route
	for i, c := range checkers {
		switch c.(type) {
		case *Order:
			fams[byKey] = append(fams[byKey], i)
		case indexedChecker:
			fams[byMsg] = append(fams[byMsg], i)
		default:
			fams[whole] = append(fams[whole], i)
		}
	}
	var outs [3]*partitions
	for r := range outs {
		if len(fams[r]) == 0 {
			continue
		}
		p, err := sp.newPartitions(route(r), 0)
		if err != nil {
			return nil, err
		}
		defer p.remove()
		outs[r] = p
	}
	write := func(op *history.Op) error {
		for _, p := range outs {
			if p != nil {
				if err := p.write(op); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for i := range head {
		if err := write(&head[i]); err != nil {
			return nil, err
		}
	}
	head = nil //nolint:ineffassign,wastedassign // release the head before the rest streams in
	for s.Next() {
		op := s.Op()
		if err := write(&op); err != nil {
			return nil, err
		}
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	results := make([]Result, len(checkers))
	for r, p := range outs {
		if p == nil {
			continue
		}
		if err := sp.judge(p, checkers, fams[r], results); err != nil {
			return nil, err
		}
	}
	return results, nil
}

// judge judges the checkers at positions idx over every partition of p and
// stores their merged results.
func (sp *splitter) judge(p *partitions, checkers []Checker, idx []int, results []Result) error {
	if err := p.close(); err != nil {
		return err
	}
	ms := make([]*merger, len(idx))
	for j, i := range idx {
		ms[j] = newMerger(checkers[i])
	}
	err := sp.each(p, sp.scanner(p, checkers, idx, ms), func(ops []history.Op) {
		if p.route == whole {
			for j, i := range idx {
				ms[j].add(part{Result: checkers[i].Check(ops)})
			}
			return
		}
		ix := newIndex(ops)
		for j, i := range idx {
			ms[j].add(judgePart(checkers[i], ix))
		}
	})
	if err != nil {
		return err
	}
	for j, i := range idx {
		results[i] = ms[j].result()
	}
	return nil
}

// scanner returns, for a family that can judge a partition without
// holding it (per-key order on one hot key), the function that does so,
// folding into ms; nil otherwise.
func (sp *splitter) scanner(p *partitions, checkers []Checker, idx []int, ms []*merger) func(open func() (*history.FileReader, error)) error {
	if p.route != byKey {
		return nil
	}
	for _, i := range idx {
		if o, ok := checkers[i].(*Order); !ok || !o.streamable() {
			return nil
		}
	}
	return func(open func() (*history.FileReader, error)) error {
		for j, i := range idx {
			pt, err := checkers[i].(*Order).judgeStream(open)
			if err != nil {
				return err
			}
			ms[j].add(pt)
		}
		return nil
	}
}

// each calls f with the ops of every partition of p in turn, splitting
// again those too large to load. A partition that cannot be split further
// (one key's ops, or the last level) goes to scan instead when there is
// one, else it is loaded whole.
func (sp *splitter) each(p *partitions, scan func(open func() (*history.FileReader, error)) error, f func([]history.Op)) error {
	for b := range p.files {
		if p.counts[b] == 0 {
			continue
		}
		big := p.counts[b] > sp.o.MaxOps && p.route != whole
		splittable := p.depth+1 < maxDepth && !p.oneKey(b)
		if big && scan != nil && !splittable {
			if err := scan(func() (*history.FileReader, error) { return p.open(b) }); err != nil {
				return err
			}
			continue
		}
		if big && splittable {
			sub, err := sp.resplit(p, b)
			if err != nil {
				return err
			}
			err = sp.each(sub, scan, f)
			sub.remove()
			if err != nil {
				return err
			}
			continue
		}
		ops, err := p.load(b)
		if err != nil {
			return err
		}
		f(ops)
	}
	return nil
}

// resplit spreads partition b of p over a new set of partitions, one level
// deeper (a different hash), and removes b.
func (sp *splitter) resplit(p *partitions, b int) (*partitions, error) {
	sub, err := sp.newPartitions(p.route, p.depth+1)
	if err != nil {
		return nil, err
	}
	r, err := p.open(b)
	if err != nil {
		sub.remove()
		return nil, err
	}
	for r.Next() {
		op := r.Op()
		if err := sub.write(&op); err != nil {
			_ = r.Close()
			sub.remove()
			return nil, err
		}
	}
	err = errors.Join(r.Err(), r.Close(), os.Remove(p.files[b]), sub.close())
	if err != nil {
		sub.remove()
		return nil, err
	}
	return sub, nil
}

// partitions is one split of a history into fanOut files.
type partitions struct {
	route  route
	depth  int
	files  []string
	counts []int
	fs     []*os.File
	ws     []*bufio.Writer
	buf    []byte
	// keys and mixed say, per partition of a byKey split, the key of its
	// first op and whether any other key followed: a partition of one key
	// cannot be split.
	keys  []string
	mixed []bool
}

// oneKey reports whether partition b holds the ops of a single key.
func (p *partitions) oneKey(b int) bool { return p.route == byKey && !p.mixed[b] }

func (sp *splitter) newPartitions(r route, depth int) (*partitions, error) {
	n := fanOut
	if r == whole {
		n = 1
	}
	p := &partitions{route: r, depth: depth, files: make([]string, n), counts: make([]int, n),
		fs: make([]*os.File, n), ws: make([]*bufio.Writer, n), keys: make([]string, n), mixed: make([]bool, n)}
	for b := range n {
		sp.seq++
		p.files[b] = filepath.Join(sp.dir, fmt.Sprintf("p%d-%d.bin", r, sp.seq))
		f, err := os.Create(p.files[b])
		if err != nil {
			p.remove()
			return nil, fmt.Errorf("check: %w", err)
		}
		p.fs[b], p.ws[b] = f, bufio.NewWriterSize(f, 32<<10)
	}
	return p, nil
}

// bucket picks op's partition: ops of one message (or one key) always land
// together, in the order they were written.
func (p *partitions) bucket(op *history.Op) int {
	if len(p.files) == 1 {
		return 0
	}
	k := op.MsgID
	if p.route == byKey {
		k = op.Key
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte{byte(p.depth)})
	_, _ = io.WriteString(h, k)
	return int(h.Sum64() % uint64(len(p.files)))
}

func (p *partitions) write(op *history.Op) error {
	if p.route == byKey && op.F != history.Publish && op.F != history.Deliver && op.F != history.Ack {
		return nil // per-key order reads publishes, deliveries and acks only
	}
	b := p.bucket(op)
	switch {
	case p.counts[b] == 0:
		p.keys[b] = op.Key
	case op.Key != p.keys[b]:
		p.mixed[b] = true
	}
	p.buf = history.AppendBinary(p.buf[:0], *op)
	p.counts[b]++
	if _, err := p.ws[b].Write(p.buf); err != nil {
		return fmt.Errorf("check: write partition: %w", err)
	}
	return nil
}

// close flushes and closes the files for reading back.
func (p *partitions) close() error {
	var errs []error
	for b, f := range p.fs {
		if f == nil {
			continue
		}
		errs = append(errs, p.ws[b].Flush(), f.Close())
		p.fs[b] = nil
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("check: write partition: %w", err)
	}
	return nil
}

func (p *partitions) remove() {
	_ = p.close()
	for _, name := range p.files {
		if name != "" {
			_ = os.Remove(name)
		}
	}
}

func (p *partitions) open(b int) (*history.FileReader, error) {
	return history.OpenRaw(p.files[b])
}

func (p *partitions) load(b int) ([]history.Op, error) {
	r, err := p.open(b)
	if err != nil {
		return nil, err
	}
	ops := make([]history.Op, 0, p.counts[b])
	for r.Next() {
		ops = append(ops, r.Op())
	}
	return ops, errors.Join(r.Err(), r.Close())
}

// part is one partition's verdict with what merging needs beyond it.
type part struct {
	Result
	dlq       map[string]dlqTally // DLQAccounting: balance per group
	unjudged  int                 // Order: messages without a producer
	forgotten int64               // Order, streamed: seqs the window passed over
	unsettled int                 // Loss: messages not settled at the end
}

// judgePart judges one partition.
func judgePart(c Checker, ix *index) part {
	switch c := c.(type) {
	case *DLQAccounting:
		r, t := c.checkPart(ix)
		return part{Result: r, dlq: t}
	case *Order:
		r, n := c.checkPart(ix)
		return part{Result: r, unjudged: n}
	case *Loss:
		r, n := c.checkPart(ix)
		return part{Result: r, unsettled: n}
	}
	return part{Result: c.(indexedChecker).checkIndex(ix)}
}

// maxAnomalies is the listing cap of the package's checkers.
func maxAnomalies(c Checker) int {
	var n int
	switch c := c.(type) {
	case *Loss:
		n = c.opts.MaxAnomalies
	case *Phantom:
		n = c.opts.MaxAnomalies
	case *Order:
		n = c.opts.MaxAnomalies
	case *DuplicateDelivery:
		n = c.opts.MaxAnomalies
	case *DuplicateEffect:
		n = c.opts.MaxAnomalies
	case *DLQAccounting:
		n = c.opts.MaxAnomalies
	}
	if n <= 0 {
		n = DefaultMaxAnomalies
	}
	return n
}

// merger folds the verdicts of a history's partitions, one at a time,
// into the verdict on the whole: counts add up, the earliest anomalies are
// listed, and the checker's own note is rebuilt from the summed tallies.
// It holds one listing however many partitions there are: keeping every
// partition's listed anomalies until the end grew with run length (4,096
// partitions of 20 anomalies with their witnesses).
type merger struct {
	c     Checker
	n     int
	first Result // the only part's verdict, as its checker wrote it
	r     Result
	col   *collector
	dlq   map[string]dlqTally

	unjudged, unsettled int
	forgotten           int64
}

func newMerger(c Checker) *merger {
	return &merger{c: c, r: Result{Invariant: c.Name(), Valid: true},
		col: newCollector(maxAnomalies(c)), dlq: map[string]dlqTally{}}
}

func (m *merger) add(p part) {
	m.n++
	if m.n == 1 {
		m.first = p.Result
	}
	m.r.Valid = m.r.Valid && p.Valid
	m.r.Permitted = m.r.Permitted || p.Permitted
	m.r.Checked += p.Checked
	found := p.Found
	if found == 0 {
		found = len(p.Anomalies)
	}
	m.col.total += found - len(p.Anomalies)
	for _, a := range p.Anomalies {
		if m.col.wants(a.At) {
			m.col.add(a)
		}
	}
	for g, t := range p.dlq {
		m.dlq[g] = m.dlq[g].plus(t)
	}
	m.unjudged += p.unjudged
	m.unsettled += p.unsettled
	m.forgotten += p.forgotten
}

// result is the merged verdict; with one partition, that partition's own.
func (m *merger) result() Result {
	if m.n == 1 {
		return m.first
	}
	r := m.r
	r.Anomalies, r.Found = m.col.anomalies(), m.col.total
	extra := ""
	switch m.c.(type) {
	case *DLQAccounting:
		extra = dlqNote(m.dlq)
	case *Order:
		extra = joinNote(unjudgedNote(m.unjudged), windowNote(m.forgotten))
	case *Loss:
		extra = unsettledNote(m.unsettled)
	}
	r.Note = joinNote(m.col.note(), extra)
	return r
}
