package shopscenario_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/edkit-dev/edkit/cmd/edload/shopsystem/shopscenario"
	"github.com/edkit-dev/edkit/harness/env/embedded"
	"github.com/edkit-dev/edkit/reference/shop"
)

func TestScenarios(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Scenarios Suite")
}

// shopFiles are the shop's scenario files, kept with edkit's scenario
// layer where users look for them.
const shopFiles = "../../../../scenarios/shop"

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

func target(name string) shopscenario.Target {
	if name == "kafka" {
		return shopscenario.Kafka(brokers)
	}
	return shopscenario.InMemory()
}

// shopEntries is one entry per scenario file and target.
func shopEntries() []TableEntry {
	files, err := filepath.Glob(filepath.Join(shopFiles, "*.yaml"))
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
	scs, err := shopscenario.LoadFile(file)
	Expect(err).NotTo(HaveOccurred())
	for _, sc := range scs {
		out, err := shopscenario.Run(ctx, sc, target(targetName))
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(shopscenario.Pass())
	}
}, shopEntries())

var _ = Describe("a scenario that does not hold", func() {
	wrong := func() *shopscenario.Scenario {
		return shopscenario.New("expects the wrong status").
			Stock("book", 5).
			Timeout(300*time.Millisecond).
			When(shopscenario.Command("cmd-1", shop.Command{Type: shop.CmdPlaceOrder, OrderID: "o-1", Customer: "alice",
				Items: []shop.Item{{SKU: "book", Qty: 1}}, AmountCents: 1200})).
			Then(shopscenario.OrderStatus("o-1", shop.StatusCancelled), shopscenario.Charges("o-1", 1)).
			Build()
	}

	It("fails, and its report carries the transcript", func(ctx SpecContext) {
		out, err := shopscenario.Run(ctx, wrong(), shopscenario.InMemory())
		Expect(err).NotTo(HaveOccurred())
		Expect(out).NotTo(shopscenario.Pass())
		Expect(out.Failures()).To(HaveLen(1))
		Expect(out.Failures()[0].Message).To(Equal(`order o-1 is confirmed (reason "")`))

		report := shopscenario.Pass().FailureMessage(out)
		Expect(report).To(ContainSubstring("FAIL order o-1 is cancelled: order o-1 is confirmed"))
		Expect(report).To(ContainSubstring("transcript ("))
		Expect(report).To(MatchRegexp(`send\s+scenario\s+shop\.commands\s+PlaceOrder\s+id=cmd-1`))
		Expect(report).To(MatchRegexp(`deliver\s+command-service\s+shop\.commands\s+ChargePayment\s+id=o-1/ChargePayment key=o-1 → ok`))
		Expect(report).To(MatchRegexp(`deliver\s+order-saga\s+shop\.events\s+OrderConfirmed`))
	}, SpecTimeout(10*time.Second))

	It("is rejected before running when it is invalid", func(ctx SpecContext) {
		sc := shopscenario.New("no expectations").When(shopscenario.Poison("p-1", shop.TopicCommands, "k", "x")).Build()
		_, err := shopscenario.Run(ctx, sc, shopscenario.InMemory())
		Expect(err).To(MatchError(shopscenario.ErrInvalidScenario))
		Expect(err).To(MatchError(ContainSubstring("needs at least one then expectation")))
	}, SpecTimeout(5*time.Second))
})

var _ = Describe("composed matchers", func() {
	It("read the transcript of a compensated order", func(ctx SpecContext) {
		sc := shopscenario.New("declined, with a poison message beside it").
			Stock("book", 3).
			Decline("mallory").
			Dedup(true).
			When(
				shopscenario.Poison("p-1", shop.TopicCommands, "o-9", "{"),
				shopscenario.Command("cmd-1", shop.Command{Type: shop.CmdPlaceOrder, OrderID: "o-1", Customer: "mallory",
					Items: []shop.Item{{SKU: "book", Qty: 1}}, AmountCents: 500}),
			).
			Then(shopscenario.OrderStatus("o-1", shop.StatusCancelled), shopscenario.DeadLettered("p-1", 3, "invalid command")).
			Build()
		out, err := shopscenario.Run(ctx, sc, shopscenario.InMemory())
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(shopscenario.Pass())
		Expect(out).To(shopscenario.HaveReceivedCommands("o-1",
			shop.CmdReserveStock, shop.CmdChargePayment, shop.CmdReleaseStock, shop.CmdCancelOrder))
		Expect(out).NotTo(shopscenario.HaveReceivedCommands("o-1", shop.CmdReserveStock, shop.CmdChargePayment, shop.CmdConfirmOrder))
		Expect(out).To(shopscenario.HaveDeadLettered("p-1", 3))
		Expect(out).NotTo(shopscenario.HaveDeadLettered("cmd-1", 0))
	}, SpecTimeout(10*time.Second))
})
