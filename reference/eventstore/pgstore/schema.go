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
	streamState   string
	storedIDs     string
	readStream    string
	readBackwards string
	readAll       string
	readFiltered  string
	readVersions  string
	lastPosition  string
	metadata      string
	setMetadata   string
	saveSnapshot  string
	loadSnapshot  string
	dropSnapshot  string
}

// maxVersion caps the uint64 cursors callers pass (End included) to what a
// bigint column holds; no stream reaches it.
const maxVersion = "9223372036854775807"

func newQueries(schema string, unsafeSequence bool) queries {
	sc := pgx.Identifier{schema}.Sanitize()
	events := sc + ".events"
	head := sc + ".head"
	meta := sc + ".stream_metadata"
	snaps := sc + ".snapshots"
	cols := "position, stream, version, id, type, data, metadata, schema_version, time"
	// visible is one row for stream $1: whether it exists (has an event a
	// read may return) and the first version reads may return, computed
	// as eventstore.StreamMetadata.FirstVisible does. Being part of the
	// read's statement, it sees the same snapshot as the events read.
	visible := `WITH st AS (
			SELECT coalesce(max(version), 0)::numeric AS last,
			       coalesce((SELECT max_count FROM ` + meta + ` WHERE stream = $1), 0) AS mc,
			       coalesce((SELECT truncate_before FROM ` + meta + ` WHERE stream = $1), 0) AS tb
			FROM ` + events + ` WHERE stream = $1
		), vis AS (
			SELECT last > 0 AND tb <= last AS present,
			       least(greatest(1, tb, CASE WHEN mc > 0 AND last >= mc THEN last - mc + 1 ELSE 0 END), ` + maxVersion + `)::bigint AS first
			FROM st
		)`
	// safeHead is the newest position every lower one of which is known
	// committed: the head row in the guarded mode (doc.go); without the
	// guard nothing is known, and the newest stored position stands in.
	safeHead := "SELECT last FROM " + head + " WHERE one"
	if unsafeSequence {
		safeHead = "SELECT coalesce(max(position), 0) AS last FROM " + events
	}
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
			// numeric(20,0) holds every uint64 exactly, so metadata reads
			// back as it was set; a row exists only once metadata was set
			// or the stream soft-deleted.
			"CREATE TABLE IF NOT EXISTS " + meta + ` (
				stream          text          PRIMARY KEY,
				max_count       numeric(20,0) NOT NULL CHECK (max_count >= 0),
				truncate_before numeric(20,0) NOT NULL CHECK (truncate_before >= 0)
			)`,
			"CREATE TABLE IF NOT EXISTS " + snaps + ` (
				stream         text        PRIMARY KEY,
				version        bigint      NOT NULL CHECK (version > 0),
				type           text        NOT NULL,
				schema_version integer     NOT NULL,
				data           bytea,
				time           timestamptz NOT NULL
			)`,
		},
		lockHead:      "SELECT last FROM " + head + " WHERE one FOR UPDATE",
		setHead:       "UPDATE " + head + " SET last = $1 WHERE one",
		nextPositions: "SELECT nextval('" + sc + ".position_seq') FROM generate_series(1, $1::int)",
		streamState: `SELECT coalesce(max(version), 0),
				coalesce((SELECT max_count::text FROM ` + meta + ` WHERE stream = $1), '0'),
				coalesce((SELECT truncate_before::text FROM ` + meta + ` WHERE stream = $1), '0')
			FROM ` + events + ` WHERE stream = $1`,
		storedIDs: "SELECT id, stream, version, position FROM " + events + " WHERE id = ANY($1)",
		// The stream reads return one row even when no event matches (the
		// LEFT JOIN), so "not found" and "nothing from here" are told apart
		// in the same snapshot.
		readStream: visible + ` SELECT vis.present, e.* FROM vis LEFT JOIN LATERAL (
				SELECT ` + cols + ` FROM ` + events + `
				WHERE stream = $1 AND version >= greatest($2::bigint, vis.first)
				ORDER BY version LIMIT $3) e ON true`,
		readBackwards: visible + ` SELECT vis.present, e.* FROM vis LEFT JOIN LATERAL (
				SELECT ` + cols + ` FROM ` + events + `
				WHERE stream = $1 AND version <= $2::bigint AND version >= vis.first
				ORDER BY version DESC LIMIT $3) e ON true`,
		readAll: "SELECT " + cols + " FROM " + events + " WHERE position >= $1 ORDER BY position LIMIT $2",
		// readFiltered scans no further than the safe head and returns it,
		// so a filtered subscription can move its cursor past positions it
		// did not receive without skipping one that commits later.
		readFiltered: `WITH h AS (` + safeHead + `) SELECT h.last, e.* FROM h LEFT JOIN LATERAL (
				SELECT ` + cols + ` FROM ` + events + `
				WHERE position >= $1 AND position <= h.last
				  AND (cardinality($3::text[]) = 0 OR EXISTS (SELECT 1 FROM unnest($3::text[]) AS p(prefix) WHERE starts_with(stream, p.prefix)))
				  AND (cardinality($4::text[]) = 0 OR type = ANY($4::text[]))
				ORDER BY position LIMIT $2) e ON true`,
		readVersions: "SELECT " + cols + " FROM " + events + " WHERE stream = $1 AND version >= $2 ORDER BY version LIMIT $3",
		lastPosition: "SELECT coalesce(max(position), 0) FROM " + events,
		metadata:     "SELECT max_count::text, truncate_before::text FROM " + meta + " WHERE stream = $1",
		setMetadata: "INSERT INTO " + meta + ` (stream, max_count, truncate_before) VALUES ($1, $2::numeric, $3::numeric)
			ON CONFLICT (stream) DO UPDATE SET max_count = excluded.max_count, truncate_before = excluded.truncate_before`,
		saveSnapshot: "INSERT INTO " + snaps + ` AS s (stream, version, type, schema_version, data, time) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (stream) DO UPDATE SET version = excluded.version, type = excluded.type,
				schema_version = excluded.schema_version, data = excluded.data, time = excluded.time
			WHERE excluded.version >= s.version`,
		loadSnapshot: "SELECT version, type, schema_version, data, time FROM " + snaps + " WHERE stream = $1",
		dropSnapshot: "DELETE FROM " + snaps + " WHERE stream = $1",
	}
}

// migrate creates the schema. IF NOT EXISTS alone races when two processes
// create the same table at once (a unique violation in the catalog), so the
// DDL runs under a transaction-scoped advisory lock keyed by the schema.
func (s *Store) migrate(ctx context.Context) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey(s.schema)); err != nil {
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

// lockKey is the advisory lock key for a name; "edkit/pgstore/" keeps it
// apart from keys other programs on the database use.
func lockKey(name string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("edkit/pgstore/" + name))
	return int64(h.Sum64())
}

// streamKey is the advisory lock key that serializes the writes to one
// stream of this schema (doc.go): appends, metadata, delete, snapshots.
func (s *Store) streamKey(stream string) int64 {
	return lockKey(s.schema + "\x00stream\x00" + stream)
}
