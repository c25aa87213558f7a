package testenv

import (
	"testing"
	"time"
)

// WaitFor polls cond every 10 ms until it returns nil, and fails t when it
// has not within d, with what (the condition that did not come true) and
// cond's last error. Tests use it instead of sleeping for a guessed time.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, d, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
