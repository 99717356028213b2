package container

import "errors"

var (
	// ErrNoDocker reports that the Docker engine cannot be reached.
	ErrNoDocker = errors.New("container: docker engine unreachable")
	// ErrNoImage reports that an image is not present locally and cannot be
	// fetched here; for the local set, `make images` builds it.
	ErrNoImage = errors.New("container: image not present")
	// ErrUnsupportedKind reports a kind this provider has no recipe for.
	ErrUnsupportedKind = errors.New("container: unsupported kind")
	// ErrNotReady reports a container that started but never answered its
	// protocol's handshake in time.
	ErrNotReady = errors.New("container: not ready")
)
