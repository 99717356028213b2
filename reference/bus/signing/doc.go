// Package signing authenticates bus messages with HMAC-SHA256, so a consumer
// can tell a message its own producers published from one that was forged or
// altered on the way (a shared broker, a replayed DLQ, a misconfigured
// bridge). Brokers authenticate connections, not messages; a signature that
// travels in the message's headers survives every hop and every backend.
//
// Publisher signs each message with the Keyring's current key and adds two
// headers: HeaderKeyID names the key and HeaderSignature carries the hex MAC.
// Verify is consumer middleware that recomputes the MAC and rejects a
// message that is unsigned, signed with an unknown or retired key, or
// altered. A rejection is a *SignatureError wrapped with bus.Permanent:
// retrying cannot make a forged message genuine, so Retry gives up at once
// and DeadLetter parks it for inspection.
//
// # What the MAC covers
//
// The MAC covers the message ID, topic, key, payload and every header except
// the two signature headers, bus.HeaderAttempt (which brokers set on
// redelivery) and any named with IgnoreHeaders. They are encoded
// canonically: a version tag, then each field as an 8-byte big-endian length
// followed by its bytes, then the header count and each header's name and
// value the same way, in byte order of name. Length prefixes make the
// encoding unambiguous (moving bytes from one field to the next changes it)
// and sorting makes it independent of map order, so re-ordered headers verify
// and any other change does not. A nil and an empty payload encode alike, as
// do nil and empty header maps: brokers do not keep the difference.
//
// Wrap the broker's publisher with Publisher innermost, closest to the
// broker, so headers that other publisher wrappers add (trace context, say)
// are signed too; a header added after signing fails verification.
//
// A dead-lettered copy is on another topic with DLQ headers added, so its
// signature no longer matches; verify messages on their original topic.
//
// # Key rotation
//
// A Keyring holds the current signing key and the keys accepted for
// verification. To rotate, Add the new key to every consumer's keyring
// first, then Rotate producers to it; old messages still verify until the
// old key is Retired, after which they are rejected as ReasonRetiredKey.
package signing
