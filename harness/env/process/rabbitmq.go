package process

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/edkit-dev/edkit/harness/env"
)

// rabbitServer runs Debian's rabbitmq-server script in the foreground with
// every path and port it knows about pointed into the temp dir. It gets
// its own epmd (a sidecar on its own port, so it dies on Close, unlike the
// daemon erl would start) and a unique node name, so instances never meet
// each other or the system service.
type rabbitServer struct {
	bin, epmd string
	node      string
	ports     []int // AMQP, distribution, epmd
	dir       string
	base      []string
}

func (r *rabbitServer) users() []string { return []string{"rabbitmq"} }

func (r *rabbitServer) prepare(ctx context.Context, s *setup) error {
	ports, err := freePorts(ctx, 3)
	if err != nil {
		return err
	}
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	r.ports, r.dir, r.base = ports, s.dir, s.env
	r.node = "edkit-" + hex.EncodeToString(b) + "@localhost"
	conf := fmt.Sprintf("listeners.tcp.default = 127.0.0.1:%d\nloopback_users.guest = true\n"+
		"log.console = true\nlog.console.level = info\nlog.file = false\n", r.ports[0])
	files := map[string]string{
		"rabbitmq.conf":     conf,
		"enabled_plugins":   "[].\n",
		"rabbitmq-env.conf": "# edkit: the system's /etc/rabbitmq/rabbitmq-env.conf must not apply\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(s.dir, name), []byte(content), 0o600); err != nil {
			return err
		}
	}
	for _, d := range []string{"mnesia", "log"} {
		if err := os.Mkdir(filepath.Join(s.dir, d), 0o750); err != nil {
			return err
		}
	}
	return nil
}

func (r *rabbitServer) epmdEnv() []string {
	return append(append([]string(nil), r.base...), "ERL_EPMD_PORT="+strconv.Itoa(r.ports[2]), "ERL_EPMD_ADDRESS=127.0.0.1")
}

func (r *rabbitServer) command() *exec.Cmd {
	//nolint:gosec,noctx // G204: bin is the resolved rabbitmq-server script; the server outlives any call's ctx and is ended by signal.
	cmd := exec.Command(r.bin)
	cmd.Env = append(r.epmdEnv(),
		"RABBITMQ_NODENAME="+r.node,
		"RABBITMQ_USE_LONGNAME=false",
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_NODE_PORT="+strconv.Itoa(r.ports[0]),
		"RABBITMQ_DIST_PORT="+strconv.Itoa(r.ports[1]),
		"RABBITMQ_MNESIA_BASE="+filepath.Join(r.dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(r.dir, "log"),
		"RABBITMQ_CONFIG_FILE="+filepath.Join(r.dir, "rabbitmq.conf"),
		"RABBITMQ_ADVANCED_CONFIG_FILE="+filepath.Join(r.dir, "advanced.config"),
		"RABBITMQ_CONF_ENV_FILE="+filepath.Join(r.dir, "rabbitmq-env.conf"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(r.dir, "enabled_plugins"),
		// The distribution port on loopback only, and never a daemon epmd.
		"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1} -start_epmd false",
		// Makes the script exec erl instead of forking it, so the server
		// is our direct child and its parent-death signal applies. No
		// socket listens there; RabbitMQ ignores the failed notification.
		"NOTIFY_SOCKET="+filepath.Join(r.dir, "notify.sock"),
	)
	return cmd
}

func (r *rabbitServer) stopSignal() syscall.Signal { return syscall.SIGTERM }

func (r *rabbitServer) url() string {
	return "amqp://guest:guest@127.0.0.1:" + strconv.Itoa(r.ports[0]) + "/"
}

func (r *rabbitServer) probe(ctx context.Context) error {
	c, err := amqp.DialConfig(r.url(), amqp.Config{Dial: amqp.DefaultDial(deadlineOr(ctx))})
	if err != nil {
		return err
	}
	return c.Close()
}

func (r *rabbitServer) endpoint() env.Endpoint {
	return env.Endpoint{Addrs: []string{"127.0.0.1:" + strconv.Itoa(r.ports[0])}, URL: r.url()}
}

func (r *rabbitServer) sidecars() []*exec.Cmd {
	//nolint:gosec,noctx // G204: epmd is the resolved binary, the arguments ours; it lives as long as the instance and is killed on Close.
	cmd := exec.Command(r.epmd, "-port", strconv.Itoa(r.ports[2]), "-address", "127.0.0.1")
	cmd.Env = r.epmdEnv()
	return []*exec.Cmd{cmd}
}

// sidecarsReady waits for epmd to listen: erl runs with -start_epmd false
// and gives up if it cannot register.
func (r *rabbitServer) sidecarsReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	addr := "127.0.0.1:" + strconv.Itoa(r.ports[2])
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			return c.Close()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("epmd on %s: %w", addr, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
