// Command edkit-kfake runs an in-process Kafka broker (franz-go's kfake, the
// real Kafka wire protocol) inside a container image built FROM scratch, for
// machines that cannot pull an official Kafka image.
//
// It listens on 0.0.0.0:<port> inside the container and advertises the
// address the client will dial from the host: the harness picks a free host
// port first, publishes it 1:1, and passes 127.0.0.1:<port> as -advertise (or
// EDKIT_KAFKA_ADVERTISE). With -data (or EDKIT_KAFKA_DATA) the broker keeps
// its log on disk, so a stopped and restarted container still has it.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "edkit-kfake:", err)
		os.Exit(1)
	}
}

func run() error {
	advertise := flag.String("advertise", envOr("EDKIT_KAFKA_ADVERTISE", "127.0.0.1:9092"), "host:port clients are told to dial")
	port := flag.Int("port", 9092, "port to listen on inside the container")
	data := flag.String("data", os.Getenv("EDKIT_KAFKA_DATA"), "directory for the broker's log (empty: memory only)")
	partitions := flag.Int("partitions", 1, "default partitions of auto-created topics")
	flag.Parse()

	adv, err := net.ResolveTCPAddr("tcp", *advertise)
	if err != nil {
		return fmt.Errorf("bad -advertise %q: %w", *advertise, err)
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(*port),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(*partitions),
		// kfake listens on 127.0.0.1 and advertises its listener's address:
		// listen on every interface instead and report the advertised one.
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			ln, err := new(net.ListenConfig).Listen(context.Background(), network, net.JoinHostPort("0.0.0.0", strconv.Itoa(*port)))
			if err != nil {
				return nil, err
			}
			return advertisedListener{Listener: ln, addr: adv}, nil
		}),
	}
	if *data != "" {
		opts = append(opts, kfake.DataDir(*data), kfake.SyncWrites())
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return err
	}
	fmt.Printf("edkit-kfake: listening on 0.0.0.0:%d, advertising %s\n", *port, adv)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	c.Close()
	return nil
}

// advertisedListener accepts on the real listener but reports the address
// clients must dial, which kfake puts in its metadata responses.
type advertisedListener struct {
	net.Listener
	addr net.Addr
}

func (l advertisedListener) Addr() net.Addr { return l.addr }

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
