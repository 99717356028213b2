package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/examples/bank"
	"github.com/edkit-dev/edkit/examples/bank/service"
	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/membus"
)

// command is one command of the script and the answer it must get.
type command struct {
	msg  bank.Msg
	raw  string // a payload that is not a Msg, instead of msg
	want string
}

func cmd(typ, account string, amount int64, want string) command {
	return command{msg: bank.Msg{Type: typ, Account: account, Amount: amount}, want: want}
}

// script is 25 commands, round robin over accounts a, b, c and d but for
// one to an account never opened and a payload that does not decode:
// every answer type, each decided on the state the commands before it
// left (a redelivery applied twice, or a lost state change, changes later
// answers).
var script = []command{
	cmd(bank.CmdOpen, "a", 100, bank.EvOpened),
	cmd(bank.CmdOpen, "b", 50, bank.EvOpened),
	cmd(bank.CmdOpen, "c", 0, bank.EvOpened),
	cmd(bank.CmdOpen, "d", 10, bank.EvOpened),
	cmd(bank.CmdDebit, "a", 30, bank.EvDebited),       // a 70
	cmd(bank.CmdDebit, "b", 80, bank.EvDebitRejected), // b 50: short
	cmd(bank.CmdCredit, "c", 10, bank.EvCredited),     // c 10
	cmd(bank.CmdFreeze, "d", 0, bank.EvFrozen),
	cmd(bank.CmdRefund, "a", 30, bank.EvRefunded), // a 100
	cmd(bank.CmdCredit, "b", 5, bank.EvCredited),  // b 55
	cmd(bank.CmdFreeze, "c", 0, bank.EvFrozen),
	cmd(bank.CmdCredit, "d", 5, bank.EvCreditFailed), // d frozen
	cmd(bank.CmdDebit, "a", 100, bank.EvDebited),     // a 0
	cmd(bank.CmdDebit, "b", 55, bank.EvDebited),      // b 0
	cmd(bank.CmdCredit, "c", 1, bank.EvCreditFailed), // c frozen
	cmd(bank.CmdDebit, "d", 5, bank.EvDebitRejected), // d frozen
	cmd(bank.CmdDebit, "a", 1, bank.EvDebitRejected), // a 0: short
	cmd("bogus", "b", 0, bank.EvCommandRejected),
	cmd(bank.CmdRefund, "c", 3, bank.EvRefunded),     // a frozen account takes refunds
	cmd(bank.CmdRefund, "d", 2, bank.EvRefunded),     // d 12
	cmd(bank.CmdCredit, "a", 7, bank.EvCredited),     // a 7
	cmd(bank.CmdDebit, "b", 1, bank.EvDebitRejected), // b 0: short
	cmd(bank.CmdDebit, "c", 3, bank.EvDebitRejected), // c frozen
	cmd(bank.CmdDebit, "x", 1, bank.EvDebitRejected), // no such account
	// A payload that does not decode, keyed z.
	{raw: `{"type":`, msg: bank.Msg{Account: "z"}, want: bank.EvCommandRejected},
}

// sent is the command with correlation "corr-<i>" and ID "cmd-<i>", i
// from 1.
func sent(i int, c command, topic string) *bus.Message {
	payload := []byte(c.raw)
	if c.raw == "" {
		payload, _ = json.Marshal(c.msg)
	}
	m := &bus.Message{ID: "cmd-" + strconv.Itoa(i), Topic: topic, Key: c.msg.Account, Payload: payload}
	m.SetHeader(service.DefaultCorrelationHeader, "corr-"+strconv.Itoa(i))
	return m
}

// answer is one answer seen on the output topic, and the command (from 1)
// it correlates to.
type answer struct {
	m   *bus.Message
	cmd int
	msg bank.Msg
}

func TestService(t *testing.T) {
	n := len(script)
	multiples := func(k int) []int {
		var is []int
		for i := k; i <= n; i += k {
			is = append(is, i)
		}
		return is
	}
	tests := []struct {
		name       string
		cfg        service.Config
		partitions int   // membus partitions: 1 makes consume order the script's
		redeliver  []int // commands published again, same ID, after the script
		dropped    []int // commands with no answer
		duplicated []int // commands answered twice
		reordered  bool  // some account's answers out of command order
	}{
		{name: "clean", partitions: 4},
		{name: "drop every 3", cfg: service.Config{DropEvery: 3}, partitions: 1, dropped: multiples(3)},
		{name: "duplicate every 4", cfg: service.Config{DuplicateEvery: 4}, partitions: 1, duplicated: multiples(4)},
		{name: "reorder every 2", cfg: service.Config{ReorderEvery: 2, HoldFor: 200 * time.Millisecond}, partitions: 1, reordered: true},
		{name: "redelivered commands", partitions: 4, redeliver: []int{1, 5, 18, 25}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := membus.New(membus.Partitions(tc.partitions))
			msgs := slices.Collect(func(yield func(*bus.Message) bool) {
				for i, c := range script {
					yield(sent(i+1, c, service.DefaultIn))
				}
				for _, i := range tc.redeliver {
					yield(sent(i, script[i-1], service.DefaultIn))
				}
			})
			want := n - len(tc.dropped) + len(tc.duplicated)
			got := runScript(t, b, tc.cfg, msgs, want)

			per := map[int]int{}
			for _, a := range got {
				per[a.cmd]++
				checkAnswer(t, a)
			}
			for i := 1; i <= n; i++ {
				wantN := 1
				if slices.Contains(tc.dropped, i) {
					wantN = 0
				} else if slices.Contains(tc.duplicated, i) {
					wantN = 2
				}
				if per[i] != wantN {
					t.Errorf("command %d (%s) answered %d times, want %d", i, script[i-1].msg.Type, per[i], wantN)
				}
			}
			checkIDs(t, got)
			out := outOfOrder(got)
			if tc.reordered && len(out) == 0 {
				t.Errorf("ReorderEvery: every account's answers in command order")
			}
			if !tc.reordered && len(out) > 0 {
				t.Errorf("answers out of command order: %v", out)
			}
		})
	}
}

// checkAnswer checks a's type, account and headers against its command.
func checkAnswer(t *testing.T, a answer) {
	t.Helper()
	c := script[a.cmd-1]
	if a.msg.Type != c.want || a.m.Header(bus.HeaderType) != c.want {
		t.Errorf("command %d (%s %s): answered %q (type header %q), want %q", a.cmd, c.msg.Type, c.msg.Account, a.msg.Type, a.m.Header(bus.HeaderType), c.want)
	}
	if a.m.Key != c.msg.Account {
		t.Errorf("command %d: answer keyed %q, want %q", a.cmd, a.m.Key, c.msg.Account)
	}
	if got := a.m.Header(service.HeaderCausation); got != "cmd-"+strconv.Itoa(a.cmd) {
		t.Errorf("command %d: causation %q", a.cmd, got)
	}
	if strings.HasSuffix(a.msg.Type, "rejected") || a.msg.Type == bank.EvCreditFailed {
		if a.msg.Reason == "" {
			t.Errorf("command %d: refusal %q without a reason", a.cmd, a.msg.Type)
		}
	}
}

// checkIDs checks that every answer has its own fresh ID.
func checkIDs(t *testing.T, got []answer) {
	t.Helper()
	ids := map[string]bool{}
	for _, a := range got {
		if a.m.ID == "" || ids[a.m.ID] || strings.HasPrefix(a.m.ID, "cmd-") {
			t.Errorf("answer to command %d: ID %q empty, repeated or the command's", a.cmd, a.m.ID)
		}
		ids[a.m.ID] = true
	}
}

// outOfOrder lists the accounts whose answers came in an order other than
// their commands'.
func outOfOrder(got []answer) []string {
	last := map[string]int{}
	var out []string
	for _, a := range got {
		if a.cmd < last[a.m.Key] {
			out = append(out, fmt.Sprintf("%s: command %d after %d", a.m.Key, a.cmd, last[a.m.Key]))
		}
		last[a.m.Key] = max(last[a.m.Key], a.cmd)
	}
	return out
}

// runScript runs a service on b, publishes msgs and returns the answers
// seen: exactly want of them, and then none for a while.
func runScript(t *testing.T, b *membus.Bus, cfg service.Config, msgs []*bus.Message, want int) []answer {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	answers := watch(ctx, t, b)
	stop := start(ctx, t, b, cfg)
	defer func() {
		cancel()
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	for _, m := range msgs {
		if err := b.Publish(ctx, m); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
	got := take(t, answers, want, 3*time.Second)
	select {
	case a := <-answers:
		t.Fatalf("%d answers, then another: to command %d", want, a.cmd)
	case <-time.After(300 * time.Millisecond): // longer than any hold
	}
	return got
}

// start runs a service on b until ctx is done, waiting for it to be
// ready; stop waits for Run to return, with a deadline.
func start(ctx context.Context, t *testing.T, b bus.Bus, cfg service.Config) (stop func() error) {
	t.Helper()
	svc := service.New(b, cfg)
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	select {
	case <-svc.Ready():
	case err := <-done:
		t.Fatalf("Run ended before ready: %v", err)
	case <-time.After(2 * time.Second):
		t.Fatal("service not ready in 2 s")
	}
	return func() error {
		select {
		case err := <-done:
			return err
		case <-time.After(3 * time.Second):
			return errors.New("Run did not return within 3 s of cancellation")
		}
	}
}

// watch subscribes a checker's group to the answers.
func watch(ctx context.Context, t *testing.T, b bus.Subscriber) <-chan answer {
	t.Helper()
	ds, err := b.Subscribe(ctx, service.DefaultOut, "checker")
	if err != nil {
		t.Fatalf("subscribe answers: %v", err)
	}
	out := make(chan answer, 1024)
	go func() {
		defer close(out)
		for d := range ds {
			m := d.Message()
			a := answer{m: m}
			a.cmd, _ = strconv.Atoi(strings.TrimPrefix(m.Header(service.DefaultCorrelationHeader), "corr-"))
			if err := json.Unmarshal(m.Payload, &a.msg); err != nil {
				a.msg.Type = "undecodable: " + err.Error()
			}
			_ = d.Ack(context.WithoutCancel(ctx)) // membus acks cannot fail but for a closed bus
			out <- a
		}
	}()
	return out
}

func take(t *testing.T, answers <-chan answer, n int, within time.Duration) []answer {
	t.Helper()
	deadline := time.After(within)
	var got []answer
	for len(got) < n {
		select {
		case a, ok := <-answers:
			if !ok {
				t.Fatalf("answers ended after %d of %d", len(got), n)
			}
			if a.cmd < 1 || a.cmd > len(script) {
				t.Fatalf("answer %s without a known correlation header: %v", a.m.ID, a.m.Headers)
			}
			got = append(got, a)
		case <-deadline:
			t.Fatalf("%d of %d answers within %v", len(got), n, within)
		}
	}
	return got
}

// TestShutdownFlushesHeld: an answer held back when Run ends is published
// before Run returns (late, not lost), and no hold timer outlives Run.
func TestShutdownFlushesHeld(t *testing.T) {
	b := membus.New()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	answers := watch(t.Context(), t, b)
	stop := start(ctx, t, b, service.Config{ReorderEvery: 2, HoldFor: time.Hour})
	for i, c := range script[:2] {
		if err := b.Publish(ctx, sent(i+1, c, service.DefaultIn)); err != nil {
			t.Fatal(err)
		}
	}
	got := take(t, answers, 1, 2*time.Second) // the second is held for an hour
	cancel()
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	got = append(got, take(t, answers, 1, time.Second)...)
	if got[0].cmd != 1 || got[1].cmd != 2 {
		t.Fatalf("answered commands %d, %d; want 1, 2", got[0].cmd, got[1].cmd)
	}
}

// failingBus publishes nothing: every publish fails.
type failingBus struct{ *membus.Bus }

var errBroker = errors.New("broker refuses")

func (failingBus) Publish(context.Context, ...*bus.Message) error { return errBroker }

// TestPublishFailureStopsRun: a publish that keeps failing ends Run with
// its error, and the command is not acked (it stays with the group).
func TestPublishFailureStopsRun(t *testing.T) {
	defer service.FastRetries()()
	mem := membus.New()
	if err := mem.Publish(t.Context(), sent(1, script[0], service.DefaultIn)); err != nil {
		t.Fatal(err)
	}
	err := service.New(failingBus{mem}, service.Config{}).Run(t.Context())
	if !errors.Is(err, errBroker) {
		t.Fatalf("Run = %v, want %v", err, errBroker)
	}
	if lag := mem.Lag(service.DefaultIn)[service.DefaultGroup]; lag != 1 {
		t.Fatalf("group lag %d after the failure, want 1 (the command requeued)", lag)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg    service.Config
		fields []string
	}{
		{service.Config{}, nil},
		{service.Config{In: "x", Out: "x"}, []string{"Out"}},
		{service.Config{DropEvery: -1, ReorderEvery: -2, HoldFor: -time.Second}, []string{"DropEvery", "ReorderEvery", "HoldFor"}},
		{service.Config{CorrelationHeader: service.HeaderCausation}, []string{"CorrelationHeader"}},
	}
	for _, tc := range tests {
		err := tc.cfg.Validate()
		var fields []string
		for _, e := range unwrapAll(err) {
			var fe *service.FieldError
			if errors.As(e, &fe) {
				fields = append(fields, fe.Field)
			}
		}
		if !slices.Equal(fields, tc.fields) || (err != nil) != errors.Is(err, service.ErrBadConfig) {
			t.Errorf("%+v: Validate = %v, want problems with %v", tc.cfg, err, tc.fields)
		}
	}
	if err := service.New(membus.New(), service.Config{DropEvery: -1}).Run(t.Context()); !errors.Is(err, service.ErrBadConfig) {
		t.Errorf("Run with a bad config = %v", err)
	}
}

func unwrapAll(err error) []error {
	var j interface{ Unwrap() []error }
	if errors.As(err, &j) {
		return j.Unwrap()
	}
	if err == nil {
		return nil
	}
	return []error{err}
}
