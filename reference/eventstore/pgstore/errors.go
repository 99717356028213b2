package pgstore

import "errors"

var (
	// ErrBadSchema is returned by New for a schema name that is not a plain
	// lower-case identifier: the name is spliced into SQL and into a
	// NOTIFY channel name, so it is checked rather than trusted.
	ErrBadSchema = errors.New("pgstore: bad schema name")
	// ErrRetriesExhausted is returned when an append kept losing races on
	// the database's unique constraints; it is transient and safe to retry.
	ErrRetriesExhausted = errors.New("pgstore: append kept conflicting, retries exhausted")
)
