// Command edkit-broker runs one embedded broker as its own process, so the
// harness can SIGKILL, SIGSTOP and restart it like a real server:
//
//	edkit-broker kafka --port N[,N...] [--listen-host H] [--partitions P] [--topics a,b] [--data-dir D] [--advertise host:port,...]
//	edkit-broker nats  --port N --store-dir D [--sync]
//
// It prints "ready" on stdout once clients can connect, and exits cleanly
// (status 0, data saved) on SIGTERM or SIGINT. A bad command line exits 2
// with the usage on stderr; a broker that cannot start exits 1.
//
// Two harness providers run it. The embedded provider's child mode runs it
// on 127.0.0.1 with every flag given (see harness/env/embedded). The
// container provider's local Kafka image (edkit/kafka:local, built FROM
// scratch by harness/env/container/images/build.sh) runs
//
//	edkit-broker kafka --listen-host 0.0.0.0 --port 9092 [--partitions P]
//
// and passes the rest through the environment, which gives the kafka
// flags their defaults so the image's contract stays a few variables:
//
//	EDKIT_KAFKA_ADVERTISE    --advertise   host:port clients dial (the published port)
//	EDKIT_KAFKA_DATA         --data-dir    persist here (the container's volume)
//	EDKIT_KAFKA_PORT         --port
//	EDKIT_KAFKA_LISTEN_HOST  --listen-host
//
// A flag given on the command line wins over its variable.
//
// Kafka persistence (--data-dir) is kfake's: every acknowledged write is
// synced, and the topic list (topics.json) is written at first start, on
// CreateTopics and friends, and on a clean shutdown. So topics named in
// --topics survive a SIGKILL (they are saved at first start, and any
// missing from an existing data dir are created then through kfake's
// CreateTopic, which saves them too), but a topic that was only
// auto-created by a produce or metadata request is forgotten if the
// process is SIGKILLed before it exits cleanly, together with its
// records. Name every topic a crash test uses in --topics.
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

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/edkit-dev/edkit/harness/env/embedded"
)

// Exit statuses, so a supervisor can tell a wrong command line from a
// broker that failed to start.
const (
	exitFailed = 1
	exitUsage  = 2
)

const usageLine = "usage: edkit-broker kafka|nats [flags] (edkit-broker kafka -h for flags)"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return
	}
	fmt.Fprintln(os.Stderr, "edkit-broker:", err)
	stop()
	var u usageError
	if errors.As(err, &u) {
		os.Exit(exitUsage)
	}
	os.Exit(exitFailed)
}

// usageError is a wrong command line (exit 2), as opposed to a broker
// that could not start (exit 1).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// run starts the broker args names, reports "ready" to out, and blocks
// until ctx ends. getenv supplies the kafka flags' defaults; flag errors
// and usage go to errOut.
func run(ctx context.Context, args []string, getenv func(string) string, out, errOut io.Writer) error {
	if len(args) == 0 {
		return usageError{errors.New(usageLine)}
	}
	fs := flag.NewFlagSet("edkit-broker "+args[0], flag.ContinueOnError)
	fs.SetOutput(errOut)
	parse := func() error {
		if err := fs.Parse(args[1:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return usageError{err}
		}
		if fs.NArg() > 0 {
			return usagef("unexpected arguments %q", fs.Args())
		}
		return nil
	}
	switch args[0] {
	case "kafka":
		ports := fs.String("port", getenv("EDKIT_KAFKA_PORT"), "comma-separated ports, one per broker (env EDKIT_KAFKA_PORT)")
		listenHost := fs.String("listen-host", envOr(getenv, "EDKIT_KAFKA_LISTEN_HOST", "127.0.0.1"),
			"interface to listen on; 0.0.0.0 in a container (env EDKIT_KAFKA_LISTEN_HOST)")
		partitions := fs.Int("partitions", 4, "partitions of seeded and auto-created topics")
		topics := fs.String("topics", "", "comma-separated topics to create (kept across a SIGKILL with --data-dir)")
		dataDir := fs.String("data-dir", getenv("EDKIT_KAFKA_DATA"),
			"persist here with synced writes; empty: memory only (env EDKIT_KAFKA_DATA)")
		advertise := fs.String("advertise", getenv("EDKIT_KAFKA_ADVERTISE"),
			"comma-separated host:port each broker advertises, e.g. a proxy or published port (env EDKIT_KAFKA_ADVERTISE)")
		if err := parse(); err != nil {
			return err
		}
		cfg, err := kafkaConfig(*ports, *listenHost, *partitions, *topics, *dataDir, *advertise)
		if err != nil {
			return err
		}
		c, err := embedded.NewKafkaCluster(cfg)
		if err != nil {
			return err
		}
		defer c.Close() // saves a persisted cluster's state
		if err := ensureTopics(c, cfg); err != nil {
			return err
		}
		fmt.Fprintf(errOut, "edkit-broker: kafka listening on %s port %s, advertising %v\n", cfg.ListenHost, *ports, c.ListenAddrs())
		fmt.Fprintln(out, "ready")
		<-ctx.Done()
		return nil
	case "nats":
		port := fs.Int("port", 0, "127.0.0.1 port")
		storeDir := fs.String("store-dir", "", "JetStream store directory")
		sync := fs.Bool("sync", false, "fsync every JetStream write")
		if err := parse(); err != nil {
			return err
		}
		if *port <= 0 || *port > 65535 {
			return usagef("nats needs --port between 1 and 65535, got %d", *port)
		}
		if *storeDir == "" {
			return usagef("nats needs --store-dir")
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
	return usagef("unknown broker %q (want kafka or nats)", args[0])
}

// kafkaConfig checks the kafka flags together, so a wrong command line is
// a usage error before any port is bound.
func kafkaConfig(ports, listenHost string, partitions int, topics, dataDir, advertise string) (embedded.KafkaConfig, error) {
	ps, err := parsePorts(ports)
	if err != nil {
		return embedded.KafkaConfig{}, err
	}
	if partitions < 1 {
		return embedded.KafkaConfig{}, usagef("--partitions %d, want >= 1", partitions)
	}
	if strings.TrimSpace(listenHost) == "" {
		return embedded.KafkaConfig{}, usagef("--listen-host is empty")
	}
	adv := split(advertise)
	if len(adv) > 0 && len(adv) != len(ps) {
		return embedded.KafkaConfig{}, usagef("%d --advertise addresses for %d ports", len(adv), len(ps))
	}
	return embedded.KafkaConfig{Ports: ps, ListenHost: listenHost, Partitions: partitions,
		Topics: split(topics), DataDir: dataDir, Advertise: adv}, nil
}

// ensureTopics creates the --topics a reused data dir does not have yet:
// kfake seeds topics only on a fresh data dir, and CreateTopic saves the
// topic list at once, so they survive a later SIGKILL.
func ensureTopics(c interface {
	CreateTopic(string, int32, map[string]string) error
}, cfg embedded.KafkaConfig) error {
	for _, t := range cfg.Topics {
		err := c.CreateTopic(t, int32(cfg.Partitions), nil)
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", t, err)
		}
	}
	return nil
}

func parsePorts(s string) ([]int, error) {
	var ps []int
	for _, f := range split(s) {
		p, err := strconv.Atoi(f)
		if err != nil || p <= 0 || p > 65535 {
			return nil, usagef("bad port %q", f)
		}
		ps = append(ps, p)
	}
	if len(ps) == 0 {
		return nil, usagef("kafka needs --port (or EDKIT_KAFKA_PORT)")
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

func envOr(getenv func(string) string, k, def string) string {
	if v := getenv(k); v != "" {
		return v
	}
	return def
}
