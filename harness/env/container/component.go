package container

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/edkit-dev/edkit/harness/env"
	"github.com/testcontainers/testcontainers-go"
)

// Component is a running container's handle. Besides env.Component it
// implements env.Stopper, env.Killer, env.Restarter, env.Pauser,
// env.Partitioner and env.LogSource.
type Component struct {
	provider *Provider
	spec     env.ComponentSpec
	image    string
	recipe   recipe
	ep       env.Endpoint
	ctr      *testcontainers.DockerContainer

	mu          sync.Mutex
	closed      bool
	partitioned []string // networks disconnected by Partition
}

var (
	_ env.Component   = (*Component)(nil)
	_ env.Stopper     = (*Component)(nil)
	_ env.Killer      = (*Component)(nil)
	_ env.Restarter   = (*Component)(nil)
	_ env.Pauser      = (*Component)(nil)
	_ env.Partitioner = (*Component)(nil)
	_ env.LogSource   = (*Component)(nil)
)

// Name is the spec's name.
func (c *Component) Name() string { return c.spec.Name }

// Kind is the spec's kind.
func (c *Component) Kind() env.Kind { return c.spec.Kind }

// Provider is env.Container.
func (c *Component) Provider() env.ProviderName { return env.Container }

// Endpoint is the component's address on 127.0.0.1; it stays the same
// across Stop/Kill and Restart.
func (c *Component) Endpoint() env.Endpoint { return c.ep }

// ContainerID is the Docker container's ID, for logs and debugging.
func (c *Component) ContainerID() string { return c.ctr.GetContainerID() }

// Image is the image the container runs.
func (c *Component) Image() string { return c.image }

// do runs f with a Docker client, unless the handle is closed.
func (c *Component) do(ctx context.Context, what string, f func(cli dockerAPI, id string) error) error {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return env.ErrClosed
	}
	cli, err := c.provider.client(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = cli.Close() }()
	if err := f(cli, c.ctr.GetContainerID()); err != nil {
		return fmt.Errorf("container: %s %s: %w", what, c.spec.Name, err)
	}
	return nil
}

// dockerAPI is the part of the Docker client the handle uses.
type dockerAPI interface {
	ContainerStop(ctx context.Context, id string, opts container.StopOptions) error
	ContainerKill(ctx context.Context, id, signal string) error
	ContainerStart(ctx context.Context, id string, opts container.StartOptions) error
	ContainerPause(ctx context.Context, id string) error
	ContainerUnpause(ctx context.Context, id string) error
	ContainerInspect(ctx context.Context, id string) (container.InspectResponse, error)
	ContainerWait(ctx context.Context, id string, cond container.WaitCondition) (<-chan container.WaitResponse, <-chan error)
	NetworkDisconnect(ctx context.Context, networkID, containerID string, force bool) error
	NetworkConnect(ctx context.Context, networkID, containerID string, config *network.EndpointSettings) error
}

// Stop stops the container gracefully (docker stop, 10 s grace), keeping
// its data for Restart.
func (c *Component) Stop(ctx context.Context) error {
	return c.do(ctx, "stop", func(cli dockerAPI, id string) error {
		grace := 10
		return cli.ContainerStop(ctx, id, container.StopOptions{Timeout: &grace})
	})
}

// Kill kills the container with SIGKILL (docker kill) and returns once it
// is no longer running.
func (c *Component) Kill(ctx context.Context) error {
	return c.do(ctx, "kill", func(cli dockerAPI, id string) error {
		waitC, errC := cli.ContainerWait(ctx, id, container.WaitConditionNotRunning)
		if err := cli.ContainerKill(ctx, id, "KILL"); err != nil {
			return err
		}
		select {
		case <-waitC:
			return nil
		case err := <-errC:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	})
}

// Restart starts the same container again (docker start; a running one is
// stopped first) — same data, same published port — and returns once it
// answers its protocol's handshake.
func (c *Component) Restart(ctx context.Context) error {
	return c.do(ctx, "restart", func(cli dockerAPI, id string) error {
		st, err := cli.ContainerInspect(ctx, id)
		if err != nil {
			return err
		}
		if st.State != nil && st.State.Paused {
			if err := cli.ContainerUnpause(ctx, id); err != nil {
				return err
			}
		}
		if st.State != nil && st.State.Running {
			grace := 10
			if err := cli.ContainerStop(ctx, id, container.StopOptions{Timeout: &grace}); err != nil {
				return err
			}
		}
		if err := cli.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
			return err
		}
		rctx, cancel := context.WithTimeout(ctx, c.provider.startTimeout)
		defer cancel()
		return waitReady(rctx, c.recipe, c.ep)
	})
}

// Pause freezes the container (docker pause): connections stay open and
// requests stall until Resume.
func (c *Component) Pause(ctx context.Context) error {
	return c.do(ctx, "pause", func(cli dockerAPI, id string) error { return cli.ContainerPause(ctx, id) })
}

// Resume thaws a paused container.
func (c *Component) Resume(ctx context.Context) error {
	return c.do(ctx, "resume", func(cli dockerAPI, id string) error { return cli.ContainerUnpause(ctx, id) })
}

// Partition disconnects the container from every network it is on: the
// published port stops forwarding, so new connections fail and requests on
// open ones stall. Heal reconnects it.
func (c *Component) Partition(ctx context.Context) error {
	return c.do(ctx, "partition", func(cli dockerAPI, id string) error {
		st, err := cli.ContainerInspect(ctx, id)
		if err != nil {
			return err
		}
		var nets []string
		if st.NetworkSettings != nil {
			for name := range st.NetworkSettings.Networks {
				nets = append(nets, name)
			}
		}
		for i, n := range nets {
			if err := cli.NetworkDisconnect(ctx, n, id, true); err != nil {
				c.remember(nets[:i])
				return err
			}
		}
		c.remember(nets)
		return nil
	})
}

func (c *Component) remember(nets []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.partitioned = append(c.partitioned, nets...)
}

// Heal reconnects the container to the networks Partition took it off;
// the port mapping comes back with them.
func (c *Component) Heal(ctx context.Context) error {
	return c.do(ctx, "heal", func(cli dockerAPI, id string) error {
		c.mu.Lock()
		nets := c.partitioned
		c.partitioned = nil
		c.mu.Unlock()
		for i, n := range nets {
			if err := cli.NetworkConnect(ctx, n, id, nil); err != nil {
				c.remember(nets[i:])
				return err
			}
		}
		return nil
	})
}

// Logs returns what the container printed so far (stdout and stderr).
func (c *Component) Logs(ctx context.Context) (io.ReadCloser, error) {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return nil, env.ErrClosed
	}
	return c.ctr.Logs(ctx)
}

// Close removes the container and its anonymous volumes (after thawing it
// if paused). Later calls return env.ErrClosed.
func (c *Component) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return env.ErrClosed
	}
	c.closed = true
	c.mu.Unlock()
	if cli, err := c.provider.client(ctx); err == nil {
		if st, err := cli.ContainerInspect(ctx, c.ctr.GetContainerID()); err == nil && st.State != nil && st.State.Paused {
			_ = cli.ContainerUnpause(ctx, c.ctr.GetContainerID())
		}
		_ = cli.Close()
	}
	if err := c.ctr.Terminate(ctx, testcontainers.StopTimeout(2*time.Second)); err != nil {
		return fmt.Errorf("container: close %s: %w", c.spec.Name, err)
	}
	return nil
}
