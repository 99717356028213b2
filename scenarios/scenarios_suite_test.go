package scenarios_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/edkit-dev/edkit/harness/env/embedded"
	"github.com/edkit-dev/edkit/reference/shop"
	"github.com/edkit-dev/edkit/scenarios"
)

func TestScenarios(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Scenarios Suite")
}

// brokers is the embedded Kafka cluster every Kafka entry shares: each run
// gets its own topics and groups on it, so one cluster serves the binary.
var brokers []string

var _ = SynchronizedBeforeSuite(func(ctx SpecContext) []byte {
	e, err := embedded.StartKafka(ctx)
	Expect(err).NotTo(HaveOccurred(), "start embedded Kafka")
	DeferCleanup(e.Close)
	return []byte(strings.Join(e.Component("kafka").Endpoint().Addrs, ","))
}, func(data []byte) {
	brokers = strings.Split(string(data), ",")
}, NodeTimeout(30*time.Second))

func target(name string) scenarios.Target {
	if name == "kafka" {
		return scenarios.Kafka(brokers)
	}
	return scenarios.InMemory()
}

// shopEntries is one entry per scenario file and target.
func shopEntries() []TableEntry {
	files, err := filepath.Glob(filepath.Join("shop", "*.yaml"))
	if err != nil || len(files) == 0 {
		panic("no scenario files in scenarios/shop")
	}
	var out []TableEntry
	for _, f := range files {
		out = append(out,
			Entry(filepath.Base(f)+" in memory", f, "memory", SpecTimeout(20*time.Second)),
			Entry(filepath.Base(f)+" on embedded Kafka", f, "kafka", Label("integration"), SpecTimeout(60*time.Second)),
		)
	}
	return out
}

var _ = DescribeTable("shop scenarios", func(ctx SpecContext, file, targetName string) {
	scs, err := scenarios.LoadFile(file)
	Expect(err).NotTo(HaveOccurred())
	for _, sc := range scs {
		out, err := scenarios.Run(ctx, sc, target(targetName))
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(scenarios.Pass())
	}
}, shopEntries())

var _ = Describe("a scenario that does not hold", func() {
	wrong := func() *scenarios.Scenario {
		return scenarios.New("expects the wrong status").
			Stock("book", 5).
			Timeout(300*time.Millisecond).
			When(scenarios.Command("cmd-1", shop.Command{Type: shop.CmdPlaceOrder, OrderID: "o-1", Customer: "alice",
				Items: []shop.Item{{SKU: "book", Qty: 1}}, AmountCents: 1200})).
			Then(scenarios.OrderStatus("o-1", shop.StatusCancelled), scenarios.Charges("o-1", 1)).
			Build()
	}

	It("fails, and its report carries the transcript", func(ctx SpecContext) {
		out, err := scenarios.Run(ctx, wrong(), scenarios.InMemory())
		Expect(err).NotTo(HaveOccurred())
		Expect(out).NotTo(scenarios.Pass())
		Expect(out.Failures()).To(HaveLen(1))
		Expect(out.Failures()[0].Message).To(Equal(`order o-1 is confirmed (reason "")`))

		report := scenarios.Pass().FailureMessage(out)
		Expect(report).To(ContainSubstring("FAIL order o-1 is cancelled: order o-1 is confirmed"))
		Expect(report).To(ContainSubstring("transcript ("))
		Expect(report).To(MatchRegexp(`send\s+scenario\s+shop\.commands\s+PlaceOrder\s+id=cmd-1`))
		Expect(report).To(MatchRegexp(`deliver\s+command-service\s+shop\.commands\s+ChargePayment\s+id=o-1/ChargePayment key=o-1 → ok`))
		Expect(report).To(MatchRegexp(`deliver\s+order-saga\s+shop\.events\s+OrderConfirmed`))
	}, SpecTimeout(10*time.Second))

	It("is rejected before running when it is invalid", func(ctx SpecContext) {
		sc := scenarios.New("no expectations").When(scenarios.Poison("p-1", shop.TopicCommands, "k", "x")).Build()
		_, err := scenarios.Run(ctx, sc, scenarios.InMemory())
		Expect(err).To(MatchError(scenarios.ErrInvalidScenario))
		Expect(err).To(MatchError(ContainSubstring("needs at least one then expectation")))
	}, SpecTimeout(5*time.Second))
})

var _ = Describe("composed matchers", func() {
	It("read the transcript of a compensated order", func(ctx SpecContext) {
		sc := scenarios.New("declined, with a poison message beside it").
			Stock("book", 3).
			Decline("mallory").
			Dedup(true).
			When(
				scenarios.Poison("p-1", shop.TopicCommands, "o-9", "{"),
				scenarios.Command("cmd-1", shop.Command{Type: shop.CmdPlaceOrder, OrderID: "o-1", Customer: "mallory",
					Items: []shop.Item{{SKU: "book", Qty: 1}}, AmountCents: 500}),
			).
			Then(scenarios.OrderStatus("o-1", shop.StatusCancelled), scenarios.DeadLettered("p-1", 3, "invalid command")).
			Build()
		out, err := scenarios.Run(ctx, sc, scenarios.InMemory())
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(scenarios.Pass())
		Expect(out).To(scenarios.HaveReceivedCommands("o-1",
			shop.CmdReserveStock, shop.CmdChargePayment, shop.CmdReleaseStock, shop.CmdCancelOrder))
		Expect(out).NotTo(scenarios.HaveReceivedCommands("o-1", shop.CmdReserveStock, shop.CmdChargePayment, shop.CmdConfirmOrder))
		Expect(out).To(scenarios.HaveDeadLettered("p-1", 3))
		Expect(out).NotTo(scenarios.HaveDeadLettered("cmd-1", 0))
	}, SpecTimeout(10*time.Second))
})
