// Package embedded is the zero-setup env provider: Kafka (franz-go's kfake,
// the real wire protocol) and NATS with JetStream (nats-server as a
// library), started inside this process on free 127.0.0.1 ports.
//
// With the spec option "mode": "child" the same brokers run instead as a
// child process of edkit's own cmd/edkit-broker binary, which makes real
// process faults possible: the handle then also kills (SIGKILL), pauses
// (SIGSTOP/SIGCONT) and exposes the broker's output. In-process handles can
// only stop and restart — their Kill is a Stop, because a goroutine cannot be
// SIGKILLed without killing the test.
//
// ComponentSpec.Durable keeps acknowledged data across Stop/Kill and
// Restart (kfake's data dir with synced writes; the JetStream file store
// with sync-always). ComponentSpec.Proxied puts a netfault proxy in front of
// every listener, so the Endpoint is the proxy and the handle implements
// env.Partitioner; Kafka then advertises the proxy's address, so clients
// never bypass it after their first metadata request.
//
// Options, all strings in ComponentSpec.Options:
//
//	mode        "inprocess" (default) or "child"
//	brokers     Kafka broker count (default 1)
//	partitions  partitions of seeded and auto-created Kafka topics (default 4)
//	topics      comma-separated Kafka topics created at start
package embedded
