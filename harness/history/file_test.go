package history

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/edkit-dev/edkit/harness/clock"
)

// TestFileRoundTrip records ops through a file-backed recorder and reads
// them back unchanged, across several compressed blocks.
func TestFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	w, err := CreateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewVirtual(time.Unix(0, 0))
	rec := NewRecorder(clk, WithFile(w))
	var want []Op
	for i := range 20000 { // several 256 KiB blocks
		clk.Advance(time.Microsecond)
		for _, op := range sampleOps() {
			op.Seq = int64(i)
			want = append(want, rec.Record(op))
		}
	}
	if got := rec.Ops(); got != nil {
		t.Fatalf("a file-backed recorder kept %d ops in memory", len(got))
	}
	if err := rec.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	r, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	got, err := Collect(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("read %d ops, want %d", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("op %d:\n got %v\nwant %v", i, got[i], want[i])
		}
	}
}

// compress wraps raw bytes the way FileWriter does.
func compress(tb testing.TB, raw []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := zw.Write(raw); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func TestFileBadInput(t *testing.T) {
	good := AppendBinary(nil, sampleOps()[0])
	badType := append([]byte(nil), good...)
	// The type code follows the index and time varints: find and spoil it.
	badType[1+1+1] = 9
	cases := []struct {
		name, raw, want string
		compressed      bool
	}{
		{name: "not zstd", raw: "{\"index\":0}\n", want: "not an edkit history file"},
		{name: "wrong magic", raw: "EDKIT-HISTORY 9\n", compressed: true, want: "not an edkit history file"},
		{name: "truncated record", raw: magic + string(good[:len(good)-3]), compressed: true, want: "op 1: unexpected EOF"},
		{name: "huge length", raw: magic + "\xff\xff\xff\xff\x0f", compressed: true, want: "out of range"},
		{name: "bad type", raw: magic + string(badType), compressed: true, want: "unknown op type code 9"},
		{name: "second op bad", raw: magic + string(good) + "\x02\x00\x00", compressed: true, want: "op 2: corrupt record"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw := []byte(c.raw)
			if c.compressed {
				raw = compress(t, raw)
			}
			path := filepath.Join(t.TempDir(), "h")
			if err := os.WriteFile(path, raw, 0o600); err != nil {
				t.Fatal(err)
			}
			r, err := OpenFile(path)
			if err == nil {
				_, err = Collect(r)
				_ = r.Close()
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

// FuzzBinaryRecord feeds arbitrary bytes to the record decoder: it must
// return an op or an error, never panic or allocate past MaxRecord; and a
// record it accepts must encode back to the same op.
func FuzzBinaryRecord(f *testing.F) {
	for _, op := range sampleOps() {
		f.Add(AppendBinary(nil, op))
	}
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		d := newBinaryReader(bytes.NewReader(b))
		for {
			var op Op
			err := d.read(&op)
			if err != nil {
				if !errors.Is(err, errCorrupt) && err.Error() != "EOF" && err.Error() != "unexpected EOF" {
					t.Fatalf("unexpected error kind: %v", err)
				}
				return
			}
			again := newBinaryReader(bytes.NewReader(AppendBinary(nil, op)))
			var back Op
			if err := again.read(&back); err != nil || !reflect.DeepEqual(back, op) {
				t.Fatalf("re-encoding %v gave %v, %v", op, back, err)
			}
		}
	})
}

// TestCreateFileNeverOverwrites: a history is created only where nothing
// was; an existing file or a symbolic link planted in its place is an
// error, and the link's target is untouched.
func TestCreateFileNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "victim")
	if err := os.WriteFile(target, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, FileName)
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if w, err := CreateFile(link); err == nil {
		_ = w.Close()
		t.Fatal("CreateFile followed a symbolic link")
	}
	if _, err := CreateFile(target); err == nil {
		t.Fatal("CreateFile overwrote a file")
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Fatalf("the target now holds %q", b)
	}
}
