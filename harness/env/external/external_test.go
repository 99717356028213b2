package external_test

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/harness/env/external"
)

func TestExternal(t *testing.T) {
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	url := "redis://user:secret@" + ln.Addr().String() + "/0"
	e, err := env.Start(t.Context(), env.Spec{Components: []env.ComponentSpec{
		{Kind: env.KindRedis, Provider: env.External, URL: url},
	}}, env.WithProvider(external.New()))
	if err != nil {
		t.Fatal(err)
	}
	c := e.Component("redis")
	if got := c.Endpoint(); got.Addrs[0] != ln.Addr().String() || got.URL != url {
		t.Fatalf("endpoint %+v", got)
	}
	if strings.Contains(c.Endpoint().Redacted(), "secret") {
		t.Fatal("password not redacted")
	}
	if _, ok := c.(env.Killer); ok {
		t.Fatal("an external component must not be killable")
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := (&net.Dialer{}).DialContext(t.Context(), "tcp", ln.Addr().String()); err != nil {
		t.Fatalf("closing the environment touched the external server: %v", err)
	}
}

func TestExternalUnreachable(t *testing.T) {
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	_, err = env.Start(t.Context(), env.Spec{Components: []env.ComponentSpec{
		{Kind: env.KindKafka, Provider: env.External, Addrs: []string{addr}},
	}}, env.WithProvider(external.New()))
	if !errors.Is(err, env.ErrStart) || !strings.Contains(err.Error(), "no address answers") {
		t.Fatalf("err = %v", err)
	}
}

// TestRemoteNeedsAllow: an address off this machine is refused before
// anything is dialled unless the host is allowed.
func TestRemoteNeedsAllow(t *testing.T) {
	spec := env.ComponentSpec{Name: "staging", Kind: env.KindKafka, Provider: env.External, Addrs: []string{"192.0.2.1:9092"}}
	_, err := external.New(external.DialTimeout(50*time.Millisecond)).Start(t.Context(), spec)
	if !errors.Is(err, env.ErrRemoteTarget) || !strings.Contains(err.Error(), "--allow-remote 192.0.2.1") {
		t.Fatalf("Start(remote) = %v, want ErrRemoteTarget saying how to allow it", err)
	}
	_, err = external.New(external.DialTimeout(50*time.Millisecond), external.Allow("192.0.2.0/24")).Start(t.Context(), spec)
	if err == nil || errors.Is(err, env.ErrRemoteTarget) {
		t.Fatalf("Start(allowed remote) = %v, want a dial failure (TEST-NET answers nothing)", err)
	}
}

// TestCheckSpec: the external provider's spec check, which connects to
// nothing, refuses what Start would — an address off this machine, a url
// without a host — and options it would ignore; an allowed or loopback
// address is clean.
func TestCheckSpec(t *testing.T) {
	tests := []struct {
		name  string
		spec  env.ComponentSpec
		allow []string
		field string // "" when clean
	}{
		{"loopback", env.ComponentSpec{Addrs: []string{"127.0.0.1:9092"}}, nil, ""},
		{"allowed", env.ComponentSpec{Addrs: []string{"192.0.2.1:9092"}}, []string{"192.0.2.1"}, ""},
		{"loopback url", env.ComponentSpec{URL: "nats://u:p@localhost:4222"}, nil, ""},
		{"remote", env.ComponentSpec{Addrs: []string{"192.0.2.1:9092"}}, nil, "addrs"},
		{"remote url", env.ComponentSpec{URL: "redis://192.0.2.1:6379"}, nil, "url"},
		{"url without host", env.ComponentSpec{URL: "redis:///0"}, nil, "url"},
		{"an option", env.ComponentSpec{Addrs: []string{"127.0.0.1:1"}, Options: map[string]string{"tls": "on"}}, nil, "options.tls"},
	}
	for _, tt := range tests {
		tt.spec.Kind, tt.spec.Provider = env.KindKafka, env.External
		err := external.New(external.Allow(tt.allow...)).CheckSpec(tt.spec)
		var fe *env.FieldError
		switch {
		case tt.field == "" && err != nil:
			t.Errorf("%s: %v, want none", tt.name, err)
		case tt.field != "" && (!errors.As(err, &fe) || fe.Field != tt.field):
			t.Errorf("%s: %v, want a FieldError on %s", tt.name, err, tt.field)
		}
	}
}
