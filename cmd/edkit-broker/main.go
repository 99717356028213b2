// Command edkit-broker runs one embedded broker as its own process, so the
// harness can SIGKILL, SIGSTOP and restart it like a real server:
//
//	edkit-broker kafka --port N[,N...] [--partitions P] [--topics a,b] [--data-dir D] [--advertise host:port,...]
//	edkit-broker nats  --port N --store-dir D [--sync]
//
// It prints "ready" on stdout once clients can connect, and exits cleanly
// (status 0, data saved) on SIGTERM or SIGINT. The embedded provider's
// child mode runs it; see harness/env/embedded.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/edkit-dev/edkit/harness/env/embedded"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "edkit-broker:", err)
		stop()
		os.Exit(2)
	}
}

// run starts the broker args name, reports "ready" to out, and blocks until
// ctx ends.
func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: edkit-broker kafka|nats [flags]")
	}
	fs := flag.NewFlagSet("edkit-broker "+args[0], flag.ContinueOnError)
	switch args[0] {
	case "kafka":
		ports := fs.String("port", "", "comma-separated 127.0.0.1 ports, one per broker")
		partitions := fs.Int("partitions", 4, "partitions of seeded and auto-created topics")
		topics := fs.String("topics", "", "comma-separated topics to create")
		dataDir := fs.String("data-dir", "", "persist here with synced writes (empty: memory only)")
		advertise := fs.String("advertise", "", "comma-separated host:port each broker advertises (a proxy in front)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		ps, err := parsePorts(*ports)
		if err != nil {
			return err
		}
		c, err := embedded.NewKafkaCluster(embedded.KafkaConfig{Ports: ps, Partitions: *partitions,
			Topics: split(*topics), DataDir: *dataDir, Advertise: split(*advertise)})
		if err != nil {
			return err
		}
		defer c.Close() // saves a persisted cluster's state
		fmt.Fprintln(out, "ready")
		<-ctx.Done()
		return nil
	case "nats":
		port := fs.Int("port", 0, "127.0.0.1 port")
		storeDir := fs.String("store-dir", "", "JetStream store directory")
		sync := fs.Bool("sync", false, "fsync every JetStream write")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		s, err := embedded.NewNATSServer(sctx, embedded.NATSConfig{Port: *port, StoreDir: *storeDir, SyncAlways: *sync})
		cancel()
		if err != nil {
			return err
		}
		fmt.Fprintln(out, "ready")
		<-ctx.Done()
		s.Shutdown()
		s.WaitForShutdown()
		return nil
	}
	return fmt.Errorf("unknown broker %q (want kafka or nats)", args[0])
}

func parsePorts(s string) ([]int, error) {
	var ps []int
	for _, f := range split(s) {
		p, err := strconv.Atoi(f)
		if err != nil || p <= 0 || p > 65535 {
			return nil, fmt.Errorf("bad port %q", f)
		}
		ps = append(ps, p)
	}
	if len(ps) == 0 {
		return nil, errors.New("kafka needs --port")
	}
	return ps, nil
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
