package signing

import (
	"errors"
	"fmt"
)

var (
	// ErrKeyTooShort is returned for a secret shorter than MinKeyLen bytes:
	// HMAC-SHA256 is only as strong as its key, and short keys can be guessed.
	ErrKeyTooShort = errors.New("signing: key too short")
	// ErrNoKeyID is returned for a key with an empty ID.
	ErrNoKeyID = errors.New("signing: empty key ID")
	// ErrKeyExists is returned when adding a key ID the keyring already
	// holds or once held: an ID names one secret for life, so a signature
	// never changes meaning.
	ErrKeyExists = errors.New("signing: key ID already used")
	// ErrUnknownKey is returned when naming a key ID the keyring does not
	// accept.
	ErrUnknownKey = errors.New("signing: unknown key")
	// ErrRetireCurrent is returned when retiring the current signing key:
	// rotate to another key first.
	ErrRetireCurrent = errors.New("signing: cannot retire the current key")
)

// Reason says why Verify rejected a message.
type Reason string

// Reasons for a *SignatureError.
const (
	// ReasonUnsigned: the message has no HeaderSignature.
	ReasonUnsigned Reason = "unsigned"
	// ReasonMalformed: the signature headers are present but unusable (no
	// key ID, or a signature that is not hex of the right length).
	ReasonMalformed Reason = "malformed signature"
	// ReasonUnknownKey: the key ID is not in the keyring.
	ReasonUnknownKey Reason = "unknown key"
	// ReasonRetiredKey: the key was accepted once and has been retired.
	ReasonRetiredKey Reason = "retired key"
	// ReasonMismatch: the MAC does not match: the message was altered after
	// signing, or signed with another secret under the same ID.
	ReasonMismatch Reason = "signature mismatch"
)

// SignatureError is why a message failed verification.
type SignatureError struct {
	MessageID string
	Topic     string
	KeyID     string // as claimed by the message; "" when absent
	Reason    Reason
}

func (e *SignatureError) Error() string {
	if e.KeyID == "" {
		return fmt.Sprintf("signing: message %q on %q: %s", e.MessageID, e.Topic, e.Reason)
	}
	return fmt.Sprintf("signing: message %q on %q: %s (key %q)", e.MessageID, e.Topic, e.Reason, e.KeyID)
}
