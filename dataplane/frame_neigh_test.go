package dataplane

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/podfwd/podfwd/dataplane/offload"
	"github.com/podfwd/podfwd/encap"
)

// withUnresolvedNode2 installs the frame engine's config again with node
// 2's next-hop MAC unknown (zero), as the daemon does for a peer whose
// neighbour entry has not resolved.
func withUnresolvedNode2(t *testing.T, e *Engine) {
	t.Helper()
	cfg := testConfig(encap.KindVXLAN)
	cfg.LocalUnderlayMAC = ourUnderlayMAC
	cfg.Peers[1].UnderlayMAC = peerUnderlayMAC
	if err := e.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
}

// A frame to a peer whose next hop has no MAC is dropped with its own
// reason, plain or as a GSO super-packet (once, not per segment); the
// other peers are not affected.
func TestFrameModeDropsFramesToUnresolvedNextHop(t *testing.T) {
	e, _, ul := newFrameEngine(t, encap.KindVXLAN)
	withUnresolvedNode2(t, e)
	forwardEgress(t, e,
		udpPacket(t, localPod, remotePod, 64, true, 100),
		udpPacket(t, localPod, thirdPod, 64, true, 100),
	)
	frames, _ := ul.Written()
	if len(frames) != 1 {
		t.Fatalf("%d frames, want 1 (to node 3 only)", len(frames))
	}
	eth := gopacket.NewPacket(frames[0], layers.LayerTypeEthernet, gopacket.Default).Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	if !bytes.Equal(eth.DstMAC, peerUnderlayMAC[:]) {
		t.Errorf("frame to node 3 went to %v", eth.DstMAC)
	}
	if got := e.Counters.Drops(ReasonNeighbourUnresolved); got != 1 {
		t.Errorf("drops[%s] = %d, want 1", ReasonNeighbourUnresolved, got)
	}

	super := tcpPacket(t, false, 4000)
	copy(super[12:16], localPod.AsSlice())
	copy(super[16:20], remotePod.AsSlice())
	l := newEgressLoop(e, e.opts.Pod)
	p := l.batch[0]
	p.Reset(Headroom)
	p.SetLen(copy(p.Buf[p.Start:], super))
	p.GSO = offload.VirtioNetHdr{Flags: offload.FlagNeedsCsum, GSOType: offload.GSOTCPv4, HdrLen: 40, GSOSize: 1400, CsumStart: 20, CsumOffset: 16}
	l.forward(l.batch[:1])
	if frames, _ := ul.Written(); len(frames) != 0 {
		t.Errorf("a super-packet to an unresolved next hop left as %d frames", len(frames))
	}
	if got := e.Counters.Drops(ReasonNeighbourUnresolved); got != 2 {
		t.Errorf("drops[%s] = %d after the super-packet, want 2", ReasonNeighbourUnresolved, got)
	}
	assertConserved(t, &e.Counters)
	if ReasonNeighbourUnresolved.String() != "neighbour-unresolved" {
		t.Errorf("reason name %q changed; it is a metric label", ReasonNeighbourUnresolved)
	}
}

// The drop costs no allocation: a node whose peer is down must not turn
// the pods' retries into garbage.
func TestFrameModeUnresolvedDropDoesNotAllocate(t *testing.T) {
	e, _, _ := newFrameEngine(t, encap.KindVXLAN)
	withUnresolvedNode2(t, e)
	if allocs := egressAllocs(e, udpPacket(t, localPod, remotePod, 64, false, 1000)); allocs != 0 {
		t.Errorf("%.1f allocations per batch, want 0", allocs)
	}
	if e.Counters.Drops(ReasonNeighbourUnresolved) == 0 {
		t.Fatal("nothing was dropped: the measurement measured nothing")
	}
}

// Over an IPv6 underlay a whole frame carries Ethernet type 0x86DD and an
// IPv6 outer header, and a frame built so is taken back by a peer engine.
func TestFrameModeIPv6Underlay(t *testing.T) {
	ours, theirs := netip.MustParseAddr("fd99::1"), netip.MustParseAddr("fd99::2")
	node1Prefixes := []netip.Prefix{netip.MustParsePrefix("10.244.1.0/24"), netip.MustParsePrefix("fd00:244:1::/64")}
	node2Prefixes := []netip.Prefix{netip.MustParsePrefix("10.244.2.0/24"), netip.MustParsePrefix("fd00:244:2::/64")}
	for _, kind := range []encap.Kind{encap.KindVXLAN, encap.KindGeneve, encap.KindIPIP} {
		t.Run(kind.String(), func(t *testing.T) {
			node1, pod1, ul1 := newFrameEngine(t, kind)
			node2, pod2, _ := newFrameEngine(t, kind)
			cfg1 := testConfig(kind)
			cfg1.LocalUnderlay, cfg1.LocalUnderlayMAC = ours, ourUnderlayMAC
			cfg1.Peers = []Peer{{Name: "node2", Underlay: theirs, VTEPMAC: peerMAC, UnderlayMAC: peerUnderlayMAC, PodCIDRs: node2Prefixes}}
			cfg2 := testConfig(kind)
			cfg2.LocalUnderlay, cfg2.LocalVTEPMAC, cfg2.LocalUnderlayMAC, cfg2.LocalPodCIDRs = theirs, peerMAC, peerUnderlayMAC, node2Prefixes
			cfg2.Peers = []Peer{{Name: "node1", Underlay: ours, VTEPMAC: ourMAC, UnderlayMAC: ourUnderlayMAC, PodCIDRs: node1Prefixes}}
			if err := node1.SetConfig(cfg1); err != nil {
				t.Fatal(err)
			}
			if err := node2.SetConfig(cfg2); err != nil {
				t.Fatal(err)
			}
			inner4 := udpPacket(t, localPod, remotePod, 64, true, 200)
			inner6 := udpPacket(t, localPod6, remotePod6, 64, false, 200)
			forwardEgress(t, node1, inner4, inner6)
			frames, _ := ul1.Written()
			if len(frames) != 2 {
				t.Fatalf("%d frames, want 2", len(frames))
			}
			for i, f := range frames {
				pkt := gopacket.NewPacket(f, layers.LayerTypeEthernet, gopacket.Default)
				eth, _ := pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
				if eth == nil || eth.EthernetType != layers.EthernetTypeIPv6 || !bytes.Equal(eth.DstMAC, peerUnderlayMAC[:]) || !bytes.Equal(eth.SrcMAC, ourUnderlayMAC[:]) {
					t.Fatalf("frame %d: outer Ethernet wrong: %v", i, pkt)
				}
				ip, ok := pkt.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
				if !ok || !ip.SrcIP.Equal(ours.AsSlice()) || !ip.DstIP.Equal(theirs.AsSlice()) {
					t.Fatalf("frame %d: outer IPv6 wrong or missing: %v", i, pkt)
				}
				if int(ip.Length) != len(f)-encap.EthernetLen-encap.IPv6Len {
					t.Errorf("frame %d: IPv6 payload length %d, frame has %d after the header", i, ip.Length, len(f)-encap.EthernetLen-encap.IPv6Len)
				}
				if kind != encap.KindIPIP {
					u, ok := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP)
					if !ok || u.Checksum == 0 {
						t.Errorf("frame %d: UDP over IPv6 without a checksum: %v", i, pkt)
					}
				}
			}
			if !bytes.HasSuffix(frames[0], inner4) || !bytes.HasSuffix(frames[1], inner6) {
				t.Error("an inner packet is not at the end of its frame unchanged")
			}
			forwardIngress(t, node2, netip.AddrPort{}, frames...)
			got, _ := pod2.Written()
			if len(got) != 2 || !bytes.Equal(got[0], inner4) || !bytes.Equal(got[1], inner6) {
				t.Fatalf("node 2 delivered %d packets, want both inner packets byte for byte", len(got))
			}
			if p, _ := pod1.Written(); len(p) != 0 {
				t.Errorf("node 1 answered %d packets to its own pods", len(p))
			}
		})
	}
}
