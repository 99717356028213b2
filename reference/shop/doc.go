// Package shop is the reference system's example domain: orders, stock and
// payments, the order-fulfilment saga (reserve stock, charge payment,
// confirm; on failure release stock and cancel, in reverse order) and the
// order-summary read model. Its downstream systems (Inventory,
// PaymentGateway) are deliberately not idempotent, as many real ones are not:
// the inbox is what keeps a redelivered command from repeating their effects.
package shop
