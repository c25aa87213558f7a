package dataplane

import (
	"context"
	"testing"
	"time"

	"github.com/podfwd/podfwd/encap"
)

// A frame engine reads its reassembly socket too: a tunnel datagram the
// kernel reassembled (here, one a MemPort of socket kind hands over) is
// decapsulated and delivered like a frame, in the goroutine loops and on
// the polling thread, and counted on the ingress side.
func TestFrameEngineReadsReassemblySocket(t *testing.T) {
	for _, polled := range []bool{false, true} {
		pod, ul, re := NewMemPort("pod", 64), NewMemPort("xdp", 64), NewMemPort("reassembled", 64)
		opts := Options{Pod: pod, Underlay: ul, UnderlayKind: UnderlayFrame,
			Reassembly: []Port{re}, ReassemblyKind: UnderlayUDP}
		if polled {
			opts.Poll = newFakePoller(0)
		}
		e, err := New(opts)
		if err != nil {
			t.Fatal(err)
		}
		cfg := testConfig(encap.KindVXLAN)
		if err := e.SetConfig(cfg); err != nil {
			t.Fatal(err)
		}
		if _, _, ok := e.pollable(); ok != polled {
			t.Fatalf("polled %v: pollable says %v", polled, ok)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- e.Run(ctx) }()
		big := udpPacket(t, remotePod, localPod, 64, false, 1300)
		re.Inject(tunnelPayload(t, cfg, cfg.Peers[0], big, 42), netipPeer())
		deadline := time.Now().Add(5 * time.Second)
		for e.Counters.Ingress.Tunnel.Load() < 1 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		pkts, _ := pod.Written()
		if len(pkts) != 1 || string(pkts[0]) != string(big) {
			t.Errorf("polled %v: delivered %d packets, want the reassembled one", polled, len(pkts))
		}
		if rx := e.Counters.Ingress.Rx.Packets.Load(); rx != 1 {
			t.Errorf("polled %v: ingress rx %d, want 1", polled, rx)
		}
	}
}

// Reassembly sockets belong to a frame underlay.
func TestReassemblyNeedsFrameUnderlay(t *testing.T) {
	pod, ul, re := NewMemPort("pod", 64), NewMemPort("ul", 64), NewMemPort("re", 64)
	if _, err := New(Options{Pod: pod, Underlay: ul, UnderlayKind: UnderlayUDP, Reassembly: []Port{re}}); err == nil {
		t.Error("a socket underlay took reassembly sockets")
	}
}
