package scenarios_test

import (
	"context"
	"fmt"

	"github.com/edkit-dev/edkit/reference/shop"
	"github.com/edkit-dev/edkit/scenarios"
)

func Example() {
	sc := scenarios.New("payment declined").
		Stock("book", 5).
		Decline("mallory").
		Dedup(true).
		When(scenarios.Command("cmd-1", shop.Command{
			Type: shop.CmdPlaceOrder, OrderID: "o-1", Customer: "mallory",
			Items: []shop.Item{{SKU: "book", Qty: 2}}, AmountCents: 2400,
		})).
		Then(
			scenarios.OrderStatus("o-1", shop.StatusCancelled),
			scenarios.Commands("o-1", shop.CmdReserveStock, shop.CmdChargePayment, shop.CmdReleaseStock, shop.CmdCancelOrder),
			scenarios.Charges("o-1", 0),
			scenarios.StockOnHand("book", 5),
		).
		Build()

	out, err := scenarios.Run(context.Background(), sc, scenarios.InMemory())
	if err != nil {
		fmt.Println("run:", err)
		return
	}
	fmt.Println("passed:", out.Passed())
	for _, r := range out.Results {
		fmt.Println(r.Passed, r.Expectation)
	}
	// Output:
	// passed: true
	// true order o-1 is cancelled
	// true order o-1 received commands [ReserveStock, ChargePayment, ReleaseStock, CancelOrder]
	// true order o-1 charged 0 time(s)
	// true sku book has 5 on hand
}
