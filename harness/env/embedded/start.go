package embedded

import (
	"context"
	"strconv"
	"strings"

	"github.com/edkit-dev/edkit/harness/env"
)

// KafkaOption shapes the Kafka component StartKafka starts.
type KafkaOption func(*env.ComponentSpec)

// Brokers sets the broker count (default 1).
func Brokers(n int) KafkaOption {
	return func(s *env.ComponentSpec) { s.Options["brokers"] = strconv.Itoa(n) }
}

// Partitions sets the partition count of seeded and auto-created topics
// (default 4).
func Partitions(n int) KafkaOption {
	return func(s *env.ComponentSpec) { s.Options["partitions"] = strconv.Itoa(n) }
}

// Topics creates these topics at start.
func Topics(topics ...string) KafkaOption {
	return func(s *env.ComponentSpec) {
		if old := s.Options["topics"]; old != "" {
			topics = append([]string{old}, topics...)
		}
		s.Options["topics"] = strings.Join(topics, ",")
	}
}

// KafkaSpec is the spec StartKafka uses, for callers that start more
// components beside it with env.Start.
func KafkaSpec(opts ...KafkaOption) env.ComponentSpec {
	s := env.ComponentSpec{Kind: env.KindKafka, Provider: env.Embedded, Options: map[string]string{}}
	for _, o := range opts {
		o(&s)
	}
	return s
}

// StartKafka is the short path to one in-process Kafka (component name
// "kafka"): env.Start with this provider and KafkaSpec(opts...). Bootstrap
// brokers are e.Component("kafka").Endpoint().Addrs; Close the
// environment when done.
func StartKafka(ctx context.Context, opts ...KafkaOption) (*env.Environment, error) {
	return env.Start(ctx, env.Spec{Components: []env.ComponentSpec{KafkaSpec(opts...)}}, env.WithProvider(New()))
}
