// Package pebbleinbox is a durable bus.Inbox on Pebble: the IDs a consumer
// group has processed survive a restart, so a message redelivered after a
// crash still has its effect once (invariant 8).
//
// Done writes the processed record with a synced Pebble commit before it
// returns, so a message whose handler finished and whose Done returned is
// never run again, whatever happens next. Concurrent Dones share WAL syncs
// through Pebble's commit pipeline.
//
// Claims (Begin until Done or Abort) live only in memory. Pebble locks its
// directory to one process, so in-memory claims are exact for that
// process, and a crash releases every claim with it: a handler that died
// mid-message does not block the redelivery, which runs it again (the
// effect was never recorded). This is why a durable inbox here needs no
// lease.
//
// With WithRetention, records older than the retention (on the clock given
// by WithNow) count as absent and Purge deletes them, bounding the inbox to the
// broker's redelivery horizon.
package pebbleinbox
