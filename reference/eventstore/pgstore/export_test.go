package pgstore

// WithoutGapGuard makes Append take positions from a sequence without the
// head lock: the naive design the gap test must catch. Tests only.
func WithoutGapGuard() Option { return func(s *Store) { s.unsafeSequence = true } }
