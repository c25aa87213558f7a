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

var (
	ourUnderlayMAC  = [6]byte{0x02, 0, 0, 0, 0, 1}
	peerUnderlayMAC = [6]byte{0x02, 0, 0, 0, 0, 2}
)

func newFrameEngine(t testing.TB, kind encap.Kind) (*Engine, *MemPort, *MemPort) {
	t.Helper()
	pod, ul := NewMemPort("pod", 64), NewMemPort("xdp", 64)
	e, err := New(Options{Pod: pod, Underlay: ul, UnderlayKind: UnderlayFrame})
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(kind)
	cfg.LocalUnderlayMAC = ourUnderlayMAC
	for i := range cfg.Peers {
		cfg.Peers[i].UnderlayMAC = peerUnderlayMAC
	}
	if err := e.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	return e, pod, ul
}

// In frame mode the engine writes whole frames that gopacket decodes from
// the outer Ethernet header down to the inner packet.
func TestFrameModeEgressWritesWholeFrames(t *testing.T) {
	for _, kind := range []encap.Kind{encap.KindVXLAN, encap.KindGeneve, encap.KindIPIP} {
		t.Run(kind.String(), func(t *testing.T) {
			e, _, ul := newFrameEngine(t, kind)
			inner := udpPacket(t, localPod, remotePod, 64, true, 200)
			forwardEgress(t, e, inner)
			frames, _ := ul.Written()
			if len(frames) != 1 {
				t.Fatalf("%d frames, want 1", len(frames))
			}
			pkt := gopacket.NewPacket(frames[0], layers.LayerTypeEthernet, gopacket.Default)
			eth := pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
			if !bytes.Equal(eth.DstMAC, peerUnderlayMAC[:]) || !bytes.Equal(eth.SrcMAC, ourUnderlayMAC[:]) {
				t.Errorf("outer Ethernet %v -> %v", eth.SrcMAC, eth.DstMAC)
			}
			ip, ok := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
			if !ok || !ip.SrcIP.Equal(ourUnderlay.AsSlice()) || !ip.DstIP.Equal(peerUnderlay.AsSlice()) {
				t.Fatalf("outer IPv4 wrong or missing: %v", pkt)
			}
			if !bytes.HasSuffix(frames[0], inner) {
				t.Error("the inner packet is not at the end of the frame unchanged")
			}
			if kind == encap.KindVXLAN {
				if _, ok := pkt.Layer(layers.LayerTypeVXLAN).(*layers.VXLAN); !ok {
					t.Errorf("no VXLAN layer: %v", pkt)
				}
			}
		})
	}
}

func TestFrameModeIngressAndSenderCheck(t *testing.T) {
	e, pod, _ := newFrameEngine(t, encap.KindVXLAN)
	// Build the frame node 2 would send, with our own egress of node 2's
	// view: swap the roles by encapsulating with a peer engine.
	peer, peerUL := newFramePeer(t)
	inner := udpPacket(t, remotePod, localPod, 64, false, 300)
	forwardEgress(t, peer, inner)
	frames, _ := peerUL.Written()
	if len(frames) != 1 {
		t.Fatalf("peer wrote %d frames", len(frames))
	}
	forwardIngress(t, e, netip.AddrPort{}, frames[0])
	got, _ := pod.Written()
	if len(got) != 1 || !bytes.Equal(got[0], inner) {
		t.Fatalf("delivered %d packets, want the inner packet", len(got))
	}
	arp := make([]byte, 60)
	arp[12], arp[13] = 0x08, 0x06
	forwardIngress(t, e, netip.AddrPort{}, arp)
	if e.Counters.Drops(ReasonNotIP) != 1 {
		t.Error("an ARP frame was not dropped as not-ip")
	}
}

func TestFrameModeSplitsSuperPacketsIntoFrames(t *testing.T) {
	e, _, ul := newFrameEngine(t, encap.KindVXLAN)
	super := tcpPacket(t, false, 4000)
	// Swap addresses: this one leaves node 1 for node 2.
	copy(super[12:16], localPod.AsSlice())
	copy(super[16:20], remotePod.AsSlice())
	l := newEgressLoop(e, e.opts.Pod)
	p := l.batch[0]
	p.Reset(Headroom)
	p.SetLen(copy(p.Buf[p.Start:], super))
	p.GSO = offload.VirtioNetHdr{Flags: offload.FlagNeedsCsum, GSOType: offload.GSOTCPv4, HdrLen: 40, GSOSize: 1400, CsumStart: 20, CsumOffset: 16}
	l.forward(l.batch[:1])
	frames, _ := ul.Written()
	if len(frames) != 3 {
		t.Fatalf("%d frames for a 4000-byte super-packet at MSS 1400, want 3", len(frames))
	}
	for i, f := range frames {
		pkt := gopacket.NewPacket(f, layers.LayerTypeEthernet, gopacket.Default)
		if _, ok := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP); !ok || pkt.ErrorLayer() != nil {
			t.Fatalf("frame %d does not decode down to TCP: %v", i, pkt)
		}
		if len(f) > 14+1500 {
			t.Errorf("frame %d is %d bytes, above the underlay MTU", i, len(f))
		}
	}
}
