package process

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/redis/go-redis/v9"

	"github.com/edkit-dev/edkit/harness/env"
)

// redisServer runs redis-server from a generated config: AOF with an fsync
// per write when durable, no persistence at all otherwise.
type redisServer struct {
	bin  string
	port int
	conf string
	base []string
}

func (r *redisServer) users() []string { return []string{"redis"} }

func (r *redisServer) prepare(ctx context.Context, s *setup) error {
	ports, err := freePorts(ctx, 1)
	if err != nil {
		return err
	}
	r.port, r.base = ports[0], s.env
	conf := fmt.Sprintf("port %d\nbind 127.0.0.1\nprotected-mode no\ndaemonize no\nlogfile \"\"\ndir %s\nunixsocket \"\"\n",
		r.port, s.dir)
	if s.spec.Durable {
		conf += "appendonly yes\nappendfsync always\nsave \"\"\n"
	} else {
		conf += "appendonly no\nsave \"\"\n"
	}
	r.conf = filepath.Join(s.dir, "redis.conf")
	return os.WriteFile(r.conf, []byte(conf), 0o600)
}

func (r *redisServer) command() *exec.Cmd {
	//nolint:gosec,noctx // G204: bin is the resolved redis-server, the argument our config; the server outlives any call's ctx and is ended by signal.
	return exec.Command(r.bin, r.conf)
}

func (r *redisServer) stopSignal() syscall.Signal { return syscall.SIGTERM }

func (r *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

func (r *redisServer) probe(ctx context.Context) error {
	c := redis.NewClient(&redis.Options{Addr: r.addr(), MaxRetries: -1, DialTimeout: 0})
	defer func() { _ = c.Close() }()
	return c.Ping(ctx).Err()
}

func (r *redisServer) endpoint() env.Endpoint {
	return env.Endpoint{Addrs: []string{r.addr()}, URL: "redis://" + r.addr() + "/0"}
}

func (r *redisServer) sidecars() []*exec.Cmd { return nil }
