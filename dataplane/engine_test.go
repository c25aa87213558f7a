package dataplane

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/podfwd/podfwd/encap"
)

// Run forwards in both directions until its context ends, then closes the
// ports and returns.
func TestEngineRunBothWaysAndStop(t *testing.T) {
	e, pod, ul := newTestEngine(t, encap.KindVXLAN)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()

	cfg := testConfig(encap.KindVXLAN)
	pod.Inject(udpPacket(t, localPod, remotePod, 64, false, 50), netip.AddrPort{})
	ul.Inject(tunnelPayload(t, cfg, cfg.Peers[0], udpPacket(t, remotePod, localPod, 64, false, 50), 42), netip.AddrPortFrom(peerUnderlay, 4789))
	deadline := time.Now().Add(5 * time.Second)
	for e.Counters.Egress.Tx.Packets.Load() < 1 || e.Counters.Ingress.Tx.Packets.Load() < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("not forwarded in 5s: egress tx %d, ingress tx %d", e.Counters.Egress.Tx.Packets.Load(), e.Counters.Ingress.Tx.Packets.Load())
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v after cancel, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if _, err := pod.WriteBatch(nil); err != ErrPortClosed {
		t.Error("Run did not close the pod port")
	}
}

func TestNewRejectsMissingPorts(t *testing.T) {
	if _, err := New(Options{Pod: NewMemPort("p", 1)}); err != ErrNoPorts {
		t.Fatalf("New without an underlay port: %v, want ErrNoPorts", err)
	}
}
