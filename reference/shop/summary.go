package shop

import (
	"sort"
	"sync"
	"time"

	"github.com/edkit-dev/edkit/reference/event"
)

// OrderSummary is one row of the order-summary read model.
type OrderSummary struct {
	OrderID       string    `json:"orderId"`
	Customer      string    `json:"customer"`
	Status        string    `json:"status"`
	AmountCents   int64     `json:"amountCents"`
	StockReserved bool      `json:"stockReserved"`
	StockReleased bool      `json:"stockReleased"`
	Paid          bool      `json:"paid"`
	Reason        string    `json:"reason,omitempty"`
	Events        int       `json:"events"`
	UpdatedAt     time.Time `json:"updatedAt"`
}

// Summaries is the order-summary projection: a read model folded from the
// shop's events. Apply is idempotent per stream version, so at-least-once
// delivery never counts an event twice, and an event older than one already
// applied is ignored (its checkpoint never moves back).
type Summaries struct {
	mu       sync.Mutex
	rows     map[string]*OrderSummary
	versions map[string]uint64
	onChange []func(OrderSummary)
}

// NewSummaries returns an empty read model.
func NewSummaries() *Summaries {
	return &Summaries{rows: map[string]*OrderSummary{}, versions: map[string]uint64{}}
}

// OnChange registers f to be called, outside the lock, with each row after it
// changes. Load runs use it to time "command sent → read model shows it".
func (s *Summaries) OnChange(f func(OrderSummary)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onChange = append(s.onChange, f)
}

// Apply folds one event in. It returns false when the event was already
// applied or is not one the read model shows.
func (s *Summaries) Apply(e event.Envelope) (bool, error) {
	var ref OrderRef
	if err := e.Decode(&ref); err != nil {
		return false, err
	}
	s.mu.Lock()
	if e.Version != 0 && e.Version <= s.versions[e.Stream] {
		s.mu.Unlock()
		return false, nil
	}
	row := s.rows[ref.OrderID]
	if row == nil {
		row = &OrderSummary{OrderID: ref.OrderID}
	}
	switch e.Type {
	case EvtOrderPlaced:
		var p OrderPlaced
		if err := e.Decode(&p); err != nil {
			s.mu.Unlock()
			return false, err
		}
		row.Customer, row.AmountCents = p.Customer, p.AmountCents
		if row.Status == "" {
			row.Status = StatusPlaced
		}
	case EvtOrderConfirmed:
		row.Status = StatusConfirmed
	case EvtOrderCancelled:
		row.Status = StatusCancelled
		row.Reason = ref.Reason
	case EvtStockReserved:
		row.StockReserved = true
	case EvtStockReleased:
		row.StockReleased = true
	case EvtPaymentCharged:
		row.Paid = true
	case EvtStockReservationFailed, EvtPaymentDeclined:
		row.Reason = ref.Reason
	default:
		s.mu.Unlock()
		return false, nil
	}
	if e.Version != 0 {
		s.versions[e.Stream] = e.Version
	}
	row.Events++
	row.UpdatedAt = e.Time
	s.rows[ref.OrderID] = row
	snapshot := *row
	hooks := s.onChange
	s.mu.Unlock()
	for _, f := range hooks {
		f(snapshot)
	}
	return true, nil
}

// Get returns one order's row.
func (s *Summaries) Get(orderID string) (OrderSummary, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.rows[orderID]
	if !ok {
		return OrderSummary{}, false
	}
	return *r, true
}

// All returns every row, ordered by order ID.
func (s *Summaries) All() []OrderSummary {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]OrderSummary, 0, len(s.rows))
	for _, r := range s.rows {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].OrderID < out[j].OrderID })
	return out
}
