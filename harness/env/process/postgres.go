package process

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/jackc/pgx/v5"

	"github.com/edkit-dev/edkit/harness/env"
)

// postgresServer runs initdb once, then postgres on a loopback port with
// its unix socket in the temp dir and password auth over TCP.
type postgresServer struct {
	initdb, postgres string
	port             int
	dir, data        string
	password         string
	durable          bool
}

// pgUser is the superuser initdb creates; clients log in as it.
const pgUser = "edkit"

func (p *postgresServer) users() []string { return []string{"postgres"} }

func (p *postgresServer) prepare(ctx context.Context, s *setup) error {
	ports, err := freePorts(ctx, 1)
	if err != nil {
		return err
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	p.port, p.dir, p.data, p.password, p.durable = ports[0], s.dir, filepath.Join(s.dir, "data"), hex.EncodeToString(b), s.spec.Durable
	pwfile := filepath.Join(s.dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(p.password+"\n"), 0o600); err != nil {
		return err
	}
	if s.cred != nil {
		if err := os.Chown(pwfile, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			return err
		}
	}
	// --no-sync: initdb's own fsyncs cost seconds and protect against an
	// OS crash, which a test instance does not survive anyway.
	//nolint:gosec // G204: initdb is the resolved binary, the arguments ours.
	err = s.run(ctx, exec.CommandContext(ctx, p.initdb, "-D", p.data, "-U", pgUser, "--pwfile="+pwfile,
		"--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--locale=C", "--no-sync"))
	_ = os.Remove(pwfile)
	return err
}

func (p *postgresServer) command() *exec.Cmd {
	args := []string{"-D", p.data, "-p", strconv.Itoa(p.port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=" + p.dir,
		"-c", "logging_collector=off", "-c", "max_connections=50"}
	if !p.durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	//nolint:gosec,noctx // G204: postgres is the resolved binary, the arguments ours; the server outlives any call's ctx and is ended by signal.
	return exec.Command(p.postgres, args...)
}

// SIGINT is PostgreSQL's fast shutdown; SIGTERM would wait for clients.
func (p *postgresServer) stopSignal() syscall.Signal { return syscall.SIGINT }

func (p *postgresServer) url() string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(pgUser, p.password),
		Host: "127.0.0.1:" + strconv.Itoa(p.port), Path: "/postgres", RawQuery: "sslmode=disable"}
	return u.String()
}

func (p *postgresServer) probe(ctx context.Context) error {
	c, err := pgx.Connect(ctx, p.url())
	if err != nil {
		return err
	}
	defer func() { _ = c.Close(context.Background()) }()
	var one int
	if err := c.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return err
	}
	if one != 1 {
		return fmt.Errorf("SELECT 1 returned %d", one)
	}
	return nil
}

func (p *postgresServer) endpoint() env.Endpoint {
	return env.Endpoint{Addrs: []string{"127.0.0.1:" + strconv.Itoa(p.port)}, URL: p.url()}
}

func (p *postgresServer) sidecars() []*exec.Cmd { return nil }
