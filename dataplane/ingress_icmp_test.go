package dataplane

import (
	"net"
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/podfwd/podfwd/encap"
)

// icmpFromNode builds the ICMP error a node's kernel sends from src to dst
// about quoted (an IP packet), as gopacket serializes it.
func icmpFromNode(t *testing.T, src, dst netip.Addr, typ uint8, quoted []byte) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	var err error
	if src.Is4() {
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: net.IP(src.AsSlice()), DstIP: net.IP(dst.AsSlice())}
		err = gopacket.SerializeLayers(buf, opts, ip, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, 0)}, gopacket.Payload(quoted))
	} else {
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolICMPv6, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
		icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(typ, 0)}
		_ = icmp.SetNetworkLayerForChecksum(ip)
		err = gopacket.SerializeLayers(buf, opts, ip, icmp, gopacket.Payload(append(make([]byte, 4), quoted...)))
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// An ICMP error the peer node originates from its underlay address, about
// a packet one of our pods sent, crosses the overlay (traceroute, PMTU);
// the same from any other node address, about someone else's packet, or
// not an error at all, stays a spoofed source. What-if agrees.
func TestIngressDeliversPeersICMPErrors(t *testing.T) {
	peer6 := netip.MustParseAddr("fd00:99::2")
	ours := udpPacket(t, localPod, remotePod, 1, false, 20)
	theirs := udpPacket(t, thirdPod, remotePod, 1, false, 20)
	ours6 := udpPacket(t, localPod6, remotePod6, 1, false, 20)
	for _, c := range []struct {
		name    string
		pkt     []byte
		deliver bool
	}{
		{"time-exceeded-from-peer", icmpFromNode(t, peerUnderlay, localPod, 11, ours), true},
		{"frag-needed-from-peer", icmpFromNode(t, peerUnderlay, localPod, 3, ours), true},
		{"v6-time-exceeded-from-peer", icmpFromNode(t, peer6, localPod6, 3, ours6), true},
		{"from-another-node", icmpFromNode(t, peer3, localPod, 11, ours), false},
		{"about-a-stranger's-packet", icmpFromNode(t, peerUnderlay, localPod, 11, theirs), false},
		{"echo-request-from-peer", icmpFromNode(t, peerUnderlay, localPod, 8, ours), false},
		{"udp-from-peer-node", udpPacket(t, peerUnderlay, localPod, 64, false, 20), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, pod, _ := newTestEngine(t, encap.KindVXLAN)
			cfg := testConfig(encap.KindVXLAN)
			cfg.Peers[0].Underlay6 = peer6
			if err := e.SetConfig(cfg); err != nil {
				t.Fatal(err)
			}
			forwardIngress(t, e, netipPeer(), tunnelPayload(t, cfg, cfg.Peers[0], c.pkt, 42))
			got, _ := pod.Written()
			spoofed := e.Counters.Drops(ReasonSpoofedSource)
			if c.deliver && (len(got) != 1 || spoofed != 0) {
				t.Errorf("delivered %d, spoofed-source %d; want it delivered", len(got), spoofed)
			}
			if !c.deliver && (len(got) != 0 || spoofed != 1) {
				t.Errorf("delivered %d, spoofed-source %d; want it dropped as spoofed-source", len(got), spoofed)
			}
			tr := &dropTracer{}
			e.Simulate(Ingress, peerFrames(t, c.pkt)[0][encap.EthernetLen:], tr)
			if simDropped := len(tr.reasons) > 0; simDropped == c.deliver {
				t.Errorf("what-if drops %v, live loop delivered=%v", tr.reasons, c.deliver)
			}
		})
	}
}
