package shop

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Inventory holds stock. Like many real downstream systems it has no
// idempotency key: reserving twice for one order takes the stock twice. The
// command service's inbox is what keeps redelivered commands from doing that,
// and the duplicate-effect checker is what proves it.
type Inventory interface {
	Reserve(ctx context.Context, orderID string, items []Item) error
	Release(ctx context.Context, orderID string) error
}

// PaymentGateway takes money. Charge is not idempotent, for the same reason
// as Inventory. A declined charge returns an error wrapping ErrDeclined.
type PaymentGateway interface {
	Charge(ctx context.Context, orderID, customer string, amountCents int64) (chargeID string, err error)
}

// ErrDeclined is returned by a gateway that refuses a charge.
var ErrDeclined = errors.New("shop: payment declined")

// MemoryInventory is an in-memory stock ledger.
type MemoryInventory struct {
	mu       sync.Mutex
	onHand   map[string]int
	reserved map[string][][]Item // per order, one entry per Reserve call
	// Unlimited SKUs are those never stocked: when true, unknown SKUs have
	// infinite stock, which suits load runs.
	unlimited bool
}

var _ Inventory = (*MemoryInventory)(nil)

// NewMemoryInventory returns an inventory with the given stock. SKUs not in
// stock are out of stock, unless unlimited is true.
func NewMemoryInventory(stock map[string]int, unlimited bool) *MemoryInventory {
	m := &MemoryInventory{onHand: map[string]int{}, reserved: map[string][][]Item{}, unlimited: unlimited}
	for k, v := range stock {
		m.onHand[k] = v
	}
	return m
}

// Reserve takes the items' quantities from stock, all or nothing.
func (m *MemoryInventory) Reserve(_ context.Context, orderID string, items []Item) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, it := range items {
		have, ok := m.onHand[it.SKU]
		if !ok && m.unlimited {
			continue
		}
		if have < it.Qty {
			return fmt.Errorf("%w: %s has %d, order %s needs %d", ErrOutOfStock, it.SKU, have, orderID, it.Qty)
		}
	}
	for _, it := range items {
		if _, ok := m.onHand[it.SKU]; ok {
			m.onHand[it.SKU] -= it.Qty
		}
	}
	m.reserved[orderID] = append(m.reserved[orderID], append([]Item(nil), items...))
	return nil
}

// Release returns the order's most recent reservation to stock. Releasing an
// order with nothing reserved is a no-op.
func (m *MemoryInventory) Release(_ context.Context, orderID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	rs := m.reserved[orderID]
	if len(rs) == 0 {
		return nil
	}
	last := rs[len(rs)-1]
	m.reserved[orderID] = rs[:len(rs)-1]
	for _, it := range last {
		if _, ok := m.onHand[it.SKU]; ok {
			m.onHand[it.SKU] += it.Qty
		}
	}
	return nil
}

// OnHand reports a SKU's stock.
func (m *MemoryInventory) OnHand(sku string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.onHand[sku]
}

// Reservations counts the reservations held for an order.
func (m *MemoryInventory) Reservations(orderID string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.reserved[orderID])
}

// MemoryGateway is an in-memory payment gateway. It declines customers in
// Declined and charges above Limit (when Limit > 0).
type MemoryGateway struct {
	mu       sync.Mutex
	declined map[string]bool
	limit    int64
	charges  map[string]int
	n        int
}

var _ PaymentGateway = (*MemoryGateway)(nil)

// NewMemoryGateway returns a gateway that declines the named customers and
// any charge above limitCents (0: no limit).
func NewMemoryGateway(limitCents int64, declined ...string) *MemoryGateway {
	g := &MemoryGateway{declined: map[string]bool{}, limit: limitCents, charges: map[string]int{}}
	for _, c := range declined {
		g.declined[c] = true
	}
	return g
}

// Charge takes the money or declines.
func (g *MemoryGateway) Charge(_ context.Context, orderID, customer string, amountCents int64) (string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.declined[customer] {
		return "", fmt.Errorf("%w: customer %s", ErrDeclined, customer)
	}
	if g.limit > 0 && amountCents > g.limit {
		return "", fmt.Errorf("%w: %d cents is over the limit of %d", ErrDeclined, amountCents, g.limit)
	}
	g.n++
	g.charges[orderID]++
	return fmt.Sprintf("ch-%d", g.n), nil
}

// Charges counts successful charges for an order: more than one is a
// duplicate effect.
func (g *MemoryGateway) Charges(orderID string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.charges[orderID]
}
