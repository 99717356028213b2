package signing

import (
	"fmt"
	"sync"
)

// MinKeyLen is the shortest secret a Keyring accepts: 32 bytes, the size of
// the SHA-256 output, below which the key, not the hash, bounds the MAC's
// strength.
const MinKeyLen = 32

// Keyring holds the current signing key and the keys accepted for
// verification, by ID. It is safe for concurrent use, so a running producer
// or consumer can be rotated without a restart.
type Keyring struct {
	mu      sync.RWMutex
	current string
	keys    map[string][]byte   // accepted for verification
	retired map[string]struct{} // once accepted, now rejected
}

// NewKeyring returns a keyring whose current (and only) key is secret,
// named id.
func NewKeyring(id string, secret []byte) (*Keyring, error) {
	kr := &Keyring{keys: make(map[string][]byte), retired: make(map[string]struct{})}
	if err := kr.Add(id, secret); err != nil {
		return nil, err
	}
	kr.current = id
	return kr, nil
}

// Add accepts a key for verification without signing with it. Consumers
// add a new key before producers rotate to it, so no signed message is ever
// rejected for a key its consumer has not yet heard of. The secret is
// copied.
func (kr *Keyring) Add(id string, secret []byte) error {
	if id == "" {
		return ErrNoKeyID
	}
	if len(secret) < MinKeyLen {
		return fmt.Errorf("key %q is %d bytes, need at least %d: %w", id, len(secret), MinKeyLen, ErrKeyTooShort)
	}
	kr.mu.Lock()
	defer kr.mu.Unlock()
	if _, ok := kr.keys[id]; ok {
		return fmt.Errorf("add %q: %w", id, ErrKeyExists)
	}
	if _, ok := kr.retired[id]; ok {
		return fmt.Errorf("add %q: %w (retired)", id, ErrKeyExists)
	}
	kr.keys[id] = append([]byte(nil), secret...)
	return nil
}

// Rotate adds a key and makes it current: from now on Publisher signs with
// it. The previous key stays accepted until Retire.
func (kr *Keyring) Rotate(id string, secret []byte) error {
	if err := kr.Add(id, secret); err != nil {
		return err
	}
	return kr.Use(id)
}

// Use makes an accepted key current, for rotating to a key added earlier
// (or back to a previous one).
func (kr *Keyring) Use(id string) error {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	if _, ok := kr.keys[id]; !ok {
		return fmt.Errorf("use %q: %w", id, ErrUnknownKey)
	}
	kr.current = id
	return nil
}

// Retire stops accepting a key: messages signed with it are rejected with
// ReasonRetiredKey from now on. The keyring forgets its secret (without
// wiping it: a signer or verifier may be using it this instant) and its ID
// can never be reused. The current key cannot be retired.
func (kr *Keyring) Retire(id string) error {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	if _, ok := kr.keys[id]; !ok {
		return fmt.Errorf("retire %q: %w", id, ErrUnknownKey)
	}
	if id == kr.current {
		return fmt.Errorf("retire %q: %w", id, ErrRetireCurrent)
	}
	delete(kr.keys, id)
	kr.retired[id] = struct{}{}
	return nil
}

// Current returns the ID of the key Publisher signs with.
func (kr *Keyring) Current() string {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	return kr.current
}

// Accepted reports whether messages signed with key id verify.
func (kr *Keyring) Accepted(id string) bool {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	_, ok := kr.keys[id]
	return ok
}

// signingKey returns the current key ID and secret. The secret is shared
// with the keyring: nobody writes to it after Add.
func (kr *Keyring) signingKey() (string, []byte) {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	return kr.current, kr.keys[kr.current]
}

// lookup returns the secret for a verification key, or the reason it is
// not accepted.
func (kr *Keyring) lookup(id string) ([]byte, Reason) {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	if s, ok := kr.keys[id]; ok {
		return s, ""
	}
	if _, ok := kr.retired[id]; ok {
		return nil, ReasonRetiredKey
	}
	return nil, ReasonUnknownKey
}
