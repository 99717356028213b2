// Package redisbus implements bus.Bus over Redis Streams with
// github.com/redis/go-redis/v9.
//
// A topic is one stream (key = prefix + topic). Publish is one XADD per
// message (fields id, key, payload and headers as JSON), pipelined, and
// returns nil only once every reply confirmed an entry ID; an error that is
// not a Redis error reply (timeout, connection lost mid-pipeline,
// cancellation) wraps bus.ErrOutcomeUnknown. The client does not retry
// commands on its own, so a confirmed publish is never written twice by the
// client. With MaxLen, XADD trims the stream approximately (MAXLEN ~), which
// deletes old entries whether or not every group has read them.
//
// Subscribe(topic, group) creates the group from the start of the stream
// (XGROUP CREATE ... 0 MKSTREAM) and is one consumer of it, under a fresh
// consumer name. Every group reads every entry; the members of a group
// share entries as Redis hands them out (XREADGROUP), which knows nothing of
// keys. What is promised:
//
//   - At-least-once: an entry stays pending until Ack (XACK) or Nack without
//     requeue (XACK: dropped). Entries of a consumer that died are reclaimed
//     by another member with XAUTOCLAIM once idle for MinIdle, and delivered
//     with bus.HeaderAttempt set from the stream's delivery count. A live
//     subscription renews its entries' idle time every MinIdle/3 so they are
//     not stolen while queued or being handled; when it ends (ctx, Close) it
//     marks its unsettled entries as idle for a year, so the next member
//     reclaims them at once, and later settles return ErrRevoked.
//   - Duplicates: a reclaimed entry whose first handler had in fact finished
//     but not acked, an ack whose reply was lost, or a lease that lapsed
//     during a Redis outage.
//   - Per-key order within one subscription: at most one unsettled delivery
//     per key, in stream order, and Nack(requeue) delivers the same entry
//     again (no Redis round trip, attempt + 1) before anything later of its
//     key. Messages without a key are not ordered. Across members of one
//     group nothing is promised: two members may hold entries of one key at
//     the same time, and a reclaimed entry may arrive after a later one of
//     its key was already delivered.
//   - Loss only by trimming (MaxLen), DeleteOnAck with several groups, or a
//     Redis that loses writes (run it with appendfsync always).
//
// Back-pressure: a subscription holds at most MaxInFlight entries read but
// not settled, and reads no more until some are settled.
package redisbus
