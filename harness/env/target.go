package env

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// ErrRemoteTarget is an address off this machine that nobody allowed.
var ErrRemoteTarget = errors.New("env: remote address not allowed")

// CheckTarget returns nil when edkit may connect to addr (host:port, or a
// bare host): a loopback address or "localhost", or a host that allow
// names — a host, a host:port or a CIDR prefix. A load and fault tool
// pointed at the wrong address harms someone else's system, so reaching
// off the machine is an explicit choice. Host names other than localhost
// are not resolved: they are remote unless allowed.
func CheckTarget(addr string, allow []string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host, port = strings.Trim(addr, "[]"), ""
	}
	if host == "localhost" {
		return nil
	}
	ip, ipErr := netip.ParseAddr(host)
	if ipErr == nil && ip.IsLoopback() {
		return nil
	}
	for _, a := range allow {
		a = strings.TrimSpace(a)
		switch {
		case a == "":
		case strings.EqualFold(a, host), port != "" && strings.EqualFold(a, net.JoinHostPort(host, port)):
			return nil
		case strings.Contains(a, "/") && ipErr == nil:
			if p, err := netip.ParsePrefix(a); err == nil && p.Contains(ip) {
				return nil
			}
		}
	}
	return fmt.Errorf("%s is not on this machine: edkit connects only to loopback addresses unless the host is allowed (--allow-remote %s): %w",
		addr, host, ErrRemoteTarget)
}
