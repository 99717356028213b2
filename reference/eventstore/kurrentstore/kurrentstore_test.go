package kurrentstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/reference/eventstore"
	"github.com/edkit-dev/edkit/reference/eventstore/eventstoretest"
	"github.com/edkit-dev/edkit/reference/eventstore/kurrentstore"
)

// kurrentURLEnv names the connection string of a server to run against.
const kurrentURLEnv = "EDKIT_KURRENT_URL"

func TestConformance(t *testing.T) {
	t.Run("kurrentstore", func(t *testing.T) {
		url := os.Getenv(kurrentURLEnv)
		if url == "" {
			t.Skip("EventStoreDB/KurrentDB cannot be installed on this machine (no Debian package, no image registry); " +
				"set EDKIT_KURRENT_URL=esdb://host:2113?tls=false to run the conformance suite against a server")
		}
		run := time.Now().UnixNano()
		eventstoretest.Run(t, func(t *testing.T) eventstore.Store {
			t.Helper()
			// Each sub-test gets its own streams on the shared server, so it
			// sees an empty store.
			prefix := fmt.Sprintf("edkit-%d-%s-", run, strings.ReplaceAll(t.Name(), "/", "."))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s, err := kurrentstore.New(ctx, url, kurrentstore.WithStreamPrefix(prefix))
			if err != nil {
				t.Fatalf("connect to %s: %v", url, err)
			}
			return s
		})
	})
}

func TestNewRejects(t *testing.T) {
	cases := []struct {
		name string
		conn string
		opts []kurrentstore.Option
		want error
	}{
		{"system-prefix", "esdb://localhost:2113?tls=false", []kurrentstore.Option{kurrentstore.WithStreamPrefix("$ce-")}, kurrentstore.ErrInvalidOption},
		{"bad-connection-string", "http://localhost:2113", nil, nil},
		// Nothing listens on port 1: New's initial read of $all must fail
		// within the context's deadline instead of hanging.
		{"unreachable-server", "esdb://127.0.0.1:1?tls=false&maxDiscoverAttempts=1", nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			s, err := kurrentstore.New(ctx, c.conn, c.opts...)
			if err == nil {
				_ = s.Close()
				t.Fatal("New succeeded")
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}
