package netfault

import "errors"

var (
	// ErrClosed is returned by calls on a closed Proxies or Proxy, and by
	// Close after the first call.
	ErrClosed = errors.New("netfault: closed")
	// ErrDuplicate is returned by Front when the name is already in use.
	ErrDuplicate = errors.New("netfault: duplicate proxy name")
)
