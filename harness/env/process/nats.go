package process

import (
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/edkit-dev/edkit/harness/env"
)

// natsServer runs Debian's nats-server with JetStream's file store in the
// temp dir: durable by nature, whatever the spec says.
type natsServer struct {
	bin  string
	port int
	dir  string
}

func (n *natsServer) users() []string { return []string{"nats"} }

func (n *natsServer) prepare(ctx context.Context, s *setup) error {
	ports, err := freePorts(ctx, 1)
	if err != nil {
		return err
	}
	n.port, n.dir = ports[0], filepath.Join(s.dir, "jetstream")
	return nil
}

func (n *natsServer) command() *exec.Cmd {
	//nolint:gosec,noctx // G204: bin is the resolved nats-server, the arguments ours; the server outlives any call's ctx and is ended by signal.
	return exec.Command(n.bin, "-a", "127.0.0.1", "-p", strconv.Itoa(n.port), "-js", "-sd", n.dir, "-n", "edkit-"+strconv.Itoa(n.port))
}

func (n *natsServer) stopSignal() syscall.Signal { return syscall.SIGTERM }

func (n *natsServer) url() string { return "nats://127.0.0.1:" + strconv.Itoa(n.port) }

func (n *natsServer) probe(ctx context.Context) error {
	nc, err := nats.Connect(n.url(), nats.NoReconnect(), nats.Timeout(deadlineOr(ctx)))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	_, err = js.AccountInfo(ctx)
	return err
}

func (n *natsServer) endpoint() env.Endpoint {
	return env.Endpoint{Addrs: []string{"127.0.0.1:" + strconv.Itoa(n.port)}, URL: n.url()}
}

func (n *natsServer) sidecars() []*exec.Cmd { return nil }
