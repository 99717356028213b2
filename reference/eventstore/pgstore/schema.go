package pgstore

import (
	"context"
	"fmt"
	"hash/fnv"

	"github.com/jackc/pgx/v5"
)

// eventColumns is the order every insert and select uses.
var eventColumns = []string{"position", "stream", "version", "id", "type", "data", "metadata", "schema_version", "time"}

// queries holds the SQL with the schema spliced in once, at New.
type queries struct {
	ddl           []string
	lockHead      string
	setHead       string
	nextPositions string
	streamVersion string
	storedIDs     string
	readStream    string
	streamExists  string
	readAll       string
	lastPosition  string
}

func newQueries(schema string) queries {
	sc := pgx.Identifier{schema}.Sanitize()
	events := sc + ".events"
	head := sc + ".head"
	cols := "position, stream, version, id, type, data, metadata, schema_version, time"
	return queries{
		ddl: []string{
			"CREATE SCHEMA IF NOT EXISTS " + sc,
			// data is bytea, not jsonb: jsonb would reformat the body, and
			// the store returns bytes exactly as appended.
			"CREATE TABLE IF NOT EXISTS " + events + ` (
				position       bigint      PRIMARY KEY,
				stream         text        NOT NULL,
				version        bigint      NOT NULL,
				id             text        NOT NULL,
				type           text        NOT NULL,
				data           bytea,
				metadata       jsonb,
				schema_version integer     NOT NULL,
				time           timestamptz NOT NULL,
				CONSTRAINT events_stream_version UNIQUE (stream, version),
				CONSTRAINT events_id UNIQUE (id),
				CHECK (position > 0 AND version > 0)
			)`,
			// head holds the last allocated position; Append locks its one
			// row until commit, which serializes allocation (doc.go).
			"CREATE TABLE IF NOT EXISTS " + head + " (one boolean PRIMARY KEY DEFAULT true CHECK (one), last bigint NOT NULL)",
			"INSERT INTO " + head + " (one, last) VALUES (true, 0) ON CONFLICT DO NOTHING",
			// Used only by the unsafe test mode that proves the gap test fails.
			"CREATE SEQUENCE IF NOT EXISTS " + sc + ".position_seq",
		},
		lockHead:      "SELECT last FROM " + head + " WHERE one FOR UPDATE",
		setHead:       "UPDATE " + head + " SET last = $1 WHERE one",
		nextPositions: "SELECT nextval('" + sc + ".position_seq') FROM generate_series(1, $1::int)",
		streamVersion: "SELECT coalesce(max(version), 0) FROM " + events + " WHERE stream = $1",
		storedIDs:     "SELECT id, stream, version, position FROM " + events + " WHERE id = ANY($1)",
		readStream:    "SELECT " + cols + " FROM " + events + " WHERE stream = $1 AND version >= $2 ORDER BY version LIMIT $3",
		streamExists:  "SELECT EXISTS (SELECT 1 FROM " + events + " WHERE stream = $1)",
		readAll:       "SELECT " + cols + " FROM " + events + " WHERE position >= $1 ORDER BY position LIMIT $2",
		lastPosition:  "SELECT coalesce(max(position), 0) FROM " + events,
	}
}

// migrate creates the schema. IF NOT EXISTS alone races when two processes
// create the same table at once (a unique violation in the catalog), so the
// DDL runs under a transaction-scoped advisory lock keyed by the schema.
func (s *Store) migrate(ctx context.Context) error {
	h := fnv.New64a()
	_, _ = h.Write([]byte("edkit/pgstore/" + s.schema))
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(h.Sum64())); err != nil {
			return err
		}
		for _, stmt := range s.q.ddl {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("%s: %w", stmt, err)
			}
		}
		return nil
	})
}
