package signing

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"

	"github.com/edkit-dev/edkit/reference/bus"
)

// Headers the signature travels in.
const (
	// HeaderKeyID names the keyring key that signed the message.
	HeaderKeyID = "edkit-sig-key"
	// HeaderSignature is the hex HMAC-SHA256 of the message's canonical
	// encoding.
	HeaderSignature = "edkit-sig"
)

// encodingVersion starts every canonical encoding, so a future format can
// never produce a MAC that an old verifier accepts for other content.
const encodingVersion = "edkit-sig-v1"

// Option configures Publisher and Verify.
type Option func(*config)

type config struct {
	ignore   map[string]bool
	onReject func(ctx context.Context, m *bus.Message, err *SignatureError)
}

// IgnoreHeaders leaves headers out of the MAC, for headers a transport adds
// or rewrites between producer and consumer. Give producers and consumers
// the same list: a header the producer signed and the consumer ignores
// fails verification. HeaderKeyID, HeaderSignature and bus.HeaderAttempt
// are always left out.
func IgnoreHeaders(names ...string) Option {
	return func(c *config) {
		for _, n := range names {
			c.ignore[n] = true
		}
	}
}

// OnReject calls fn for each message Verify rejects, so a recorder or a
// metric can count forgeries apart from ordinary handler failures. Publisher
// ignores it.
func OnReject(fn func(ctx context.Context, m *bus.Message, err *SignatureError)) Option {
	return func(c *config) { c.onReject = fn }
}

func newConfig(opts []Option) *config {
	c := &config{ignore: map[string]bool{
		HeaderKeyID:       true,
		HeaderSignature:   true,
		bus.HeaderAttempt: true,
	}}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Publisher returns a publisher that signs every message with kr's current
// key before handing it to pub. It signs copies: the caller's messages are
// never modified, so the same message can be published again or through
// another publisher. Close closes pub.
func Publisher(pub bus.Publisher, kr *Keyring, opts ...Option) bus.Publisher {
	return &publisher{next: pub, kr: kr, cfg: newConfig(opts)}
}

type publisher struct {
	next bus.Publisher
	kr   *Keyring
	cfg  *config
}

var _ bus.Publisher = (*publisher)(nil)

func (p *publisher) Publish(ctx context.Context, msgs ...*bus.Message) error {
	// One key for the whole batch, even if the keyring rotates meanwhile.
	id, secret := p.kr.signingKey()
	signed := make([]*bus.Message, len(msgs))
	for i, m := range msgs {
		if m == nil {
			continue // the backend reports nil messages its own way
		}
		c := m.Clone()
		c.SetHeader(HeaderKeyID, id)
		c.SetHeader(HeaderSignature, hex.EncodeToString(mac(secret, c, p.cfg.ignore)))
		signed[i] = c
	}
	return p.next.Publish(ctx, signed...)
}

func (p *publisher) Close() error { return p.next.Close() }

// Verify returns middleware that passes a message to the handler only when
// its signature is valid under kr. Otherwise it returns a *SignatureError
// wrapped with bus.Permanent without calling the handler. The MAC is
// compared in constant time, so timing does not reveal how much of a forged
// signature was right.
func Verify(kr *Keyring, opts ...Option) bus.Middleware {
	cfg := newConfig(opts)
	return func(next bus.Handler) bus.Handler {
		return func(ctx context.Context, m *bus.Message) error {
			if serr := check(kr, m, cfg); serr != nil {
				if cfg.onReject != nil {
					cfg.onReject(ctx, m, serr)
				}
				return bus.Permanent(serr)
			}
			return next(ctx, m)
		}
	}
}

func check(kr *Keyring, m *bus.Message, cfg *config) *SignatureError {
	id, sig := m.Header(HeaderKeyID), m.Header(HeaderSignature)
	reject := func(r Reason) *SignatureError {
		return &SignatureError{MessageID: m.ID, Topic: m.Topic, KeyID: id, Reason: r}
	}
	if sig == "" {
		return reject(ReasonUnsigned)
	}
	if id == "" {
		return reject(ReasonMalformed)
	}
	secret, why := kr.lookup(id)
	if secret == nil {
		return reject(why)
	}
	got, err := hex.DecodeString(sig)
	if err != nil || len(got) != sha256.Size {
		return reject(ReasonMalformed)
	}
	if !hmac.Equal(got, mac(secret, m, cfg.ignore)) {
		return reject(ReasonMismatch)
	}
	return nil
}

func mac(secret []byte, m *bus.Message, ignore map[string]bool) []byte {
	h := hmac.New(sha256.New, secret)
	_, _ = h.Write(canonical(m, ignore)) // a hash never fails to write
	return h.Sum(nil)
}

// canonical returns the encoding the MAC covers; see the package doc. It
// is built in one buffer, sized up front, rather than streamed into the
// hash field by field: one allocation instead of one per field.
func canonical(m *bus.Message, ignore map[string]bool) []byte {
	names := make([]string, 0, len(m.Headers))
	size := 8*5 + len(encodingVersion) + len(m.ID) + len(m.Topic) + len(m.Key) + len(m.Payload) + 8
	for k, v := range m.Headers {
		if !ignore[k] {
			names = append(names, k)
			size += 16 + len(k) + len(v)
		}
	}
	slices.Sort(names)
	b := make([]byte, 0, size)
	b = appendField(b, encodingVersion)
	b = appendField(b, m.ID)
	b = appendField(b, m.Topic)
	b = appendField(b, m.Key)
	b = appendField(b, m.Payload)
	b = binary.BigEndian.AppendUint64(b, uint64(len(names)))
	for _, k := range names {
		b = appendField(b, k)
		b = appendField(b, m.Headers[k])
	}
	return b
}

func appendField[T string | []byte](b []byte, f T) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(len(f)))
	return append(b, f...)
}
