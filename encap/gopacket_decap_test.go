package encap

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// rfcGeneve serializes a Geneve header for gopacket.SerializeLayers.
// gopacket v1.1.19's layers.Geneve only decodes (it has no SerializeTo), so
// this test-only layer is written straight from RFC 8926 section 3.4; it
// shares no code with the package's encoder.
type rfcGeneve struct {
	VNI      uint32
	Protocol uint16
	Options  []byte
	OAM      bool
	Critical bool
	Version  uint8
}

func (g *rfcGeneve) LayerType() gopacket.LayerType { return layers.LayerTypeGeneve }

func (g *rfcGeneve) SerializeTo(b gopacket.SerializeBuffer, _ gopacket.SerializeOptions) error {
	h, err := b.PrependBytes(8 + len(g.Options))
	if err != nil {
		return err
	}
	h[0] = g.Version<<6 | byte(len(g.Options)/4)
	h[1] = 0
	if g.OAM {
		h[1] |= 0x80
	}
	if g.Critical {
		h[1] |= 0x40
	}
	binary.BigEndian.PutUint16(h[2:], g.Protocol)
	binary.BigEndian.PutUint32(h[4:], g.VNI<<8)
	copy(h[8:], g.Options)
	return nil
}

// gopacketInner serializes an inner IPv4 or IPv6 UDP packet with gopacket
// and returns its layers and bytes.
func gopacketInner(t testing.TB, v6 bool) ([]gopacket.SerializableLayer, []byte) {
	t.Helper()
	var ipl gopacket.SerializableLayer
	u := &layers.UDP{SrcPort: 4000, DstPort: 53}
	if v6 {
		ip := &layers.IPv6{Version: 6, NextHeader: layers.IPProtocolUDP, HopLimit: 33,
			SrcIP: net.IP(inner6Src.AsSlice()), DstIP: net.IP(inner6Dst.AsSlice())}
		_ = u.SetNetworkLayerForChecksum(ip)
		ipl = ip
	} else {
		ip := &layers.IPv4{Version: 4, TTL: 33, Protocol: layers.IPProtocolUDP, Flags: layers.IPv4DontFragment,
			SrcIP: net.IP(inner4Src.AsSlice()), DstIP: net.IP(inner4Dst.AsSlice())}
		_ = u.SetNetworkLayerForChecksum(ip)
		ipl = ip
	}
	ls := []gopacket.SerializableLayer{ipl, u, gopacket.Payload("gopacket inner payload")}
	return ls, serialize(t, ls...)
}

func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// gopacketOuter returns gopacket's outer IP (+UDP) layers for a tunnel.
func gopacketOuter(outerV6 bool, proto layers.IPProtocol, dstPort uint16) []gopacket.SerializableLayer {
	var ipl gopacket.SerializableLayer
	var nl gopacket.NetworkLayer
	if outerV6 {
		ip := &layers.IPv6{Version: 6, NextHeader: proto, HopLimit: 64,
			SrcIP: net.IP(outer6Src.AsSlice()), DstIP: net.IP(outer6Dst.AsSlice())}
		ipl, nl = ip, ip
	} else {
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, Id: 777,
			SrcIP: net.IP(outer4Src.AsSlice()), DstIP: net.IP(outer4Dst.AsSlice())}
		ipl, nl = ip, ip
	}
	if proto != layers.IPProtocolUDP {
		return []gopacket.SerializableLayer{ipl}
	}
	u := &layers.UDP{SrcPort: 55555, DstPort: layers.UDPPort(dstPort)}
	_ = u.SetNetworkLayerForChecksum(nl)
	return []gopacket.SerializableLayer{ipl, u}
}

func TestOurDecapOfGopacketEncap(t *testing.T) {
	cfg := &DecapConfig{VXLANPort: 8472, GenevePort: DefaultGenevePort, ExpectVNI: 42, AcceptIPIP: true}
	eth := func(v6 bool) *layers.Ethernet {
		et := layers.EthernetTypeIPv4
		if v6 {
			et = layers.EthernetTypeIPv6
		}
		return &layers.Ethernet{SrcMAC: net.HardwareAddr(testSrcMAC[:]), DstMAC: net.HardwareAddr(testDstMAC[:]), EthernetType: et}
	}
	for _, outerV6 := range []bool{false, true} {
		for _, innerV6 := range []bool{false, true} {
			innerLayers, inner := gopacketInner(t, innerV6)
			innerProto := layers.IPProtocolIPv4
			innerET := uint16(EtherTypeIPv4)
			if innerV6 {
				innerProto, innerET = layers.IPProtocolIPv6, EtherTypeIPv6
			}
			cases := []struct {
				name   string
				kind   Kind
				layers []gopacket.SerializableLayer
			}{
				{"vxlan", KindVXLAN, append(append(gopacketOuter(outerV6, layers.IPProtocolUDP, 8472),
					&layers.VXLAN{ValidIDFlag: true, VNI: 42}, eth(innerV6)), innerLayers...)},
				{"geneve-eth", KindGeneve, append(append(gopacketOuter(outerV6, layers.IPProtocolUDP, DefaultGenevePort),
					&rfcGeneve{VNI: 42, Protocol: EtherTypeTEB, Options: []byte{0, 1, 2, 1, 9, 9, 9, 9}}, eth(innerV6)), innerLayers...)},
				{"geneve-ip", KindGeneve, append(append(gopacketOuter(outerV6, layers.IPProtocolUDP, DefaultGenevePort),
					&rfcGeneve{VNI: 42, Protocol: innerET}), innerLayers...)},
				{"ipip", KindIPIP, append(gopacketOuter(outerV6, innerProto, 0), innerLayers...)},
			}
			for _, c := range cases {
				name := c.name + map[bool]string{false: "/outer4", true: "/outer6"}[outerV6] +
					map[bool]string{false: "/inner4", true: "/inner6"}[innerV6]
				t.Run(name, func(t *testing.T) {
					pkt := serialize(t, c.layers...)
					d, r := DecapIP(pkt, cfg)
					if r != DropNone {
						t.Fatalf("DecapIP: %v", r)
					}
					wantVNI := uint32(42)
					if c.kind == KindIPIP {
						wantVNI = 0
					}
					if d.Kind != c.kind || d.VNI != wantVNI || d.InnerEtherType != innerET {
						t.Errorf("got %+v", d)
					}
					if !bytes.Equal(pkt[d.InnerOff:d.InnerEnd], inner) {
						t.Errorf("inner differs:\n got %x\nwant %x", pkt[d.InnerOff:d.InnerEnd], inner)
					}
					wantSrc, wantDst := outer4Src, outer4Dst
					if outerV6 {
						wantSrc, wantDst = outer6Src, outer6Dst
					}
					if d.OuterSrc != wantSrc || d.OuterDst != wantDst {
						t.Errorf("outer addresses %v -> %v", d.OuterSrc, d.OuterDst)
					}
					var f Flow
					if r := ParseInner(pkt[d.InnerOff:d.InnerEnd], &f); r != DropNone || f.SrcPort != 4000 || f.DstPort != 53 || f.TTL != 33 {
						t.Errorf("ParseInner: %v %+v", r, f)
					}
				})
			}
		}
	}
}
