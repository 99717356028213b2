package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// badInputFiles are the hostile files the bad-input table points at,
// written into one directory ({d} in a case's arguments). Each is one
// mistake a user makes, or one input built to hurt: a device or a link to
// one where a file is expected, numbers that would allocate without
// limit, repeated and unknown keys, passwords in URLs.
var badInputFiles = map[string]string{
	"spec-dup.yaml":          "components:\n  - {kind: kafka, provider: embedded}\ncomponents: []\n",
	"spec-unknown.yaml":      "components:\n  - kind: kafka\n    provider: embedded\n    colour: red\n",
	"spec-type.yaml":         "components: 5\n",
	"experiment-bad.yaml":    "title: t\nsystem: echo\nsteady-state: {min-throughput: 1}\nmethod: [{fault: meteor}]\n",
	"experiment-memory.yaml": "title: t\nsystem: echo\nbroker: {kind: memory}\nload: {duration: 2s}\nsteady-state: {min-throughput: 1}\nmethod: [{fault: kill, at: 1s, hold: 100ms}]\n",
	"experiment-nosys.yaml":  "title: t\nsystem: teapot\nsteady-state: {min-throughput: 1}\nmethod: [{fault: kill}]\n",
	"workload-api.yaml":      "name: w\ncorrelation: {header: c}\n",
	"workload-bad.yaml":      "name: w\ncorrelation: {header: c}\noutputs: [{topic: out}]\ninputs: [{name: a, topic: in, payload: '{{ .Nope }}'}]\n",
	"spec-kind.yaml":         "components:\n  - {kind: zookeeper, provider: embedded}\n",
	"spec-parts.yaml":        "components:\n  - kind: kafka\n    provider: embedded\n    options: {partitions: \"1000000000\"}\n",
	"spec-option.yaml":       "components:\n  - {kind: redis, provider: process, options: {maxmemory: 1g}}\n",
	"spec-remote.yaml":       "components:\n  - {kind: kafka, provider: external, addrs: [\"10.1.2.3:9092\"]}\n",
	"spec-secret.yaml":       "components:\n  - {kind: redis, provider: external, url: \"redis://u:s3cr,et@10.1.2.3:6379\"}\n",
	"sc-times.yaml":          "name: t\nwhen:\n  - id: c\n    times: 2147483647\n    command: PlaceOrder\nthen: []\n",
	"sc-dup.yaml":            "name: a\nname: b\nwhen: []\nthen: []\n",
	"sc-unknown.yaml":        "name: a\ncolour: red\nwhen: []\nthen: []\n",
	"sc-type.yaml":           "name: a\ndedup: maybe\nwhen: []\nthen: []\n",
}

// badInputLinks are symbolic links in the same directory.
var badInputLinks = map[string]string{
	"zero.yaml":                "/dev/zero",
	"outlink":                  "nowhere",
	"zerorun/checks.json":      "/dev/zero",
	"zerohist/history.bin.zst": "/dev/zero",
}

// TestBadInput is the CLI's bad-input table: every input edload refuses,
// with the exit code (2 unless noted), the line of the message that must
// appear, what must not (a password), and — for each — no panic and a
// bounded allocation, so that a device read as a file or a count of a
// billion is refused before it is allocated.
func TestBadInput(t *testing.T) {
	d := badInputDir(t)
	tests := []struct {
		name  string
		args  []string
		want  string
		hide  string // must not appear
		usage bool   // a flag error: the usage hint follows
	}{
		// Flags.
		{name: "unknown flag", args: []string{"run", "--no-such-flag"}, want: "unknown flag: --no-such-flag", usage: true},
		{name: "bad flag value", args: []string{"run", "--workers", "many"}, want: `invalid argument "many"`, usage: true},
		{name: "bad rate", args: []string{"run", "--rate", "fast"}, want: `--rate: rate "fast" is not a number`, usage: true},
		{name: "NaN rate", args: []string{"run", "--rate", "NaN"}, want: "--rate", usage: true},
		{name: "zero rate", args: []string{"run", "--rate", "0"}, want: "--rate", usage: true},
		{name: "negative rate", args: []string{"run", "--rate", "-5"}, want: "--rate", usage: true},
		{name: "unknown nemesis", args: []string{"run", "--broker", "kafka", "--nemesis", "kill,explode"}, want: `--nemesis "kill,explode": unknown fault "explode"`, usage: true},
		{name: "nemesis on membus", args: []string{"run", "--broker", "memory", "--nemesis", "kill"}, want: "--nemesis: the memory broker runs inside edload", usage: true},
		{name: "nemesis hold backwards", args: []string{"run", "--broker", "kafka", "--nemesis", "pause", "--nemesis-hold", "3s-1s"}, want: `--nemesis-hold: range "3s-1s": want 0 <= MIN <= MAX`, usage: true},
		{name: "nemesis gap not a duration", args: []string{"run", "--broker", "kafka", "--nemesis", "pause", "--nemesis-gap", "soon"}, want: `--nemesis-gap: range "soon"`, usage: true},
		{name: "nemesis too long for the run", args: []string{"run", "--broker", "kafka", "--nemesis", "kill", "--duration", "1s"}, want: "--nemesis: no fault fits in --duration 1s", usage: true},
		{name: "nemesis the broker cannot take", args: []string{"run", "--system", "echo", "--broker", "kafka", "--nemesis", "pause", "--duration", "20s", "--out", "{d}/nm"}, want: "pause kafka (kafka, embedded)", usage: true},
		{name: "nemesis of a billion faults", args: []string{"run", "--broker", "kafka", "--nemesis", "kill", "--duration", "100000h", "--nemesis-hold", "1ns", "--nemesis-gap", "0s"}, want: "more than 10000 faults", usage: true},
		{name: "bad ramp", args: []string{"run", "--rate", "ramp:100/10s"}, want: `--rate: ramp rates "100" want FROM-TO`, usage: true},
		{name: "bad count", args: []string{"run", "--count", "-3"}, want: `invalid argument "-3"`, usage: true},
		{name: "bad slo", args: []string{"run", "--slo", "e2e.p98<5ms"}, want: `--slo: objective "e2e.p98<5ms": statistic "p98"`, usage: true},
		{name: "find-max on a ramp", args: []string{"run", "--find-max", "--rate", "ramp:1-2/1s"}, want: "--find-max: --rate", usage: true},
		{name: "too many probes", args: []string{"run", "--find-max", "--probes", "1000"}, want: "--probes 1000", usage: true},
		{name: "unknown broker", args: []string{"run", "--broker", "kinesis"}, want: `--broker kinesis: broker "kinesis": want one of kafka, memory, nats, rabbitmq, redis`, usage: true},
		{name: "unknown provider", args: []string{"run", "--broker", "redis", "--provider", "cloud"}, want: `broker provider "cloud": want embedded, process, container or external`, usage: true},
		{name: "external broker without address", args: []string{"run", "--broker", "redis", "--provider", "external"}, want: "the external provider needs an address or URL", usage: true},
		{name: "missing experiment file", args: []string{"chaos", "run", "{d}/nowhere.yaml"}, want: "nowhere.yaml: cannot read experiment file", usage: false},
		{name: "bad experiment file", args: []string{"chaos", "run", "{d}/experiment-bad.yaml"}, want: `experiment-bad.yaml:4:18: method[0].fault: unknown fault "meteor"`, usage: false},
		{name: "experiment on an unknown system", args: []string{"chaos", "run", "{d}/experiment-nosys.yaml"}, want: `system "teapot": want one of`, usage: false},
		{name: "experiment on the memory broker", args: []string{"chaos", "run", "{d}/experiment-memory.yaml", "--out", "{d}/xm"}, want: "the memory broker runs inside edload: nothing to break", usage: false},
		{name: "experiment on an unknown broker", args: []string{"chaos", "run", "{d}/experiment-nosys.yaml", "--broker", "pigeon"}, want: "--broker", usage: true},
		{name: "asyncapi without a workload", args: []string{"run", "--asyncapi", "{d}/api.yaml"}, want: "--asyncapi goes with a workload file", usage: true},
		{name: "bad asyncapi document", args: []string{"run", "-f", "{d}/workload-api.yaml", "--asyncapi", "{d}/spec-type.yaml"}, want: "asyncapi: ", usage: true},
		{name: "missing workload file", args: []string{"run", "-f", "{d}/nowhere.yaml"}, want: "nowhere.yaml: cannot read workload file", usage: true},
		{name: "bad workload file", args: []string{"run", "-f", "{d}/workload-bad.yaml"}, want: `workload-bad.yaml:4:10: input "a", rendered for a first operation`, usage: true},
		{name: "workload file of zeros", args: []string{"run", "-f", "{d}/zero.yaml"}, want: "larger than", usage: true},
		{name: "bad key distribution", args: []string{"run", "--key-dist", "zipf:0.5"}, want: `--key-dist "zipf:0.5"`, usage: true},
		{name: "unknown command", args: []string{"frobnicate"}, want: `unknown command "frobnicate"`, usage: true},
		{name: "stray argument", args: []string{"run", "extra"}, want: "run takes no arguments", usage: true},
		{name: "negative p99 limit", args: []string{"run", "--max-p99", "-1s"}, want: "--max-p99 -1s: want >= 0", usage: true},
		// Sizes that would allocate without limit, refused before anything
		// is allocated (each exhausted memory before its bound).
		{name: "huge payload", args: []string{"run", "--payload", "1000000000000"}, want: "--payload 1000000000000: want 0 to 1048576 bytes", usage: true},
		{name: "huge worker pool", args: []string{"run", "--workers", "100000000"}, want: "--workers 100000000: want 1 to 1024", usage: true},
		{name: "huge key space", args: []string{"run", "--keys", "1000000000"}, want: "--keys 1000000000: want 1 to 10000000", usage: true},
		{name: "huge partition count", args: []string{"run", "--partitions", "1000000000"}, want: "--partitions 1000000000: want 1 to 4096", usage: true},
		// Outputs.
		{name: "output through a link", args: []string{"run", "--out", "{d}/outlink"}, want: "is a symbolic link", usage: true},
		// Environment specs: file:line:column for every problem.
		{name: "spec is a device", args: []string{"env", "up", "--state", "{d}/s.json", "{d}/zero.yaml"}, want: "zero.yaml: cannot read spec: larger than 4194304 bytes"},
		{name: "spec repeats a key", args: []string{"env", "up", "--state", "{d}/s.json", "{d}/spec-dup.yaml"}, want: `spec-dup.yaml:3:1: spec: duplicate key "components"`},
		{name: "spec unknown key", args: []string{"env", "up", "--state", "{d}/s.json", "{d}/spec-unknown.yaml"}, want: `spec-unknown.yaml:4:5: components[0]: unknown key "colour"`},
		{name: "spec type error", args: []string{"env", "up", "--state", "{d}/s.json", "{d}/spec-type.yaml"}, want: "spec-type.yaml:1:13: components: expected a list"},
		{name: "spec unknown kind", args: []string{"env", "up", "--state", "{d}/s.json", "{d}/spec-kind.yaml"}, want: "spec-kind.yaml:2:12"},
		{name: "spec huge partitions", args: []string{"env", "up", "--state", "{d}/s.json", "{d}/spec-parts.yaml"}, want: `spec-parts.yaml:4:27: kafka: options.partitions: embedded: bad option: partitions="1000000000", want an integer from 1 to 4096`},
		{name: "spec ignored option", args: []string{"env", "up", "--state", "{d}/s.json", "{d}/spec-option.yaml"}, want: `spec-option.yaml:2:59: redis: options.maxmemory: unknown option "maxmemory"`},
		{name: "spec remote address", args: []string{"env", "up", "--state", "{d}/s.json", "{d}/spec-remote.yaml"}, want: "spec-remote.yaml:2:46: kafka: addrs: 10.1.2.3:9092 is not on this machine: edkit connects only to loopback addresses unless the host is allowed (--allow-remote 10.1.2.3)"},
		{name: "spec remote url", args: []string{"env", "up", "--state", "{d}/s.json", "{d}/spec-secret.yaml"}, want: "spec-secret.yaml:2:44: redis: url:", hide: "s3cr"},
		// Scenario files.
		{name: "scenario is a device", args: []string{"scenario", "{d}/zero.yaml"}, want: "zero.yaml: cannot read scenario file: larger than 4194304 bytes"},
		{name: "scenario huge times", args: []string{"scenario", "{d}/sc-times.yaml"}, want: "sc-times.yaml:4:12: when[0].times: expected a whole number from 1 to 1000, got integer 2147483647"},
		{name: "scenario repeats a key", args: []string{"scenario", "{d}/sc-dup.yaml"}, want: `sc-dup.yaml:2:1: scenario: duplicate key "name"`},
		{name: "scenario unknown key", args: []string{"scenario", "{d}/sc-unknown.yaml"}, want: `sc-unknown.yaml:2:1: scenario: unknown key "colour"`},
		{name: "scenario type error", args: []string{"scenario", "{d}/sc-type.yaml"}, want: `sc-type.yaml:2:8: dedup: expected true or false, got "maybe"`},
		{name: "scenario glob taken literally", args: []string{"scenario", "{d}/*.yaml"}, want: "*.yaml: no such file or directory\nedload: 1 of 1 scenario files are malformed"},
		// Run directories given to check.
		{name: "check no run", args: []string{"check", "{d}/nope"}, want: "is it a directory edload run --out wrote?"},
		{name: "check no argument", args: []string{"check"}, want: "check takes one run directory", usage: true},
		{name: "check bad profile", args: []string{"check", "{d}/run", "--profile", "maybe-once"}, want: `unknown guarantee profile "maybe-once"`},
		{name: "check malformed checks.json", args: []string{"check", "{d}/badchecks"}, want: "badchecks/checks.json:3:"},
		{name: "check checks.json is a device", args: []string{"check", "{d}/zerorun"}, want: "zerorun/checks.json: larger than 4194304 bytes"},
		{name: "check history is a device", args: []string{"check", "{d}/zerohist"}, want: "zerohist/history.bin.zst: not an edkit history file"},
		{name: "check history is garbage", args: []string{"check", "{d}/garbage"}, want: "garbage/history.bin.zst: not an edkit history file"},
		// new: kinds and names.
		{name: "new unknown kind", args: []string{"new", "widget", "X", "--dir", "{d}"}, want: `kind "widget" (want aggregate, projection, saga, scenario)`, usage: true},
		{name: "new name with a path", args: []string{"new", "saga", "../x", "--dir", "{d}"}, want: `name "../x"`, usage: true},
		{name: "new without a name", args: []string{"new", "saga"}, want: "new takes a kind", usage: true},
		{name: "new scenario over a file", args: []string{"new", "scenario", "sc-dup", "--dir", "{d}"}, want: "scaffold: file exists: {d}/sc-dup.yaml", usage: true},
		{name: "new scenario bad name", args: []string{"new", "scenario", "Payment_Declined", "--dir", "{d}"}, want: `name "Payment_Declined" (want lower-case letters, digits and single dashes`, usage: true},
		{name: "new scenario name with a path", args: []string{"new", "scenario", "../x", "--dir", "{d}"}, want: `name "../x"`, usage: true},
		{name: "new scenario unknown system", args: []string{"new", "scenario", "x", "--dir", "{d}", "--system", "nope"}, want: `--system "nope": want one of shop, echo`, usage: true},
		{name: "new scenario with a package", args: []string{"new", "scenario", "x", "--dir", "{d}", "--package", "bank"}, want: "--package applies to Go code, not new scenario", usage: true},
		{name: "new code with a system", args: []string{"new", "saga", "X", "--dir", "{d}", "--system", "shop"}, want: "--system applies to new scenario only", usage: true},
		// dlq: flags, targets, URLs.
		{name: "dlq no subcommand", args: []string{"dlq"}, want: "dlq needs a subcommand", usage: true},
		{name: "dlq unknown flag", args: []string{"dlq", "ls", "--nope"}, want: "unknown flag: --nope", usage: true},
		{name: "dlq bad broker", args: []string{"dlq", "ls", "--broker", "kinesis", "--topic", "d", "--brokers", "x:1"}, want: `--broker "kinesis"`, usage: true},
		{name: "dlq no topic", args: []string{"dlq", "ls", "--brokers", "x:1"}, want: "--topic", usage: true},
		{name: "dlq bad limit", args: []string{"dlq", "redrive", "--topic", "d", "--limit", "-1", "--brokers", "x:1"}, want: "--limit -1", usage: true},
		{name: "dlq bad idle", args: []string{"dlq", "ls", "--topic", "d", "--idle", "0s", "--brokers", "x:1"}, want: "--idle 0s", usage: true},
		{name: "dlq no address", args: []string{"dlq", "ls", "--topic", "d", "--state", "{d}/none.json"}, want: "no --brokers or --url", usage: true},
		{name: "dlq redrive flag on ls", args: []string{"dlq", "ls", "--topic", "d", "--dry-run"}, want: "unknown flag: --dry-run", usage: true},
		{name: "dlq remote broker", args: []string{"dlq", "ls", "--topic", "t", "--brokers", "10.9.8.7:9092"}, want: "--allow-remote 10.9.8.7"},
		{name: "dlq URL with a bad escape", args: []string{"dlq", "ls", "--topic", "t", "--broker", "redis", "--url", "redis://:s3cr%zzet@127.0.0.1:6379"}, want: "not a URL", hide: "s3cr", usage: true},
		{name: "dlq URL with a comma in its password", args: []string{"dlq", "ls", "--topic", "t", "--broker", "redis", "--url", "redis://user:s3cr,et@127.0.0.1:notaport"}, want: "not a URL", hide: "s3cr", usage: true},
		{name: "dlq URL with a semicolon in its password", args: []string{"dlq", "ls", "--topic", "t", "--broker", "redis", "--url", "amqp://u:s3cr;et@127.0.0.1:bad/"}, want: "not a URL", hide: "s3cr", usage: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := make([]string, len(tt.args))
			for i, a := range tt.args {
				args[i] = strings.ReplaceAll(a, "{d}", d)
			}
			code, stderr, alloc := executeBounded(t, args)
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			if !strings.Contains(stderr, strings.ReplaceAll(tt.want, "{d}", d)) {
				t.Errorf("stderr lacks %q", tt.want)
			}
			if tt.hide != "" && strings.Contains(stderr, tt.hide) {
				t.Errorf("stderr shows %q", tt.hide)
			}
			if tt.usage && !strings.Contains(stderr, "--help") && !strings.Contains(stderr, "Usage:") {
				t.Errorf("a flag error without the usage hint")
			}
			if alloc > maxBadInputAlloc {
				t.Errorf("refusing it allocated %d MiB (bound %d MiB)", alloc>>20, maxBadInputAlloc>>20)
			}
			if t.Failed() {
				t.Logf("stderr:\n%s", stderr)
			}
		})
	}
}

// maxBadInputAlloc bounds what refusing one input may allocate, in all:
// generous for parsing a 4 MiB file, far below what reading a device or
// sizing a billion-element table takes.
const maxBadInputAlloc = 256 << 20

// executeBounded runs edload in-process and returns its exit code, its
// stderr and the bytes allocated meanwhile; a panic fails the test with
// the arguments that caused it.
func executeBounded(t *testing.T, args []string) (code int, stderr string, alloc uint64) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var out, errOut bytes.Buffer
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("edload %q panicked: %v", args, r)
			}
		}()
		code = execute(t.Context(), args, &out, &errOut)
	}()
	runtime.ReadMemStats(&after)
	return code, errOut.String(), after.TotalAlloc - before.TotalAlloc
}

// badInputDir writes badInputFiles and badInputLinks, and the run
// directories check is given: a real run (from the echo system, fast), one
// whose checks.json is malformed and one whose history is garbage.
func badInputDir(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	write := func(name, data string) {
		t.Helper()
		p := filepath.Join(d, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for name, data := range badInputFiles {
		write(name, data)
	}
	for name, target := range badInputLinks {
		p := filepath.Join(d, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	run := filepath.Join(d, "run")
	var out, errOut bytes.Buffer
	if code := execute(t.Context(), []string{"run", "--system", "echo", "--broker", "memory", "--duration", "300ms", "--rate", "50",
		"--min-rate", "0.3", "--out", run}, &out, &errOut); code != exitOK {
		t.Fatalf("the fixture run: exit %d\n%s", code, errOut.String())
	}
	report, err := os.ReadFile(filepath.Join(run, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	write("badchecks/checks.json", "{\n  \"system\": \"echo\",\n  \"consumers\": 7\n}\n")
	write("zerohist/checks.json", fmt.Sprintf(`{"system": %q}`, "echo"))
	write("garbage/checks.json", fmt.Sprintf(`{"system": %q}`, "echo"))
	write("garbage/history.bin.zst", strings.Repeat("\x28\xb5\x2f\xfd garbage ", 500))
	for _, dir := range []string{"badchecks", "zerorun", "zerohist", "garbage"} {
		write(dir+"/report.json", string(report))
	}
	return d
}
