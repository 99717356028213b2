package shopscenario_test

import (
	"context"
	"fmt"

	"github.com/edkit-dev/edkit/cmd/edload/shopsystem/shopscenario"
	"github.com/edkit-dev/edkit/reference/shop"
)

func Example() {
	sc := shopscenario.New("payment declined").
		Stock("book", 5).
		Decline("mallory").
		Dedup(true).
		When(shopscenario.Command("cmd-1", shop.Command{
			Type: shop.CmdPlaceOrder, OrderID: "o-1", Customer: "mallory",
			Items: []shop.Item{{SKU: "book", Qty: 2}}, AmountCents: 2400,
		})).
		Then(
			shopscenario.OrderStatus("o-1", shop.StatusCancelled),
			shopscenario.Commands("o-1", shop.CmdReserveStock, shop.CmdChargePayment, shop.CmdReleaseStock, shop.CmdCancelOrder),
			shopscenario.Charges("o-1", 0),
			shopscenario.StockOnHand("book", 5),
		).
		Build()

	out, err := shopscenario.Run(context.Background(), sc, shopscenario.InMemory())
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
