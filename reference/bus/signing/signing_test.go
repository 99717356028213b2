package signing_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/signing"
)

var (
	secret1 = []byte("0123456789abcdef0123456789abcdef")
	secret2 = []byte("fedcba9876543210fedcba9876543210")
)

// capture is a Publisher that keeps what it is given.
type capture struct {
	mu   sync.Mutex
	msgs []*bus.Message
}

func (c *capture) Publish(_ context.Context, msgs ...*bus.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, msgs...)
	return nil
}

func (c *capture) Close() error { return nil }

func newKeyring(t *testing.T, id string, secret []byte) *signing.Keyring {
	t.Helper()
	kr, err := signing.NewKeyring(id, secret)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// sign publishes m through a signing publisher and returns the signed copy.
func sign(t *testing.T, kr *signing.Keyring, m *bus.Message, opts ...signing.Option) *bus.Message {
	t.Helper()
	var c capture
	if err := signing.Publisher(&c, kr, opts...).Publish(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if len(c.msgs) != 1 {
		t.Fatalf("published %d messages", len(c.msgs))
	}
	return c.msgs[0]
}

// verify runs m through Verify and returns the error and whether the
// handler ran.
func verify(kr *signing.Keyring, m *bus.Message, opts ...signing.Option) (err error, handled bool) {
	h := signing.Verify(kr, opts...)(func(context.Context, *bus.Message) error {
		handled = true
		return nil
	})
	return h(context.Background(), m), handled
}

// reason returns the rejection reason, checking that the error has the
// promised shape: a *SignatureError wrapped with bus.Permanent.
func reason(t *testing.T, err error) signing.Reason {
	t.Helper()
	if err == nil {
		return ""
	}
	var perm *bus.PermanentError
	if !errors.As(err, &perm) {
		t.Fatalf("error %v is not bus.Permanent", err)
	}
	var serr *signing.SignatureError
	if !errors.As(err, &serr) {
		t.Fatalf("error %v is not a *SignatureError", err)
	}
	return serr.Reason
}

func baseMessage() *bus.Message {
	return &bus.Message{ID: "m-1", Topic: "orders", Key: "o-1", Payload: []byte(`{"total":10}`),
		Headers: map[string]string{bus.HeaderType: "OrderPlaced", "tenant": "acme", "empty": ""}}
}

func TestVerifyRejectsTampering(t *testing.T) {
	kr := newKeyring(t, "k1", secret1)
	if err := kr.Add("k2", secret2); err != nil {
		t.Fatal(err)
	}
	signed := sign(t, kr, baseMessage())
	tests := []struct {
		name   string
		tamper func(m *bus.Message)
		want   signing.Reason // "" = accepted
	}{
		{"untouched", func(*bus.Message) {}, ""},
		{"attempt header added by broker", func(m *bus.Message) { m.SetHeader(bus.HeaderAttempt, "2") }, ""},
		{"id", func(m *bus.Message) { m.ID = "m-2" }, signing.ReasonMismatch},
		{"topic", func(m *bus.Message) { m.Topic = "orders.dlq" }, signing.ReasonMismatch},
		{"key", func(m *bus.Message) { m.Key = "o-2" }, signing.ReasonMismatch},
		{"payload byte", func(m *bus.Message) { m.Payload[len(m.Payload)-2] = '9' }, signing.ReasonMismatch},
		{"payload appended", func(m *bus.Message) { m.Payload = append(m.Payload, ' ') }, signing.ReasonMismatch},
		{"payload emptied", func(m *bus.Message) { m.Payload = nil }, signing.ReasonMismatch},
		{"byte moved from key to payload", func(m *bus.Message) {
			m.Payload = append([]byte(m.Key[len(m.Key)-1:]), m.Payload...)
			m.Key = m.Key[:len(m.Key)-1]
		}, signing.ReasonMismatch},
		{"header value", func(m *bus.Message) { m.Headers["tenant"] = "evil" }, signing.ReasonMismatch},
		{"empty header given a value", func(m *bus.Message) { m.Headers["empty"] = "x" }, signing.ReasonMismatch},
		{"header added", func(m *bus.Message) { m.Headers["admin"] = "true" }, signing.ReasonMismatch},
		{"empty header added", func(m *bus.Message) { m.Headers["x"] = "" }, signing.ReasonMismatch},
		{"header removed", func(m *bus.Message) { delete(m.Headers, "tenant") }, signing.ReasonMismatch},
		{"empty header removed", func(m *bus.Message) { delete(m.Headers, "empty") }, signing.ReasonMismatch},
		{"header renamed", func(m *bus.Message) {
			m.Headers["tenant2"] = m.Headers["tenant"]
			delete(m.Headers, "tenant")
		}, signing.ReasonMismatch},
		{"byte moved from header name to value", func(m *bus.Message) {
			delete(m.Headers, "tenant")
			m.Headers["tenan"] = "tacme"
		}, signing.ReasonMismatch},
		{"signature removed", func(m *bus.Message) { delete(m.Headers, signing.HeaderSignature) }, signing.ReasonUnsigned},
		{"key id removed", func(m *bus.Message) { delete(m.Headers, signing.HeaderKeyID) }, signing.ReasonMalformed},
		{"signature not hex", func(m *bus.Message) { m.Headers[signing.HeaderSignature] = "zz" }, signing.ReasonMalformed},
		{"signature truncated", func(m *bus.Message) {
			m.Headers[signing.HeaderSignature] = m.Headers[signing.HeaderSignature][:62]
		}, signing.ReasonMalformed},
		{"signature flipped", func(m *bus.Message) {
			s := []byte(m.Headers[signing.HeaderSignature])
			if s[0] == '0' { // another hex digit, so the format stays valid
				s[0] = '1'
			} else {
				s[0] = '0'
			}
			m.Headers[signing.HeaderSignature] = string(s)
		}, signing.ReasonMismatch},
		{"unknown key id", func(m *bus.Message) { m.Headers[signing.HeaderKeyID] = "k9" }, signing.ReasonUnknownKey},
		{"other accepted key id", func(m *bus.Message) { m.Headers[signing.HeaderKeyID] = "k2" }, signing.ReasonMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := signed.Clone()
			tt.tamper(m)
			err, handled := verify(kr, m)
			if got := reason(t, err); got != tt.want {
				t.Fatalf("reason %q, want %q (err %v)", got, tt.want, err)
			}
			if handled != (tt.want == "") {
				t.Fatalf("handler ran = %v for reason %q", handled, tt.want)
			}
		})
	}
}

func TestVerifyRejectsUnsignedAndReportsIt(t *testing.T) {
	kr := newKeyring(t, "k1", secret1)
	var rejected []*signing.SignatureError
	err, handled := verify(kr, &bus.Message{ID: "x", Topic: "orders"},
		signing.OnReject(func(_ context.Context, _ *bus.Message, e *signing.SignatureError) {
			rejected = append(rejected, e)
		}))
	if handled || reason(t, err) != signing.ReasonUnsigned {
		t.Fatalf("err %v handled %v", err, handled)
	}
	if len(rejected) != 1 || rejected[0].MessageID != "x" || rejected[0].Topic != "orders" {
		t.Fatalf("OnReject saw %+v", rejected)
	}
	if !strings.Contains(err.Error(), "unsigned") {
		t.Fatalf("error text %q does not say why", err)
	}
}

func TestHeaderOrderDoesNotMatter(t *testing.T) {
	kr := newKeyring(t, "k1", secret1)
	signed := sign(t, kr, baseMessage())
	// Rebuild the headers in reverse sorted order in a fresh map, as a
	// transport that decodes them in another order would.
	names := make([]string, 0, len(signed.Headers))
	for k := range signed.Headers {
		names = append(names, k)
	}
	reordered := signed.Clone()
	reordered.Headers = make(map[string]string)
	for i := len(names) - 1; i >= 0; i-- {
		reordered.Headers[names[i]] = signed.Headers[names[i]]
	}
	if err, handled := verify(kr, reordered); err != nil || !handled {
		t.Fatalf("reordered headers: err %v handled %v", err, handled)
	}
}

func TestPublisherDoesNotModifyCallerMessage(t *testing.T) {
	kr := newKeyring(t, "k1", secret1)
	m := &bus.Message{ID: "1", Topic: "t", Payload: []byte("p")}
	signed := sign(t, kr, m)
	if m.Headers != nil {
		t.Fatalf("caller's message got headers %v", m.Headers)
	}
	if signed.Header(signing.HeaderKeyID) != "k1" || len(signed.Header(signing.HeaderSignature)) != 64 {
		t.Fatalf("signed headers %v", signed.Headers)
	}
	signed.Payload[0] = 'x'
	if string(m.Payload) != "p" {
		t.Fatal("signed copy shares the caller's payload")
	}
}

func TestIgnoreHeadersMustMatchOnBothSides(t *testing.T) {
	kr := newKeyring(t, "k1", secret1)
	ignore := signing.IgnoreHeaders("x-hop")
	m := baseMessage()
	m.SetHeader("x-hop", "1")
	signed := sign(t, kr, m, ignore)
	signed.SetHeader("x-hop", "2") // rewritten in transit
	if err, _ := verify(kr, signed, ignore); err != nil {
		t.Fatalf("ignored header rewritten: %v", err)
	}
	if err, _ := verify(kr, signed); reason(t, err) != signing.ReasonMismatch {
		t.Fatalf("without the option: %v, want mismatch", err)
	}
}

func TestRotation(t *testing.T) {
	producer := newKeyring(t, "k1", secret1)
	consumer := newKeyring(t, "k1", secret1)
	old := sign(t, producer, baseMessage())

	// Consumers learn the new key first, then producers switch to it.
	if err := consumer.Add("k2", secret2); err != nil {
		t.Fatal(err)
	}
	if err := producer.Rotate("k2", secret2); err != nil {
		t.Fatal(err)
	}
	if producer.Current() != "k2" {
		t.Fatalf("current %q after rotate", producer.Current())
	}
	fresh := sign(t, producer, baseMessage())
	if fresh.Header(signing.HeaderKeyID) != "k2" {
		t.Fatalf("signed with %q after rotate", fresh.Header(signing.HeaderKeyID))
	}
	for name, m := range map[string]*bus.Message{"old": old, "fresh": fresh} {
		if err, _ := verify(consumer, m); err != nil {
			t.Fatalf("%s message during overlap: %v", name, err)
		}
	}
	// A consumer that never learnt k2 rejects the fresh message.
	if err, _ := verify(newKeyring(t, "k1", secret1), fresh); reason(t, err) != signing.ReasonUnknownKey {
		t.Fatalf("consumer without k2: %v", err)
	}

	if err := consumer.Use("k2"); err != nil {
		t.Fatal(err)
	}
	if err := consumer.Retire("k1"); err != nil {
		t.Fatal(err)
	}
	if consumer.Accepted("k1") || !consumer.Accepted("k2") {
		t.Fatal("Accepted disagrees with Retire")
	}
	if err, handled := verify(consumer, old); handled || reason(t, err) != signing.ReasonRetiredKey {
		t.Fatalf("old message after retirement: %v (handled %v)", err, handled)
	}
	if err, _ := verify(consumer, fresh); err != nil {
		t.Fatalf("fresh message after retirement: %v", err)
	}
}

func TestKeyringErrors(t *testing.T) {
	if _, err := signing.NewKeyring("k1", []byte("short")); !errors.Is(err, signing.ErrKeyTooShort) ||
		!strings.Contains(err.Error(), "5 bytes, need at least 32") {
		t.Fatalf("short key: %v", err)
	}
	if _, err := signing.NewKeyring("", secret1); !errors.Is(err, signing.ErrNoKeyID) {
		t.Fatalf("empty id: %v", err)
	}
	kr := newKeyring(t, "k1", secret1)
	tests := []struct {
		name string
		op   func() error
		want error
	}{
		{"add short", func() error { return kr.Add("k2", secret2[:31]) }, signing.ErrKeyTooShort},
		{"add existing", func() error { return kr.Add("k1", secret2) }, signing.ErrKeyExists},
		{"retire current", func() error { return kr.Retire("k1") }, signing.ErrRetireCurrent},
		{"retire unknown", func() error { return kr.Retire("k9") }, signing.ErrUnknownKey},
		{"use unknown", func() error { return kr.Use("k9") }, signing.ErrUnknownKey},
		{"rotate", func() error { return kr.Rotate("k2", secret2) }, nil},
		{"retire old", func() error { return kr.Retire("k1") }, nil},
		{"reuse retired id", func() error { return kr.Add("k1", secret1) }, signing.ErrKeyExists},
		{"use retired", func() error { return kr.Use("k1") }, signing.ErrUnknownKey},
	}
	for _, tt := range tests { // in order: later steps depend on earlier ones
		if err := tt.op(); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Fatalf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestKeyringCopiesSecret(t *testing.T) {
	s := bytes.Clone(secret1)
	kr := newKeyring(t, "k1", s)
	signed := sign(t, kr, baseMessage())
	s[0] ^= 0xff // the caller reuses its buffer
	if err, _ := verify(kr, signed); err != nil {
		t.Fatalf("keyring aliased the caller's secret: %v", err)
	}
}

func TestConcurrentRotationIsSafe(t *testing.T) {
	kr := newKeyring(t, "k0", secret1)
	pub := signing.Publisher(&capture{}, kr)
	ctx := context.Background()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1; i <= 20; i++ {
			id := "k" + strings.Repeat("x", i)
			if err := kr.Rotate(id, secret2); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for i := 0; i < 200; i++ {
		if err := pub.Publish(ctx, baseMessage()); err != nil {
			t.Fatal(err)
		}
		if err, _ := verify(kr, sign(t, kr, baseMessage())); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
}
