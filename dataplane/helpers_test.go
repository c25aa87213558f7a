package dataplane

import (
	"net"
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/podfwd/podfwd/encap"
)

var (
	ourUnderlay  = netip.MustParseAddr("10.99.0.1")
	peerUnderlay = netip.MustParseAddr("10.99.0.2")
	peer3        = netip.MustParseAddr("10.99.0.3")
	ourMAC       = [6]byte{0x0e, 0x70, 10, 99, 0, 1}
	peerMAC      = [6]byte{0x0e, 0x70, 10, 99, 0, 2}
	localPod     = netip.MustParseAddr("10.244.1.10")
	remotePod    = netip.MustParseAddr("10.244.2.10")
	thirdPod     = netip.MustParseAddr("10.244.3.10")
	localPod6    = netip.MustParseAddr("fd00:244:1::10")
	remotePod6   = netip.MustParseAddr("fd00:244:2::10")
)

// testConfig is node 1 of a three-node cluster, tunnelling with kind.
func testConfig(kind encap.Kind) *Config {
	return &Config{
		Generation:    7,
		Encap:         kind,
		VNI:           42,
		LocalUnderlay: ourUnderlay,
		LocalVTEPMAC:  ourMAC,
		UnderlayMTU:   1500,
		LocalPodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.1.0/24"), netip.MustParsePrefix("fd00:244:1::/64")},
		Peers: []Peer{
			{Name: "node2", Underlay: peerUnderlay, VTEPMAC: peerMAC,
				PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.2.0/24"), netip.MustParsePrefix("fd00:244:2::/64")}},
			{Name: "node3", Underlay: peer3, VTEPMAC: [6]byte{0x0e, 0x70, 10, 99, 0, 3},
				PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.3.0/24")}},
		},
	}
}

// udpPacket serializes an IP/UDP packet with gopacket (an implementation
// that is not ours), with correct checksums.
func udpPacket(t testing.TB, src, dst netip.Addr, ttl uint8, df bool, payloadLen int) []byte {
	t.Helper()
	payload := make([]byte, payloadLen)
	for i := range payload {
		payload[i] = byte(i)
	}
	udp := &layers.UDP{SrcPort: 40000, DstPort: 5201}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	var err error
	if src.Is4() {
		ip := &layers.IPv4{Version: 4, TTL: ttl, Protocol: layers.IPProtocolUDP, SrcIP: net.IP(src.AsSlice()), DstIP: net.IP(dst.AsSlice()), Id: 1}
		if df {
			ip.Flags = layers.IPv4DontFragment
		}
		udp.SetNetworkLayerForChecksum(ip)
		err = gopacket.SerializeLayers(buf, opts, ip, udp, gopacket.Payload(payload))
	} else {
		ip := &layers.IPv6{Version: 6, HopLimit: ttl, NextHeader: layers.IPProtocolUDP, SrcIP: net.IP(src.AsSlice()), DstIP: net.IP(dst.AsSlice())}
		udp.SetNetworkLayerForChecksum(ip)
		err = gopacket.SerializeLayers(buf, opts, ip, udp, gopacket.Payload(payload))
	}
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// tunnelPayload encapsulates inner as the peer at from would, using our
// encap package for the tunnel header (its wire format is checked against
// gopacket in encap's own tests) and returning the UDP payload.
func tunnelPayload(t testing.TB, cfg *Config, from Peer, inner []byte, vni uint32) []byte {
	t.Helper()
	buf := make([]byte, Headroom+len(inner))
	copy(buf[Headroom:], inner)
	p := cfg.tunnelParams(Peer{VTEPMAC: ourMAC})
	p.InnerSrcMAC = from.VTEPMAC
	p.VNI = vni
	start, r := encap.PrependTunnel(buf, Headroom, len(buf), &p)
	if r != encap.DropNone {
		t.Fatalf("PrependTunnel: %v", r)
	}
	return buf[start:]
}

// forwardEgress runs one batch of pkts through an egress loop of e.
func forwardEgress(t testing.TB, e *Engine, pkts ...[]byte) {
	t.Helper()
	l := newEgressLoop(e, e.opts.Pod)
	for i, pkt := range pkts {
		p := l.batch[i]
		p.Reset(Headroom)
		p.SetLen(copy(p.Buf[p.Start:], pkt))
	}
	l.forward(l.batch[:len(pkts)])
}

// forwardIngress runs one batch of tunnel payloads from the given underlay
// sources through an ingress loop of e.
func forwardIngress(t testing.TB, e *Engine, from netip.AddrPort, payloads ...[]byte) {
	t.Helper()
	l := newIngressLoop(e, e.opts.Underlay)
	for i, pl := range payloads {
		p := l.batch[i]
		p.Reset(Headroom)
		p.SetLen(copy(p.Buf[p.Start:], pl))
		p.Addr = from
	}
	l.forward(l.batch[:len(payloads)])
}

func newTestEngine(t testing.TB, kind encap.Kind) (*Engine, *MemPort, *MemPort) {
	t.Helper()
	pod := NewMemPort("pod", 64)
	ul := NewMemPort("underlay", 64)
	kindUL := UnderlayUDP
	if kind == encap.KindIPIP {
		kindUL = UnderlayIP
	}
	e, err := New(Options{Pod: pod, Underlay: ul, UnderlayKind: kindUL, UDPGSO: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SetConfig(testConfig(kind)); err != nil {
		t.Fatal(err)
	}
	return e, pod, ul
}

func netipPeer() netip.AddrPort { return netip.AddrPortFrom(peerUnderlay, 4789) }
