package node

import (
	"errors"
	"testing"
)

// Readiness waits for the engine to run before it looks at the link: a
// probe must not see ready while routes are still being programmed.
func TestEngineReadyWaitsForRunning(t *testing.T) {
	var running bool
	ready := engineReady(func() bool { return running }, "lo")
	if err := ready(); !errors.Is(err, errNotRunning) {
		t.Fatalf("before running: %v, want errNotRunning", err)
	}
	running = true
	if err := ready(); errors.Is(err, errNotRunning) {
		t.Fatalf("while running: %v", err)
	}
	ready = engineReady(func() bool { return true }, "podfwd-no-such-link")
	if err := ready(); err == nil {
		t.Fatal("a missing TUN reads as ready")
	}
}
