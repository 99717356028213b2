package service

import "time"

// FastRetries makes failed publishes retry without waiting, for the
// duration of a test.
func FastRetries() (restore func()) {
	old := publishBackoff
	publishBackoff = func(int) time.Duration { return time.Millisecond }
	return func() { publishBackoff = old }
}
