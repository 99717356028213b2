package shop

import "errors"

var (
	// ErrInvalidCommand marks a command payload that cannot be decoded or
	// lacks fields; such a message is poison and ends in the DLQ.
	ErrInvalidCommand = errors.New("shop: invalid command")
	// ErrOrderNotFound is returned for commands on an order never placed.
	ErrOrderNotFound = errors.New("shop: order not found")
	// ErrOrderClosed is returned for commands on a confirmed or cancelled order.
	ErrOrderClosed = errors.New("shop: order already closed")
	// ErrOutOfStock is the reason a reservation fails.
	ErrOutOfStock = errors.New("shop: out of stock")
)
