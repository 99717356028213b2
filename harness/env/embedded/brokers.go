package embedded

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/twmb/franz-go/pkg/kfake"
)

// KafkaConfig is one kfake cluster, as both the in-process provider and
// cmd/edkit-broker start it.
type KafkaConfig struct {
	// Ports are the brokers' 127.0.0.1 ports, one per broker; fixed so a
	// restart comes back at the same addresses.
	Ports []int
	// Advertise, when set, is the host:port each broker advertises in
	// metadata instead of its own listener (the netfault proxy in front
	// of it); same length as Ports.
	Advertise []string
	// Partitions of seeded and auto-created topics.
	Partitions int
	// Topics are created at first start.
	Topics []string
	// DataDir persists the cluster (kfake.DataDir) with synced writes, so
	// a new cluster on the same dir has everything acknowledged before.
	// Empty: memory only.
	DataDir string
	// ListenHost is the interface the brokers listen on; empty means
	// 127.0.0.1 (kfake's own choice). A container sets 0.0.0.0 so the
	// published port reaches it. Listening on an unspecified address
	// without Advertise advertises 127.0.0.1:<port>, an address clients
	// can dial, rather than 0.0.0.0.
	ListenHost string
}

// NewKafkaCluster starts kfake as configured. Topic auto-creation is on,
// as kafka-go's writers expect.
func NewKafkaCluster(cfg KafkaConfig) (*kfake.Cluster, error) {
	if len(cfg.Ports) == 0 {
		return nil, fmt.Errorf("%w: kafka needs at least one port", ErrBadOption)
	}
	if len(cfg.Advertise) > 0 && len(cfg.Advertise) != len(cfg.Ports) {
		return nil, fmt.Errorf("%w: %d advertised addresses for %d brokers", ErrBadOption, len(cfg.Advertise), len(cfg.Ports))
	}
	if cfg.Partitions < 1 {
		return nil, fmt.Errorf("%w: partitions %d, want >= 1", ErrBadOption, cfg.Partitions)
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(len(cfg.Ports)),
		kfake.Ports(cfg.Ports...),
		kfake.DefaultNumPartitions(cfg.Partitions),
		kfake.AllowAutoTopicCreation(),
	}
	if len(cfg.Topics) > 0 {
		opts = append(opts, kfake.SeedTopics(int32(cfg.Partitions), cfg.Topics...))
	}
	if cfg.DataDir != "" {
		opts = append(opts, kfake.DataDir(cfg.DataDir), kfake.SyncWrites())
	}
	if len(cfg.Advertise) > 0 || (cfg.ListenHost != "" && cfg.ListenHost != "127.0.0.1") {
		byPort := map[string]string{}
		for i, p := range cfg.Ports {
			switch {
			case len(cfg.Advertise) > 0:
				byPort[strconv.Itoa(p)] = cfg.Advertise[i]
			case unspecified(cfg.ListenHost):
				byPort[strconv.Itoa(p)] = net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
			}
		}
		opts = append(opts, kfake.ListenFn(func(network, address string) (net.Listener, error) {
			_, port, err := net.SplitHostPort(address)
			if err != nil {
				return nil, err
			}
			if cfg.ListenHost != "" {
				address = net.JoinHostPort(cfg.ListenHost, port)
			}
			ln, err := (&net.ListenConfig{}).Listen(context.Background(), network, address)
			if err != nil {
				return nil, err
			}
			adv, ok := byPort[port]
			if !ok {
				return ln, nil
			}
			return advertisingListener{Listener: ln, adv: adv}, nil
		}))
	}
	return kfake.NewCluster(opts...)
}

// unspecified reports whether host is 0.0.0.0, :: or similar: every
// interface, an address clients cannot usefully be told to dial.
func unspecified(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

// advertisingListener reports adv as its address: kfake advertises
// ln.Addr() in metadata, so clients then dial adv (the proxy) for every
// broker instead of the listener itself.
type advertisingListener struct {
	net.Listener
	adv string
}

func (l advertisingListener) Addr() net.Addr { return advAddr(l.adv) }

type advAddr string

func (a advAddr) Network() string { return "tcp" }
func (a advAddr) String() string  { return string(a) }

// NATSConfig is one NATS server with JetStream.
type NATSConfig struct {
	// Port on 127.0.0.1; fixed so a restart comes back at the same URL.
	Port int
	// StoreDir is JetStream's store directory.
	StoreDir string
	// SyncAlways fsyncs every JetStream write (durable configurations).
	SyncAlways bool
}

// NewNATSServer starts a NATS server with JetStream and returns once a
// nats.go client can connect and read the JetStream account info.
func NewNATSServer(ctx context.Context, cfg NATSConfig) (*server.Server, error) {
	if cfg.StoreDir == "" {
		return nil, fmt.Errorf("%w: nats needs a store dir", ErrBadOption)
	}
	s, err := server.NewServer(&server.Options{
		ServerName: "edkit-embedded",
		Host:       "127.0.0.1",
		Port:       cfg.Port,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		SyncAlways: cfg.SyncAlways,
		NoLog:      true,
		NoSigs:     true,
	})
	if err != nil {
		return nil, err
	}
	s.Start()
	wait := 30 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		wait = time.Until(dl)
	}
	if !s.ReadyForConnections(wait) {
		s.Shutdown()
		s.WaitForShutdown()
		return nil, errors.New("nats server not ready for connections")
	}
	if err := natsReady(ctx, s.ClientURL()); err != nil {
		s.Shutdown()
		s.WaitForShutdown()
		return nil, err
	}
	return s, nil
}

// natsReady checks readiness by protocol: connect, then JetStream account
// info.
func natsReady(ctx context.Context, url string) error {
	nc, err := nats.Connect(url, nats.Timeout(5*time.Second), nats.NoReconnect())
	if err != nil {
		return fmt.Errorf("nats connect: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	if _, err := js.AccountInfo(ctx); err != nil {
		return fmt.Errorf("jetstream account info: %w", err)
	}
	return nil
}

// freePorts returns n distinct ports that were free on 127.0.0.1 a moment
// ago. Holding every listener until all are picked keeps them distinct.
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			_ = l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
