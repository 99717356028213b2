package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/amqpbus"
	"github.com/edkit-dev/edkit/reference/bus/kafkabus"
	"github.com/edkit-dev/edkit/reference/bus/natsbus"
	"github.com/edkit-dev/edkit/reference/bus/redisbus"
)

// kafkaTopicWait bounds the start-up check for the Kafka topics.
const kafkaTopicWait = 10 * time.Second

// errNoTopics is the Kafka start-up check's error for missing topics.
var errNoTopics = errors.New("kafka topics missing: create them before starting bank-service")

// open opens the bus for --broker with each backend's defaults.
func (o *options) open(ctx context.Context) (bus.Bus, error) {
	switch o.broker {
	case brokerKafka:
		addrs := splitList(o.addr)
		// kafkabus neither creates topics (by default) nor notices a dead
		// cluster (its group join retries for ever): check both here.
		if err := kafkaTopics(ctx, addrs, o.cfg.In, o.cfg.Out); err != nil {
			return nil, err
		}
		return kafkabus.New(addrs)
	case brokerRabbitMQ:
		return amqpbus.New(ctx, o.url)
	case brokerNATS:
		return natsbus.New(o.url)
	default: // redis; parseArgs let nothing else through
		if o.url != "" {
			return redisbus.New(o.url)
		}
		return redisbus.New(o.addr)
	}
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// kafkaTopics waits, up to kafkaTopicWait, until the cluster at addrs
// lists every topic; a topic created a moment ago, whose leader is not
// elected yet, is waited for too.
func kafkaTopics(ctx context.Context, addrs []string, topics ...string) error {
	ctx, cancel := context.WithTimeout(ctx, kafkaTopicWait)
	defer cancel()
	for {
		err := kafkaHasTopics(ctx, addrs, topics)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// kafkaHasTopics asks the first broker that answers for the cluster's
// topics (all of them: asking for named ones could auto-create them).
func kafkaHasTopics(ctx context.Context, addrs []string, topics []string) error {
	var d kafka.Dialer
	var errs []error
	for _, addr := range addrs {
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if dl, ok := ctx.Deadline(); ok {
			_ = conn.SetDeadline(dl) // a failure shows in the read below
		}
		parts, err := conn.ReadPartitions()
		_ = conn.Close() // read-only: nothing to flush
		if err != nil {
			return fmt.Errorf("kafka: list topics: %w", err)
		}
		var missing []string
		for _, t := range topics {
			if !slices.ContainsFunc(parts, func(p kafka.Partition) bool { return p.Topic == t }) {
				missing = append(missing, t)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("%w: %s", errNoTopics, strings.Join(missing, ", "))
		}
		return nil
	}
	return fmt.Errorf("kafka: dial: %w", errors.Join(errs...))
}

// redacted is the broker's address for messages, passwords masked.
func (o *options) redacted() string {
	if o.url == "" {
		return redact(o.addr)
	}
	return redact(o.url)
}

// redact masks the password of each URL in a comma-separated list.
func redact(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		if !strings.Contains(p, "://") {
			continue
		}
		u, err := url.Parse(strings.TrimSpace(p))
		if err != nil {
			parts[i] = "<unparseable url>"
			continue
		}
		parts[i] = u.Redacted()
	}
	return strings.Join(parts, ",")
}

// scrub is err's text with the credentials of --url and --addr masked,
// in case a client library quoted them.
func (o *options) scrub(err error) string {
	s := err.Error()
	for _, p := range strings.Split(o.url+","+o.addr, ",") {
		u, perr := url.Parse(strings.TrimSpace(p))
		if perr != nil || u.User == nil {
			continue
		}
		if pw, ok := u.User.Password(); ok {
			s = strings.ReplaceAll(s, u.User.String()+"@", u.User.Username()+":xxxxx@")
			if len(pw) >= 3 { // shorter ones would mask ordinary words
				s = strings.ReplaceAll(s, url.PathEscape(pw), "xxxxx")
				s = strings.ReplaceAll(s, pw, "xxxxx")
			}
		}
	}
	return s
}
