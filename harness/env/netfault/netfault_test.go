package netfault_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/harness/env/netfault"
)

// echo starts a line echo server on loopback and returns its address.
func echo(t *testing.T) string {
	t.Helper()
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
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
			go func() {
				defer func() { _ = c.Close() }()
				s := bufio.NewScanner(c)
				for s.Scan() {
					if _, err := c.Write(append(s.Bytes(), '\n')); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// roundTrip dials addr, sends one line and waits up to wait for the echo.
func roundTrip(addr string, wait time.Duration) (time.Duration, error) {
	began := time.Now()
	c, err := (&net.Dialer{Timeout: wait}).DialContext(context.Background(), "tcp", addr)
	if err != nil {
		return 0, err
	}
	defer func() { _ = c.Close() }()
	if err := c.SetDeadline(time.Now().Add(wait)); err != nil {
		return 0, err
	}
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return 0, err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return 0, err
	}
	if line != "ping\n" {
		return 0, errors.New("bad echo " + line)
	}
	return time.Since(began), nil
}

func front(t *testing.T) *netfault.Proxy {
	t.Helper()
	ps := netfault.New()
	t.Cleanup(func() { _ = ps.Close() })
	p, err := ps.Front(context.Background(), "echo", echo(t))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestToxics(t *testing.T) {
	tests := []struct {
		name  string
		apply func(*netfault.Proxy) error
		// check gets the round trip's duration and error under the toxic.
		check func(time.Duration, error) string
	}{
		{"latency", func(p *netfault.Proxy) error { return p.Latency(200*time.Millisecond, 0) },
			func(d time.Duration, err error) string {
				if err != nil || d < 200*time.Millisecond {
					return "want a round trip of at least 200ms"
				}
				return ""
			}},
		{"timeout stalls", func(p *netfault.Proxy) error { return p.Timeout(0) },
			func(_ time.Duration, err error) string {
				var ne net.Error
				if !errors.As(err, &ne) || !ne.Timeout() {
					return "want the read to stall until its deadline"
				}
				return ""
			}},
		{"reset peer", func(p *netfault.Proxy) error { return p.ResetPeer() },
			func(_ time.Duration, err error) string {
				var ne net.Error
				if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
					return "want the connection reset, not a stall"
				}
				return ""
			}},
		{"bandwidth", func(p *netfault.Proxy) error { return p.Bandwidth(1) },
			func(_ time.Duration, err error) string {
				if err != nil {
					return "a small echo must pass a 1 KB/s limit"
				}
				return ""
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := front(t)
			if _, err := roundTrip(p.Addr(), 5*time.Second); err != nil {
				t.Fatalf("clean proxy: %v", err)
			}
			if err := tt.apply(p); err != nil {
				t.Fatal(err)
			}
			d, err := roundTrip(p.Addr(), time.Second)
			if msg := tt.check(d, err); msg != "" {
				t.Fatalf("%s: took %v, err %v", msg, d, err)
			}
			if err := p.Clear(); err != nil {
				t.Fatal(err)
			}
			if d, err := roundTrip(p.Addr(), 5*time.Second); err != nil || d > 150*time.Millisecond {
				t.Fatalf("after Clear: %v, %v", d, err)
			}
		})
	}
}

// TestDropReplies checks the lost-reply fault: the upstream receives the
// request, the client never gets the answer.
func TestDropReplies(t *testing.T) {
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer func() { _ = c.Close() }()
		s := bufio.NewScanner(c)
		for s.Scan() {
			got <- s.Text()
			if _, err := c.Write(append(s.Bytes(), '\n')); err != nil {
				return
			}
		}
	}()
	ps := netfault.New()
	t.Cleanup(func() { _ = ps.Close() })
	p, err := ps.Front(context.Background(), "recorder", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.DropReplies(); err != nil {
		t.Fatal(err)
	}
	if _, err := roundTrip(p.Addr(), time.Second); err == nil {
		t.Fatal("the reply arrived through DropReplies")
	}
	select {
	case line := <-got:
		if line != "ping" {
			t.Fatalf("upstream got %q, want ping", line)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the request never reached the upstream")
	}
}

func TestPartitionHeal(t *testing.T) {
	p := front(t)
	c, err := (&net.Dialer{}).DialContext(context.Background(), "tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	if err := p.Partition(); err != nil {
		t.Fatal(err)
	}
	// The open connection is cut...
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("read on a partitioned connection succeeded")
	} else if ne := (net.Error)(nil); errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("open connection stayed open through the partition")
	}
	// ...and new ones are refused.
	if _, err := roundTrip(p.Addr(), time.Second); err == nil {
		t.Fatal("round trip through a partition succeeded")
	}
	if err := p.Heal(); err != nil {
		t.Fatal(err)
	}
	if _, err := roundTrip(p.Addr(), 5*time.Second); err != nil {
		t.Fatalf("after Heal: %v", err)
	}
	if err := p.Heal(); err != nil {
		t.Fatalf("second Heal: %v", err)
	}
}

func TestClose(t *testing.T) {
	ps := netfault.New()
	up := echo(t)
	p, err := ps.Front(context.Background(), "a", up)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ps.Front(context.Background(), "a", up); !errors.Is(err, netfault.ErrDuplicate) {
		t.Fatalf("duplicate Front = %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Latency(time.Second, 0); !errors.Is(err, netfault.ErrClosed) {
		t.Fatalf("Latency after Close = %v", err)
	}
	// The name is free again once its proxy is closed.
	q, err := ps.Front(context.Background(), "a", up)
	if err != nil {
		t.Fatal(err)
	}
	if err := ps.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ps.Close(); !errors.Is(err, netfault.ErrClosed) {
		t.Fatalf("second Close = %v", err)
	}
	if err := q.Close(); !errors.Is(err, netfault.ErrClosed) {
		t.Fatalf("proxy Close after Proxies.Close = %v", err)
	}
	if _, err := roundTrip(q.Addr(), time.Second); err == nil {
		t.Fatal("closed proxy still forwards")
	}
	if _, err := ps.Front(context.Background(), "b", up); !errors.Is(err, netfault.ErrClosed) {
		t.Fatalf("Front after Close = %v", err)
	}
}
