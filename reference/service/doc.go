// Package service wires the shop into a running system: the command service
// (orders, inventory, payments), the order-fulfilment saga, the order-summary
// projection and the relay that publishes stored events to the bus. It runs
// in one process over any eventstore.Store and bus.Bus; the harness plugs in
// through Config.Wrap (recording, faults) without the system knowing.
package service
