package bank_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/edkit-dev/edkit/examples/bank"
	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/membus"
)

func TestBank(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Bank scenarios")
}

// world is one bank on its own membus, with a spy on its events and a
// count of the commands the accounts group handled.
type world struct {
	bank *bank.Bank

	mu      sync.Mutex
	events  map[string][]string // transfer → event types, in order
	handled map[string]int      // command message ID → deliveries handled
}

// given starts a bank with bugs on a fresh bus and opens accounts
// (balance < 0: open it and freeze it); the bank stops when the spec ends.
func given(bugs bank.Bugs, accounts map[string]int64) *world {
	GinkgoHelper()
	w := &world{events: map[string][]string{}, handled: map[string]int{}}
	mb := membus.New()
	w.bank = bank.NewBank(mb, bank.WithBugs(bugs), bank.WithWrap(w.count))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- w.bank.Run(ctx) }()
	go func() { done <- bus.Consume(ctx, mb, bank.TopicEvents, "spy", w.spy) }()
	DeferCleanup(func() {
		cancel()
		Eventually(done).Should(Receive(Succeed()))
		Eventually(done).Should(Receive(Succeed()))
		Expect(mb.Close()).To(Succeed())
	})
	for name, balance := range accounts {
		Expect(w.bank.Open(ctx, name, max(balance, 0))).To(Succeed())
		if balance < 0 {
			Expect(w.bank.Freeze(ctx, name)).To(Succeed())
		}
	}
	return w
}

func (w *world) count(group string, h bus.Handler) bus.Handler {
	return func(ctx context.Context, m *bus.Message) error {
		err := h(ctx, m)
		if group == bank.GroupAccounts {
			w.mu.Lock()
			w.handled[m.ID]++
			w.mu.Unlock()
		}
		return err
	}
}

func (w *world) spy(_ context.Context, m *bus.Message) error {
	var e struct{ Type, Transfer string }
	if err := json.Unmarshal(m.Payload, &e); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if e.Transfer != "" {
		w.events[e.Transfer] = append(w.events[e.Transfer], e.Type)
	}
	return nil
}

func (w *world) eventsOf(transfer string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.events[transfer]...)
}

func (w *world) handledCount(id string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.handled[id]
}

// audit is every problem Audit finds with the transfers named.
func (w *world) audit(transfers ...string) []string {
	money, outcomes := w.bank.Audit(transfers)
	return append(money, outcomes...)
}

// balances are the projection's balances of the accounts named.
func (w *world) balances(names ...string) map[string]int64 {
	out := map[string]int64{}
	for _, n := range names {
		out[n] = w.bank.Balance(n)
	}
	return out
}

const timeout = 5 * time.Second

// Every wait fails within 3 s with what it waited for, inside the specs'
// 5 s timeouts.
var _ = BeforeSuite(func() {
	SetDefaultEventuallyTimeout(3 * time.Second)
	EnforceDefaultTimeoutsWhenUsingContexts()
})

var _ = Describe("A transfer", func() {
	It("with enough funds completes and moves the money", func(ctx SpecContext) {
		w := given(bank.Bugs{}, map[string]int64{"alice": 100, "bob": 0})

		Expect(w.bank.Transfer(ctx, "t-1", "alice", "bob", 30)).To(Succeed())

		Eventually(ctx, w.bank.Status).WithArguments("t-1").Should(Equal(bank.Completed))
		Eventually(ctx, w.balances).WithArguments("alice", "bob").Should(Equal(map[string]int64{"alice": 70, "bob": 30}))
		Eventually(ctx, w.eventsOf).WithArguments("t-1").Should(Equal([]string{bank.EvDebited, bank.EvCredited}))
		Eventually(ctx, w.audit).WithArguments("t-1").Should(BeEmpty())
	}, SpecTimeout(timeout))

	DescribeTable("that cannot complete ends where it started",
		func(ctx SpecContext, to string, amount int64, state string, events []string) {
			w := given(bank.Bugs{}, map[string]int64{"alice": 100, "bob": 0, "frozen": -1})

			Expect(w.bank.Transfer(ctx, "t-1", "alice", to, amount)).To(Succeed())

			Eventually(ctx, w.bank.Status).WithArguments("t-1").Should(Equal(state))
			Eventually(ctx, w.eventsOf).WithArguments("t-1").Should(Equal(events))
			Eventually(ctx, w.balances).WithArguments("alice", "bob", "frozen").
				Should(Equal(map[string]int64{"alice": 100, "bob": 0, "frozen": 0}))
			Eventually(ctx, w.audit).WithArguments("t-1").Should(BeEmpty())
		},
		Entry("rejected: insufficient funds, nothing to compensate", SpecTimeout(timeout), "bob", int64(500), bank.Rejected,
			[]string{bank.EvDebitRejected}),
		Entry("compensated: to a frozen account, the money comes back", SpecTimeout(timeout), "frozen", int64(30), bank.Compensated,
			[]string{bank.EvDebited, bank.EvCreditFailed, bank.EvRefunded}),
		Entry("compensated: to an account that does not exist", SpecTimeout(timeout), "nobody", int64(30), bank.Compensated,
			[]string{bank.EvDebited, bank.EvCreditFailed, bank.EvRefunded}),
	)

	It("duplicated as a command moves the money once", func(ctx SpecContext) {
		w := given(bank.Bugs{}, map[string]int64{"alice": 100, "bob": 0})

		Expect(w.bank.Transfer(ctx, "t-1", "alice", "bob", 30)).To(Succeed())
		Expect(w.bank.Transfer(ctx, "t-1", "alice", "bob", 30)).To(Succeed())

		Eventually(ctx, w.handledCount).WithArguments("t-1/debit").Should(Equal(2))
		Eventually(ctx, w.bank.Status).WithArguments("t-1").Should(Equal(bank.Completed))
		Eventually(ctx, w.eventsOf).WithArguments("t-1").Should(Equal([]string{bank.EvDebited, bank.EvCredited}))
		Consistently(ctx, w.balances).WithArguments("alice", "bob").WithTimeout(200 * time.Millisecond).
			Should(Equal(map[string]int64{"alice": 70, "bob": 30}))
		Expect(w.audit("t-1")).To(BeEmpty())
	}, SpecTimeout(timeout))

	Context("in a bank that skips compensation (a seeded bug)", func() {
		It("to a frozen account loses the money, and the audit says so", func(ctx SpecContext) {
			w := given(bank.Bugs{SkipCompensation: true}, map[string]int64{"alice": 100, "frozen": -1})

			Expect(w.bank.Transfer(ctx, "t-1", "alice", "frozen", 30)).To(Succeed())

			Eventually(ctx, w.eventsOf).WithArguments("t-1").Should(Equal([]string{bank.EvDebited, bank.EvCreditFailed}))
			Eventually(ctx, w.audit).WithArguments("t-1").Should(ContainElements(
				"the accounts hold 70, opened with 100",
				ContainSubstring("transfer t-1 (failed): debited 30, credited 0, refunded 0"),
				ContainSubstring(`transfer t-1 ended "failed"`)))
			Expect(w.bank.Balance("alice")).To(Equal(int64(70)))
		}, SpecTimeout(timeout))
	})
})
