package dataplane

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/podfwd/podfwd/encap"
)

func TestEgressVXLANIsDecodedByGopacket(t *testing.T) {
	e, _, ul := newTestEngine(t, encap.KindVXLAN)
	inner := udpPacket(t, localPod, remotePod, 64, true, 100)
	forwardEgress(t, e, inner)

	pkts, addrs := ul.Written()
	if len(pkts) != 1 {
		t.Fatalf("underlay got %d packets, want 1", len(pkts))
	}
	if want := netip.AddrPortFrom(peerUnderlay, 4789); addrs[0] != want {
		t.Errorf("sent to %v, want %v", addrs[0], want)
	}
	pkt := gopacket.NewPacket(pkts[0], layers.LayerTypeVXLAN, gopacket.Default)
	vx, ok := pkt.Layer(layers.LayerTypeVXLAN).(*layers.VXLAN)
	if !ok {
		t.Fatalf("gopacket found no VXLAN layer: %v", pkt)
	}
	if !vx.ValidIDFlag || vx.VNI != 42 {
		t.Errorf("VXLAN flags/VNI = %v/%d, want I flag and 42", vx.ValidIDFlag, vx.VNI)
	}
	eth, ok := pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	if !ok {
		t.Fatal("no inner Ethernet")
	}
	if !bytes.Equal(eth.DstMAC, peerMAC[:]) || !bytes.Equal(eth.SrcMAC, ourMAC[:]) || eth.EthernetType != layers.EthernetTypeIPv4 {
		t.Errorf("inner Ethernet %v -> %v type %v, want %x -> %x IPv4", eth.SrcMAC, eth.DstMAC, eth.EthernetType, ourMAC, peerMAC)
	}
	if !bytes.Equal(eth.Payload, inner) {
		t.Errorf("inner packet changed on the way:\n got %x\nwant %x", eth.Payload, inner)
	}
	if got := e.Counters.Egress.Tunnel.Load(); got != 1 {
		t.Errorf("encap counter = %d, want 1", got)
	}
}

func TestEgressIPv6InnerAndIPIPLeavesPacketBare(t *testing.T) {
	e, _, ul := newTestEngine(t, encap.KindIPIP)
	inner := udpPacket(t, localPod6, remotePod6, 64, false, 64)
	forwardEgress(t, e, inner)
	pkts, addrs := ul.Written()
	if len(pkts) != 1 || !bytes.Equal(pkts[0], inner) {
		t.Fatalf("IPIP via the raw socket must send the inner packet as is; got %d packets", len(pkts))
	}
	if addrs[0].Addr() != peerUnderlay {
		t.Errorf("sent to %v, want %v", addrs[0], peerUnderlay)
	}
}

func TestIngressDeliversInnerPacketExactly(t *testing.T) {
	for _, kind := range []encap.Kind{encap.KindVXLAN, encap.KindGeneve} {
		t.Run(kind.String(), func(t *testing.T) {
			e, pod, _ := newTestEngine(t, kind)
			cfg := testConfig(kind)
			inner := udpPacket(t, remotePod, localPod, 63, true, 300)
			inner6 := udpPacket(t, remotePod6, localPod6, 63, false, 300)
			from := netip.AddrPortFrom(peerUnderlay, 33333)
			forwardIngress(t, e, from, tunnelPayload(t, cfg, cfg.Peers[0], inner, 42), tunnelPayload(t, cfg, cfg.Peers[0], inner6, 42))
			pkts, _ := pod.Written()
			if len(pkts) != 2 || !bytes.Equal(pkts[0], inner) || !bytes.Equal(pkts[1], inner6) {
				t.Fatalf("pod side got %d packets, want the 2 inner packets byte for byte", len(pkts))
			}
		})
	}
}

func TestIngressDropsWithNamedReasons(t *testing.T) {
	cfg := testConfig(encap.KindVXLAN)
	node2 := netip.AddrPortFrom(peerUnderlay, 40000)
	stranger := netip.AddrPortFrom(netip.MustParseAddr("10.99.0.77"), 40000)
	good := udpPacket(t, remotePod, localPod, 64, false, 40)
	cases := []struct {
		name    string
		from    netip.AddrPort
		payload []byte
		want    Reason
	}{
		{"from a non-peer", stranger, tunnelPayload(t, cfg, cfg.Peers[0], good, 42), ReasonUnknownPeer},
		{"wrong VNI", node2, tunnelPayload(t, cfg, cfg.Peers[0], good, 43), FromEncap(encap.DropBadVNI)},
		{"inner source of another node", node2, tunnelPayload(t, cfg, cfg.Peers[0], udpPacket(t, thirdPod, localPod, 64, false, 40), 42), ReasonSpoofedSource},
		{"relay to a third node", node2, tunnelPayload(t, cfg, cfg.Peers[0], udpPacket(t, remotePod, thirdPod, 64, false, 40), 42), ReasonNotLocal},
		{"truncated", node2, tunnelPayload(t, cfg, cfg.Peers[0], good, 42)[:10], FromEncap(encap.DropTruncated)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, pod, _ := newTestEngine(t, encap.KindVXLAN)
			forwardIngress(t, e, c.from, c.payload)
			if pkts, _ := pod.Written(); len(pkts) != 0 {
				t.Fatalf("delivered %d packets, want a drop", len(pkts))
			}
			if got := e.Counters.Drops(c.want); got != 1 {
				t.Errorf("drops[%s] = %d, want 1", c.want, got)
			}
			assertConserved(t, &e.Counters)
		})
	}
}

func TestEgressAnswersTTLAndTooBigWithICMP(t *testing.T) {
	e, pod, ul := newTestEngine(t, encap.KindVXLAN)
	forwardEgress(t, e,
		udpPacket(t, localPod, remotePod, 0, false, 20),      // TTL 0: time exceeded
		udpPacket(t, localPod, remotePod, 64, true, 1460),    // > 1450 with DF: frag needed
		udpPacket(t, localPod6, remotePod6, 64, false, 1460), // IPv6 > 1450: packet too big
		udpPacket(t, localPod, remotePod, 64, false, 1460),   // > 1450 without DF: dropped silently
	)
	if pkts, _ := ul.Written(); len(pkts) != 0 {
		t.Fatalf("%d packets went to the underlay, want none", len(pkts))
	}
	icmps, _ := pod.Written()
	if len(icmps) != 3 {
		t.Fatalf("got %d ICMP errors, want 3", len(icmps))
	}
	p := gopacket.NewPacket(icmps[0], layers.LayerTypeIPv4, gopacket.Default)
	if ic, ok := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4); !ok || ic.TypeCode.Type() != layers.ICMPv4TypeTimeExceeded {
		t.Errorf("first answer is not ICMP time exceeded: %v", p)
	}
	p = gopacket.NewPacket(icmps[1], layers.LayerTypeIPv4, gopacket.Default)
	ic, ok := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
	if !ok || ic.TypeCode != layers.CreateICMPv4TypeCode(3, 4) {
		t.Fatalf("second answer is not fragmentation needed: %v", p)
	}
	if mtu := int(ic.Seq); mtu != 1450 { // next-hop MTU sits in the low 16 bits of the rest-of-header
		t.Errorf("next-hop MTU = %d, want 1450", mtu)
	}
	p = gopacket.NewPacket(icmps[2], layers.LayerTypeIPv6, gopacket.Default)
	if ic6, ok := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6); !ok || ic6.TypeCode.Type() != layers.ICMPv6TypePacketTooBig {
		t.Errorf("third answer is not packet too big: %v", p)
	}
	for r, want := range map[Reason]uint64{ReasonTTLExceeded: 1, ReasonTooBig: 3} {
		if got := e.Counters.Drops(r); got != want {
			t.Errorf("drops[%s] = %d, want %d", r, got, want)
		}
	}
}

func TestEgressNoRouteAndLocalLoop(t *testing.T) {
	e, _, ul := newTestEngine(t, encap.KindVXLAN)
	forwardEgress(t, e,
		udpPacket(t, localPod, netip.MustParseAddr("192.0.2.1"), 64, false, 20),
		udpPacket(t, localPod, netip.MustParseAddr("10.244.1.11"), 64, false, 20),
	)
	if pkts, _ := ul.Written(); len(pkts) != 0 {
		t.Fatalf("sent %d packets, want none", len(pkts))
	}
	if e.Counters.Drops(ReasonNoRoute) != 1 || e.Counters.Drops(ReasonLocalLoop) != 1 {
		t.Errorf("no-route=%d local-loop=%d, want 1 and 1", e.Counters.Drops(ReasonNoRoute), e.Counters.Drops(ReasonLocalLoop))
	}
}

func TestNoConfigDropsEverything(t *testing.T) {
	pod, ul := NewMemPort("pod", 8), NewMemPort("ul", 8)
	e, err := New(Options{Pod: pod, Underlay: ul})
	if err != nil {
		t.Fatal(err)
	}
	forwardEgress(t, e, udpPacket(t, localPod, remotePod, 64, false, 20))
	if e.Counters.Drops(ReasonNoConfig) != 1 {
		t.Fatal("a packet before any config must be dropped as no-config")
	}
}

func TestReasonNamesAreUniqueAndKnown(t *testing.T) {
	seen := map[string]Reason{}
	for r := Reason(1); int(r) < NumReasons; r++ {
		name := r.String()
		if name == "" || name == "unknown" {
			t.Errorf("reason %d has no name", r)
		}
		if prev, dup := seen[name]; dup {
			t.Errorf("reasons %d and %d share the name %q", prev, r, name)
		}
		seen[name] = r
	}
}
