// Package saga is the core of orchestrated sagas: a definition of steps with
// their compensations, and a state folded from persisted transitions that
// enforces the saga invariant — each saga ends completed, or with every done
// step compensated in reverse order. The shop's order-fulfilment saga is built
// on it; deadlines on an injectable clock come in a later issue.
package saga
