package dataplane

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/podfwd/podfwd/encap"
)

// The per-batch route memo must answer every packet for its own
// addresses: good, spoofed and not-local packets interleaved in one batch,
// repeated and alternating, each get their own verdict.
func TestIngressMixedBatchVerdicts(t *testing.T) {
	e, pod, _ := newTestEngine(t, encap.KindVXLAN)
	cfg := testConfig(encap.KindVXLAN)
	node3Pod := netip.MustParseAddr("10.244.3.10")
	good := udpPacket(t, remotePod, localPod, 64, false, 30)
	good2 := udpPacket(t, netip.MustParseAddr("10.244.2.11"), netip.MustParseAddr("10.244.1.11"), 64, false, 31)
	spoofed := udpPacket(t, node3Pod, localPod, 64, false, 32)
	notLocal := udpPacket(t, remotePod, node3Pod, 64, false, 33)
	order := [][]byte{good, spoofed, good, notLocal, spoofed, good2, good2, notLocal, good}
	var payloads [][]byte
	for _, in := range order {
		payloads = append(payloads, tunnelPayload(t, cfg, cfg.Peers[0], in, 42))
	}
	forwardIngress(t, e, netipPeer(), payloads...)
	got, _ := pod.Written()
	want := [][]byte{good, good, good2, good2, good}
	if len(got) != len(want) {
		t.Fatalf("delivered %d packets, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("packet %d delivered is not the one sent", i)
		}
	}
	if n := e.Counters.Drops(ReasonSpoofedSource); n != 2 {
		t.Errorf("%d spoofed-source drops, want 2", n)
	}
	if n := e.Counters.Drops(ReasonNotLocal); n != 2 {
		t.Errorf("%d not-local drops, want 2", n)
	}
}

// The per-batch peer memo must answer every packet for its own sender:
// packets of node 2 and node 3 and a stranger's, interleaved in one batch.
// Node 3 sending node 2's pods' addresses is spoofing; the stranger is
// unknown.
func TestIngressMixedSendersInOneBatch(t *testing.T) {
	e, pod, _ := newTestEngine(t, encap.KindVXLAN)
	cfg := testConfig(encap.KindVXLAN)
	fromNode2 := tunnelPayload(t, cfg, cfg.Peers[0], udpPacket(t, remotePod, localPod, 64, false, 30), 42)
	fromNode3 := tunnelPayload(t, cfg, cfg.Peers[1], udpPacket(t, netip.MustParseAddr("10.244.3.10"), localPod, 64, false, 31), 42)
	node2, node3 := netip.AddrPortFrom(peerUnderlay, 4789), netip.AddrPortFrom(peer3, 4789)
	stranger := netip.AddrPortFrom(netip.MustParseAddr("10.99.0.77"), 4789)
	batch := []struct {
		from    netip.AddrPort
		payload []byte
	}{
		{node2, fromNode2}, {node3, fromNode3}, {node3, fromNode2}, {stranger, fromNode2},
		{node2, fromNode2}, {node2, fromNode3}, {node3, fromNode3},
	}
	l := newIngressLoop(e, e.opts.Underlay)
	for i, b := range batch {
		p := l.batch[i]
		p.Reset(Headroom)
		p.SetLen(copy(p.Buf[p.Start:], b.payload))
		p.Addr = b.from
	}
	l.forward(l.batch[:len(batch)])
	if got, _ := pod.Written(); len(got) != 4 {
		t.Errorf("delivered %d packets, want 4", len(got))
	}
	if n := e.Counters.Drops(ReasonSpoofedSource); n != 2 {
		t.Errorf("%d spoofed-source drops, want 2", n)
	}
	if n := e.Counters.Drops(ReasonUnknownPeer); n != 1 {
		t.Errorf("%d unknown-peer drops, want 1", n)
	}
}
