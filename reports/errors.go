package reports

import "errors"

// ErrNilRun is returned by writers given no run to write.
var ErrNilRun = errors.New("reports: run is nil")
