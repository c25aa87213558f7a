package dataplane

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/podfwd/podfwd/encap"
)

// fakePoller sleeps briefly in Wait (standing in for epoll over MemPorts,
// which have no descriptor) and counts what the loop asked of it.
type fakePoller struct {
	wake          chan struct{}
	waits, yields atomic.Int64
	spin          time.Duration
	closed        atomic.Bool
}

func newFakePoller(spin time.Duration) *fakePoller {
	return &fakePoller{wake: make(chan struct{}, 1), spin: spin}
}

func (f *fakePoller) Wait() error {
	f.waits.Add(1)
	select {
	case <-f.wake:
	case <-time.After(time.Millisecond):
	}
	return nil
}
func (f *fakePoller) Wake() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}
func (f *fakePoller) Spin() time.Duration { return f.spin }
func (f *fakePoller) Yield()              { f.yields.Add(1) }
func (f *fakePoller) Close() error        { f.closed.Store(true); return nil }

// One thread forwards both directions; it spins (yielding) before it
// waits, and stops promptly, before the ports close, when ctx ends.
func TestPolledEngineForwardsBothWaysAndStops(t *testing.T) {
	pod, ul := NewMemPort("pod", 64), NewMemPort("ul", 64)
	poll := newFakePoller(200 * time.Microsecond)
	e, err := New(Options{Pod: pod, Underlay: ul, UDPGSO: true, Poll: poll})
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(encap.KindVXLAN)
	if err := e.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := e.pollable(); !ok {
		t.Fatal("MemPorts with a poller are not served by the polling thread")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	for i := 0; i < 20; i++ {
		pod.Inject(udpPacket(t, localPod, remotePod, 64, false, 100), netipPeer())
		ul.Inject(tunnelPayload(t, cfg, cfg.Peers[0], udpPacket(t, remotePod, localPod, 64, false, 100), 42), netipPeer())
		time.Sleep(300 * time.Microsecond)
	}
	deadline := time.Now().Add(5 * time.Second)
	for (e.Counters.Egress.Tunnel.Load() < 20 || e.Counters.Ingress.Tunnel.Load() < 20) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if eg, in := e.Counters.Egress.Tunnel.Load(), e.Counters.Ingress.Tunnel.Load(); eg != 20 || in != 20 {
		t.Fatalf("forwarded %d egress and %d ingress packets, want 20 each", eg, in)
	}
	// Idle: the loop must spin, then sleep. Polled, not a fixed sleep, so
	// a loaded machine delays the answer instead of failing it.
	deadline = time.Now().Add(5 * time.Second)
	for (poll.yields.Load() == 0 || poll.waits.Load() == 0) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if poll.yields.Load() == 0 || poll.waits.Load() == 0 {
		t.Errorf("yields %d waits %d: the loop neither spun nor slept", poll.yields.Load(), poll.waits.Load())
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if !poll.closed.Load() {
		t.Error("the poller was not closed")
	}
}

// With Spin 0 the loop never spins: an idle loop only waits.
func TestPolledEngineWithoutSpinOnlyWaits(t *testing.T) {
	pod, ul := NewMemPort("pod", 64), NewMemPort("ul", 64)
	poll := newFakePoller(0)
	e, err := New(Options{Pod: pod, Underlay: ul, Poll: poll})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	// Wait for a few waits rather than for a fixed time: on a loaded
	// machine the thread may start late (CI once saw none in 30 ms).
	deadline := time.Now().Add(5 * time.Second)
	for poll.waits.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if poll.yields.Load() != 0 || poll.waits.Load() == 0 {
		t.Errorf("yields %d waits %d; want no yield, some waits", poll.yields.Load(), poll.waits.Load())
	}
}
