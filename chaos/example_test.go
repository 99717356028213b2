package chaos_test

import (
	"context"
	"fmt"
	"time"

	"github.com/edkit-dev/edkit/chaos"
	"github.com/edkit-dev/edkit/harness/clock"
	"github.com/edkit-dev/edkit/reference/bus"
)

// Every delivery is chosen for reordering and corruption: the first is held
// until the second has been handled, and each handler gets a copy with a
// flipped byte. The journal says what was done, replayably for the seed.
func ExampleMessageFault() {
	f, _ := chaos.NewMessageFault(chaos.MessageFaultConfig{Seed: 1, Reorder: 1, MaxHold: time.Second, Corrupt: 1},
		clock.NewVirtual(time.Unix(0, 0)))
	h := f.Middleware("billing")(func(_ context.Context, m *bus.Message) error {
		fmt.Printf("handled %s %q\n", m.ID, m.Payload)
		return nil
	})
	for _, id := range []string{"1", "2"} {
		_ = h(context.Background(), &bus.Message{ID: id, Topic: "orders", Key: "o-1", Payload: []byte("paid")})
	}
	for _, in := range f.Journal() {
		fmt.Printf("%s %s offsets=%v after=%q\n", in.Kind, in.MsgID, in.Offsets, in.After)
	}
	// Output:
	// handled 2 "\xcbaid"
	// handled 1 "paHd"
	// corrupt 1 offsets=[2] after=""
	// reorder 1 offsets=[] after="2"
	// corrupt 2 offsets=[0] after=""
}
