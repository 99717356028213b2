package pgstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/harness/env/process"
	"github.com/edkit-dev/edkit/reference/eventstore"
	"github.com/edkit-dev/edkit/reference/eventstore/eventstoretest"
	"github.com/edkit-dev/edkit/reference/eventstore/pgstore"
)

// One PostgreSQL per test binary, started in TestMain; every test gets its
// own schema in it.
var (
	pgEnv     *env.Environment
	pgURL     string
	pgDownWhy string
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(crashChild())
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	p := process.New()
	if err := p.Supports(env.KindPostgres); err != nil {
		pgDownWhy = fmt.Sprintf("postgres process provider unavailable: %v", err)
		fmt.Fprintln(os.Stderr, "pgstore tests will fail:", pgDownWhy)
		return m.Run()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Durable: the server-kill crash test needs acknowledged commits on disk
	// (the default test configuration turns off synchronous_commit).
	e, err := env.Start(ctx, env.Spec{Components: []env.ComponentSpec{
		{Kind: env.KindPostgres, Provider: env.Process, Durable: true},
	}}, env.WithProvider(p))
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgstore tests: start postgres:", err)
		return 1
	}
	pgEnv, pgURL = e, e.Component("postgres").Endpoint().URL
	code := m.Run()
	if err := e.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "pgstore tests: stop postgres:", err)
	}
	return code
}

// needPG fails the test when PostgreSQL could not start, saying why: make
// deps installs it, so CI must run it.
func needPG(t *testing.T) {
	t.Helper()
	if pgURL == "" {
		t.Fatal(pgDownWhy)
	}
}

// freshSchema returns a new schema name and drops it when the test ends.
func freshSchema(tb testing.TB) string {
	tb.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	name := "t_" + hex.EncodeToString(b)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, pgURL)
		if err != nil {
			tb.Errorf("drop schema %s: %v", name, err)
			return
		}
		defer func() { _ = conn.Close(ctx) }()
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+name+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", name, err)
		}
	})
	return name
}

// newStore opens a store on a fresh schema, closed when the test ends.
func newStore(t *testing.T, opts ...pgstore.Option) *pgstore.Store {
	t.Helper()
	needPG(t)
	schema := freshSchema(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := pgstore.New(ctx, pgURL, append([]pgstore.Option{pgstore.WithSchema(schema), pgstore.WithPollInterval(200 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	needPG(t)
	t.Run("pgstore", func(t *testing.T) {
		eventstoretest.Run(t, func(t *testing.T) eventstore.Store {
			t.Helper()
			return newStore(t)
		})
	})
}
