package node

import (
	"context"
	"testing"
	"time"

	"github.com/podfwd/podfwd/dataplane"
)

// The node counts as up only once the daemon takes its first offer from
// the relay; later configs pass through in order.
func TestRelayUntilUp(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := &dataplane.Config{Generation: 1}
	in := make(chan *dataplane.Config, 1)
	out := make(chan *dataplane.Config)
	up := make(chan struct{})
	done := make(chan struct{})
	go func() { relayUntilUp(ctx, first, in, out, func() { close(up) }); close(done) }()

	select {
	case <-up:
		t.Fatal("up before the daemon read anything")
	case <-time.After(50 * time.Millisecond):
	}
	if got := <-out; got != first {
		t.Fatalf("first offer is generation %d, want the running config", got.Generation)
	}
	<-up
	second := &dataplane.Config{Generation: 2}
	in <- second
	if got := <-out; got != second {
		t.Fatalf("got generation %d, want 2", got.Generation)
	}
	cancel()
	<-done
}
