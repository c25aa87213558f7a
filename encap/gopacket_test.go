package encap

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// gopacket is the independent judge of our encoding: every packet we build
// is decoded by gopacket and every field compared; every packet gopacket
// builds is decapsulated by us.

type encapCase struct {
	name    string
	params  Params
	outerV6 bool
	innerV6 bool
}

func gopacketCases() []encapCase {
	opts := []byte{
		0x01, 0x02, 0x03, 0x01, 0xde, 0xad, 0xbe, 0xef, // class 0x0102 type 3, 4 data bytes
		0xff, 0xff, 0x7f, 0x02, 1, 2, 3, 4, 5, 6, 7, 8, // class 0xffff type 0x7f, 8 data bytes
	}
	mac := func(p Params) Params { p.InnerSrcMAC, p.InnerDstMAC = testSrcMAC, testDstMAC; return p }
	var cs []encapCase
	for _, ov6 := range []bool{false, true} {
		for _, iv6 := range []bool{false, true} {
			cs = append(cs,
				encapCase{"vxlan", mac(Params{Kind: KindVXLAN, VNI: 0x10203}), ov6, iv6},
				encapCase{"vxlan-8472", mac(Params{Kind: KindVXLAN, VNI: 1, Port: 8472}), ov6, iv6},
				encapCase{"geneve", mac(Params{Kind: KindGeneve, VNI: 0xfedcba, GeneveOptions: opts}), ov6, iv6},
				encapCase{"geneve-ip", Params{Kind: KindGeneve, VNI: 5, GeneveIP: true, TTL: 9, DF: DFSet}, ov6, iv6},
				encapCase{"ipip", Params{Kind: KindIPIP, DF: DFClear}, ov6, iv6},
			)
		}
	}
	return cs
}

func (c encapCase) label() string {
	o, i := "4", "4"
	if c.outerV6 {
		o = "6"
	}
	if c.innerV6 {
		i = "6"
	}
	return c.name + "/outer" + o + "/inner" + i
}

func TestGopacketDecodesOurEncap(t *testing.T) {
	for _, c := range gopacketCases() {
		t.Run(c.label(), func(t *testing.T) {
			var inner []byte
			if c.innerV6 {
				inner = buildInnerUDP6([]byte("payload-six"), 0x2e, 17)
			} else {
				inner = buildInnerUDP4([]byte("payload-four"), 0x2e|0x02, true, 17) // DSCP EF, ECN ECT(0)
			}
			hash := FlowHash(inner)
			for _, path := range encapPaths {
				t.Run(path.name, func(t *testing.T) {
					pkt := path.fn(t, inner, &c.params, newOuter(c.outerV6), hash)
					checkWithGopacket(t, pkt, inner, &c.params, c.outerV6, hash)
				})
			}
		})
	}
}

func checkWithGopacket(t *testing.T, pkt, inner []byte, p *Params, outerV6 bool, hash uint32) {
	t.Helper()
	first := layers.LayerTypeIPv4
	if outerV6 {
		first = layers.LayerTypeIPv6
	}
	gp := gopacket.NewPacket(pkt, first, gopacket.Default)
	if el := gp.ErrorLayer(); el != nil {
		t.Fatalf("gopacket decode error: %v", el.Error())
	}
	innerTOS := inner[1]
	if inner[0]>>4 == 6 {
		innerTOS = IPv6(inner).TrafficClass()
	}
	wantTTL := p.ttl()
	udp := p.Kind != KindIPIP
	wantProto := layers.IPProtocolUDP
	if !udp {
		wantProto = layers.IPProtocolIPv4
		if inner[0]>>4 == 6 {
			wantProto = layers.IPProtocolIPv6
		}
	}
	var outerNet gopacket.NetworkLayer
	if outerV6 {
		ip := gp.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
		outerNet = ip
		if ip.Version != 6 || ip.TrafficClass != innerTOS || ip.FlowLabel != flowLabel(hash) ||
			int(ip.Length) != len(pkt)-IPv6Len || ip.NextHeader != wantProto || ip.HopLimit != wantTTL ||
			!ip.SrcIP.Equal(net.IP(outer6Src.AsSlice())) || !ip.DstIP.Equal(net.IP(outer6Dst.AsSlice())) {
			t.Errorf("outer IPv6 wrong: %+v", ip)
		}
	} else {
		ip := gp.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		outerNet = ip
		wantDF := p.DF == DFSet || (p.DF == DFInherit && (inner[0]>>4 == 6 || IPv4(inner).DF()))
		if ip.Version != 4 || ip.IHL != 5 || ip.TOS != innerTOS || int(ip.Length) != len(pkt) ||
			(ip.Flags&layers.IPv4DontFragment != 0) != wantDF || ip.Flags&layers.IPv4MoreFragments != 0 ||
			ip.FragOffset != 0 || ip.TTL != wantTTL || ip.Protocol != wantProto ||
			!ip.SrcIP.Equal(net.IP(outer4Src.AsSlice())) || !ip.DstIP.Equal(net.IP(outer4Dst.AsSlice())) {
			t.Errorf("outer IPv4 wrong: %+v (want DF %v)", ip, wantDF)
		}
		if refChecksum(pkt[:IPv4MinLen], 0) != 0 {
			t.Errorf("outer IPv4 header checksum %#04x does not verify", ip.Checksum)
		}
	}
	if !udp {
		// IPIP: gopacket must find the inner IP packet right after the outer header.
		innerLayer := gp.Layers()[1]
		if !bytes.Equal(append(innerLayer.LayerContents(), innerLayer.LayerPayload()...), inner) {
			t.Errorf("IPIP inner differs from what we put in")
		}
		return
	}
	u, _ := gp.Layer(layers.LayerTypeUDP).(*layers.UDP)
	if u == nil {
		t.Fatal("no UDP layer")
	}
	if uint16(u.SrcPort) != SourcePort(hash, 0, 0) || uint16(u.DstPort) != p.dstPort() ||
		int(u.Length) != len(u.Contents)+len(u.Payload) {
		t.Errorf("UDP wrong: %+v", u)
	}
	if u.SrcPort < DefaultSrcPortMin || u.SrcPort >= DefaultSrcPortMax {
		t.Errorf("UDP source port %d outside the kernel range", u.SrcPort)
	}
	if outerV6 && !p.ZeroUDPChecksum6 {
		if want := gopacketUDPChecksum(t, u, outerNet); u.Checksum != want || u.Checksum == 0 {
			t.Errorf("UDP checksum %#04x, gopacket computes %#04x", u.Checksum, want)
		}
	} else if u.Checksum != 0 {
		t.Errorf("UDP checksum %#04x, want 0", u.Checksum)
	}
	// The tunnel header: gopacket maps only 4789 and 6081, so decode the UDP
	// payload explicitly.
	var innerEth []byte
	switch p.Kind {
	case KindVXLAN:
		vx := &layers.VXLAN{}
		if err := vx.DecodeFromBytes(u.Payload, gopacket.NilDecodeFeedback); err != nil {
			t.Fatal(err)
		}
		if !vx.ValidIDFlag || vx.VNI != p.VNI || vx.GBPExtension || vx.GBPApplied || vx.GBPDontLearn || vx.GBPGroupPolicyID != 0 {
			t.Errorf("VXLAN wrong: %+v", vx)
		}
		innerEth = vx.Payload
	case KindGeneve:
		gn := &layers.Geneve{}
		if err := gn.DecodeFromBytes(u.Payload, gopacket.NilDecodeFeedback); err != nil {
			t.Fatal(err)
		}
		wantProto := layers.EthernetTypeTransparentEthernetBridging
		if p.GeneveIP {
			wantProto = layers.EthernetType(etherTypeForVersion(inner[0] >> 4))
		}
		if gn.Version != 0 || int(gn.OptionsLength) != len(p.GeneveOptions) || gn.OAMPacket ||
			gn.CriticalOption != anyCritical(p.GeneveOptions) || gn.Protocol != wantProto || gn.VNI != p.VNI {
			t.Errorf("Geneve wrong: %+v", gn)
		}
		it := NewGeneveOptionIter(p.GeneveOptions)
		for i := 0; ; i++ {
			o, ok := it.Next()
			if !ok {
				if i != len(gn.Options) {
					t.Errorf("gopacket saw %d options, we sent %d", len(gn.Options), i)
				}
				break
			}
			if i >= len(gn.Options) {
				t.Fatalf("gopacket saw only %d options", len(gn.Options))
			}
			g := gn.Options[i]
			if g.Class != o.Class() || g.Type != o.Type() || int(g.Length) != len(o) || !bytes.Equal(g.Data, o.Data()) {
				t.Errorf("option %d: gopacket %+v, sent %x", i, g, []byte(o))
			}
		}
		if p.GeneveIP {
			if !bytes.Equal(gn.Payload, inner) {
				t.Errorf("Geneve-IP inner differs")
			}
			return
		}
		innerEth = gn.Payload
	}
	eth := gopacket.NewPacket(innerEth, layers.LayerTypeEthernet, gopacket.Default)
	e, _ := eth.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	if e == nil {
		t.Fatal("no inner Ethernet")
	}
	if !bytes.Equal(e.SrcMAC, p.InnerSrcMAC[:]) || !bytes.Equal(e.DstMAC, p.InnerDstMAC[:]) ||
		uint16(e.EthernetType) != etherTypeForVersion(inner[0]>>4) || !bytes.Equal(e.Payload, inner) {
		t.Errorf("inner Ethernet wrong: %+v", e)
	}
	if iu, _ := eth.Layer(layers.LayerTypeUDP).(*layers.UDP); iu == nil || iu.SrcPort != 1234 || iu.DstPort != 5678 {
		t.Errorf("inner UDP not decoded right: %+v", iu)
	}
}

// gopacketUDPChecksum lets gopacket compute the UDP checksum of u.
func gopacketUDPChecksum(t *testing.T, u *layers.UDP, nl gopacket.NetworkLayer) uint16 {
	t.Helper()
	c := *u
	if err := c.SetNetworkLayerForChecksum(nl); err != nil {
		t.Fatal(err)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true},
		&c, gopacket.Payload(u.Payload)); err != nil {
		t.Fatal(err)
	}
	return binary.BigEndian.Uint16(buf.Bytes()[6:])
}
