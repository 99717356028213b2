package history

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"

	"github.com/klauspost/compress/zstd"
)

// FileName is the name a run directory gives its history file.
const FileName = "history.bin.zst"

// magic opens every history file (inside the compressed stream), so that a
// reader recognises one and rejects anything else early.
const magic = "EDKIT-HISTORY 1\n"

// Stream is a history read one op at a time, the way a run's recorded
// history is judged without holding it in memory:
//
//	for s.Next() { use(s.Op()) }
//	if err := s.Err(); err != nil { ... }
type Stream interface {
	Next() bool
	Op() Op
	Err() error
}

// FileWriter streams ops to a compressed history file as they are
// recorded. Encoding happens on the caller's goroutine (a few hundred
// nanoseconds); compression and the disk write happen on the writer's own,
// a bounded number of blocks behind, so that a slow disk holds the
// recorder back instead of growing memory.
type FileWriter struct {
	f    *os.File
	zw   *zstd.Encoder
	buf  []byte
	work chan block
	free chan []byte
	done chan struct{}
	err  error // the background writer's first error, read after done or a flush
	werr error // the caller's view of err
	// closed is set by Close, whose error a second Close returns again.
	closed   bool
	closeErr error
}

// block is a filled buffer, or a flush request when ack is set.
type block struct {
	b   []byte
	ack chan error
}

const (
	blockSize   = 256 << 10
	blocksAhead = 4
)

// CreateFile creates a new history file at path. It never follows a
// symbolic link nor overwrites a file: a history is evidence, written only
// where nothing was.
func CreateFile(path string) (*FileWriter, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o644) // #nosec G304 G302 -- the run directory, readable by CI uploaders
	if err != nil {
		return nil, err
	}
	zw, err := getEncoder(f)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	w := &FileWriter{
		f: f, zw: zw, buf: getBlock(),
		work: make(chan block, blocksAhead), free: make(chan []byte, blocksAhead+1),
		done: make(chan struct{}),
	}
	w.buf = append(w.buf, magic...)
	go w.loop()
	return w, nil
}

func (w *FileWriter) loop() {
	defer close(w.done)
	for blk := range w.work {
		if blk.ack != nil {
			if w.err == nil {
				w.err = w.zw.Flush()
			}
			blk.ack <- w.err
			continue
		}
		if w.err == nil {
			_, w.err = w.zw.Write(blk.b)
		}
		select {
		case w.free <- blk.b[:0]:
		default:
		}
	}
}

// Write appends op. It is not safe for concurrent use: the Recorder calls
// it under its lock, which is what orders the history.
func (w *FileWriter) Write(op Op) error {
	if w.werr != nil {
		return w.werr
	}
	w.buf = AppendBinary(w.buf, op)
	if len(w.buf) >= blockSize {
		w.handOff()
	}
	return nil
}

func (w *FileWriter) handOff() {
	w.work <- block{b: w.buf}
	select {
	case w.buf = <-w.free:
	default:
		w.buf = getBlock()
	}
}

// Flush writes everything written so far through to the file and reports
// the first error.
func (w *FileWriter) Flush() error {
	if w.werr != nil {
		return w.werr
	}
	if len(w.buf) > 0 {
		w.handOff()
	}
	ack := make(chan error, 1)
	w.work <- block{ack: ack}
	w.werr = <-ack
	return w.werr
}

// Close flushes, ends the compressed stream and closes the file. It is
// idempotent.
func (w *FileWriter) Close() error {
	if w.closed {
		return w.closeErr
	}
	w.closed = true
	err := w.Flush()
	close(w.work)
	<-w.done
	zerr := w.zw.Close()
	w.closeErr = errors.Join(err, zerr, w.f.Close())
	w.werr = errors.New("history: file closed")
	if zerr == nil {
		encoders.Put(w.zw)
	}
	w.zw = nil
	putBlock(w.buf)
	w.buf = nil
	for len(w.free) > 0 {
		putBlock(<-w.free)
	}
	return w.closeErr
}

// A run's history file is small for a scenario and large for a load run;
// either way its encoder (a 1 MiB window) and blocks are worth reusing:
// scenarios start and judge one history each, hundreds a second.
var (
	encoders sync.Pool // *zstd.Encoder, closed, ready for Reset
	blocks   sync.Pool // *[]byte of cap blockSize
	decoders sync.Pool // *zstd.Decoder, ready for Reset
)

func getEncoder(f io.Writer) (*zstd.Encoder, error) {
	if zw, ok := encoders.Get().(*zstd.Encoder); ok {
		zw.Reset(f)
		return zw, nil
	}
	// SpeedFastest compresses a shop history about 8x at several hundred
	// MB/s; a 1 MiB window bounds the encoder's memory.
	return zstd.NewWriter(f, zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<20))
}

func getBlock() []byte {
	if b, ok := blocks.Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return make([]byte, 0, blockSize)
}

func putBlock(b []byte) {
	if cap(b) == blockSize {
		b = b[:0]
		blocks.Put(&b)
	}
}

// OpenRaw opens a file of bare binary records (AppendBinary's, with no
// header and no compression), such as the checkers' partition files.
func OpenRaw(path string) (*FileReader, error) {
	f, err := os.Open(path) // #nosec G304 -- a file edkit wrote
	if err != nil {
		return nil, err
	}
	return &FileReader{f: f, name: path, d: newBinaryReader(bufio.NewReaderSize(f, 64<<10))}, nil
}

// FileReader reads a history file op by op; it is a Stream.
type FileReader struct {
	f    *os.File
	zr   *zstd.Decoder
	name string
	d    *binaryReader
	op   Op
	n    int64
	err  error
}

// OpenFile opens a history file written by FileWriter.
func OpenFile(path string) (*FileReader, error) {
	f, err := os.Open(path) // #nosec G304 -- a history the user named
	if err != nil {
		return nil, err
	}
	r, err := newFileReader(f, path)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	r.f = f
	return r, nil
}

func newFileReader(src io.Reader, name string) (*FileReader, error) {
	zr, err := getDecoder(src)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(zr, 64<<10)
	head := make([]byte, len(magic))
	if _, err := io.ReadFull(br, head); err != nil || string(head) != magic {
		putDecoder(zr)
		return nil, fmt.Errorf("%s: not an edkit history file", name)
	}
	return &FileReader{zr: zr, name: name, d: newBinaryReader(br)}, nil
}

func getDecoder(src io.Reader) (*zstd.Decoder, error) {
	if zr, ok := decoders.Get().(*zstd.Decoder); ok {
		if err := zr.Reset(src); err == nil {
			return zr, nil
		}
		zr.Close()
	}
	// Low-memory decoding with a hard cap: a hostile file cannot make the
	// decoder allocate more than its window.
	return zstd.NewReader(src, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxMemory(64<<20), zstd.WithDecoderMaxWindow(8<<20))
}

// putDecoder keeps zr for the next file, holding no reference to the
// last one's reader.
func putDecoder(zr *zstd.Decoder) {
	if zr.Reset(nil) != nil {
		zr.Close()
		return
	}
	decoders.Put(zr)
}

// Next reads the next op; it returns false at the end or on an error.
func (r *FileReader) Next() bool {
	if r.err != nil {
		return false
	}
	if err := r.d.read(&r.op); err != nil {
		r.err = io.EOF
		if !errors.Is(err, io.EOF) {
			r.err = fmt.Errorf("%s: op %d: %w", r.name, r.n+1, err)
		}
		return false
	}
	r.n++
	return true
}

// Op is the op Next read.
func (r *FileReader) Op() Op { return r.op }

// Err is the error that ended the stream, nil at a clean end.
func (r *FileReader) Err() error {
	if errors.Is(r.err, io.EOF) {
		return nil
	}
	return r.err
}

// Close releases the file. It is idempotent.
func (r *FileReader) Close() error {
	if r.zr != nil {
		putDecoder(r.zr)
		r.zr = nil
	}
	if r.f != nil {
		err := r.f.Close()
		r.f = nil
		return err
	}
	return nil
}

// JSONLReader reads a JSON-lines history op by op; it is a Stream. Bad
// lines end it with a *SyntaxError.
type JSONLReader struct {
	sc   *bufio.Scanner
	line int
	op   Op
	err  error
}

// NewJSONLReader reads JSON lines from r; lines may be up to 16 MiB.
func NewJSONLReader(r io.Reader) *JSONLReader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	return &JSONLReader{sc: sc}
}

// Next reads the next op, skipping blank lines.
func (r *JSONLReader) Next() bool {
	if r.err != nil {
		return false
	}
	for r.sc.Scan() {
		r.line++
		b := r.sc.Bytes()
		if len(strings.TrimSpace(string(b))) == 0 {
			continue
		}
		op, err := parseLine(b, r.line)
		if err != nil {
			r.err = err
			return false
		}
		r.op = op
		return true
	}
	if err := r.sc.Err(); err != nil {
		r.err = &SyntaxError{Line: r.line + 1, Column: 1, Err: err}
	}
	return false
}

// Op is the op Next read.
func (r *JSONLReader) Op() Op { return r.op }

// Err is the error that ended the stream, nil at a clean end.
func (r *JSONLReader) Err() error { return r.err }

// Collect reads a whole stream into memory, for small histories and tests.
func Collect(s Stream) ([]Op, error) {
	var ops []Op
	for s.Next() {
		ops = append(ops, s.Op())
	}
	return ops, s.Err()
}

// Slice is a Stream over ops held in memory.
type Slice struct {
	ops []Op
	i   int
}

// NewSlice streams ops.
func NewSlice(ops []Op) *Slice { return &Slice{ops: ops, i: -1} }

// Next moves to the next op.
func (s *Slice) Next() bool {
	if s.i+1 >= len(s.ops) {
		s.i = len(s.ops)
		return false
	}
	s.i++
	return true
}

// Op is the current op.
func (s *Slice) Op() Op { return s.ops[s.i] }

// Err is always nil.
func (s *Slice) Err() error { return nil }
