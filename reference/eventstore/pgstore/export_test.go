package pgstore

// WithoutGapGuard makes Append take positions from a sequence without the
// head lock: the naive design the gap test must catch. Tests only.
func WithoutGapGuard() Option { return func(s *Store) { s.unsafeSequence = true } }

// WithoutStreamLock makes appends, deletes, metadata and snapshot writes
// skip the per-stream lock: the race the delete test must catch. Tests
// only.
func WithoutStreamLock() Option { return func(s *Store) { s.noStreamLock = true } }
