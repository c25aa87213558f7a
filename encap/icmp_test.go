package encap

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

var (
	gw4 = netip.MustParseAddr("10.244.1.1")
	gw6 = netip.MustParseAddr("2001:db8:a::ffff")
)

// checkICMPv4 decodes an ICMPv4 error with gopacket and checks addresses,
// checksums (ours against a naive sum and against gopacket's own
// computation), type/code, the rest-of-header word and the quote.
func checkICMPv4(t *testing.T, pkt, orig []byte, typ, code uint8, rest uint32, wantQuote int) {
	t.Helper()
	gp := gopacket.NewPacket(pkt, layers.LayerTypeIPv4, gopacket.Default)
	ip, _ := gp.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	ic, _ := gp.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
	if ip == nil || ic == nil {
		t.Fatalf("gopacket: %v", gp)
	}
	if !ip.SrcIP.Equal(net.IP(gw4.AsSlice())) || !ip.DstIP.Equal(net.IP(orig[12:16])) || int(ip.Length) != len(pkt) ||
		ip.Protocol != layers.IPProtocolICMPv4 || ip.TTL != ICMPErrorTTL {
		t.Errorf("IPv4 header wrong: %+v", ip)
	}
	if refChecksum(pkt[:IPv4MinLen], 0) != 0 || refChecksum(pkt[IPv4MinLen:], 0) != 0 {
		t.Errorf("IPv4 or ICMP checksum does not verify")
	}
	re := *ic
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true}, &re, gopacket.Payload(ic.Payload)); err != nil {
		t.Fatal(err)
	}
	if c := binary.BigEndian.Uint16(buf.Bytes()[2:]); c != ic.Checksum {
		t.Errorf("ICMP checksum %#04x, gopacket computes %#04x", ic.Checksum, c)
	}
	if ic.TypeCode.Type() != typ || ic.TypeCode.Code() != code || uint32(ic.Id)<<16|uint32(ic.Seq) != rest {
		t.Errorf("ICMP header wrong: %+v", ic)
	}
	if len(ic.Payload) != wantQuote || !bytes.Equal(ic.Payload, orig[:wantQuote]) {
		t.Errorf("quote: %d bytes, want the first %d of orig", len(ic.Payload), wantQuote)
	}
}

func checkICMPv6(t *testing.T, pkt, orig []byte, typ, code uint8, rest uint32, wantQuote int) {
	t.Helper()
	gp := gopacket.NewPacket(pkt, layers.LayerTypeIPv6, gopacket.Default)
	ip, _ := gp.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
	ic, _ := gp.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
	if ip == nil || ic == nil {
		t.Fatalf("gopacket: %v", gp)
	}
	if !ip.SrcIP.Equal(net.IP(gw6.AsSlice())) || !ip.DstIP.Equal(net.IP(orig[8:24])) || int(ip.Length) != len(pkt)-IPv6Len ||
		ip.NextHeader != layers.IPProtocolICMPv6 || ip.HopLimit != ICMPErrorTTL {
		t.Errorf("IPv6 header wrong: %+v", ip)
	}
	src, dst := gw6.As16(), [16]byte(orig[8:24])
	if refChecksum(pkt[IPv6Len:], PseudoHeader6(&src, &dst, ProtoICMPv6, len(pkt)-IPv6Len)) != 0 {
		t.Errorf("ICMPv6 checksum does not verify with the pseudo-header")
	}
	re := *ic
	_ = re.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true}, &re, gopacket.Payload(ic.Payload)); err != nil {
		t.Fatal(err)
	}
	if c := binary.BigEndian.Uint16(buf.Bytes()[2:]); c != ic.Checksum {
		t.Errorf("ICMPv6 checksum %#04x, gopacket computes %#04x", ic.Checksum, c)
	}
	// gopacket's ICMPv6 payload starts at the 4-byte rest-of-header word.
	if ic.TypeCode.Type() != typ || ic.TypeCode.Code() != code || binary.BigEndian.Uint32(ic.Payload) != rest {
		t.Errorf("ICMPv6 header wrong: %+v", ic)
	}
	if q := ic.Payload[4:]; len(q) != wantQuote || !bytes.Equal(q, orig[:wantQuote]) {
		t.Errorf("quote: %d bytes, want the first %d of orig", len(q), wantQuote)
	}
}

func TestICMPErrors(t *testing.T) {
	dst := make([]byte, 2000)
	big4 := buildInnerUDP4(make([]byte, 1400), 0, true, 1)
	small4 := buildInnerUDP4([]byte("tiny"), 0, true, 1)
	big6 := buildInnerUDP6(make([]byte, 1400), 0, 1)
	small6 := buildInnerUDP6([]byte("tiny"), 0, 1)

	n := BuildFragNeeded4(dst, big4, gw4, 1400)
	if n != 576 {
		t.Errorf("frag-needed length %d, want 576", n)
	}
	checkICMPv4(t, dst[:n], big4, 3, 4, 1400, 576-28)
	n = BuildFragNeeded4(dst, small4, gw4, 1280)
	checkICMPv4(t, dst[:n], small4, 3, 4, 1280, len(small4))
	n = BuildTimeExceeded(dst, big4, gw4)
	checkICMPv4(t, dst[:n], big4, 11, 0, 0, 576-28)
	// Quote stops at the packet's total length, not at trailing bytes.
	n = BuildTimeExceeded(dst, append(append([]byte(nil), small4...), 0xee, 0xee), gw4)
	checkICMPv4(t, dst[:n], small4, 11, 0, 0, len(small4))
	// A small dst shortens the quote, but never below header + 8 bytes.
	n = BuildTimeExceeded(dst[:28+28], big4, gw4)
	checkICMPv4(t, dst[:n], big4, 11, 0, 0, 28)
	if BuildTimeExceeded(dst[:28+27], big4, gw4) != 0 {
		t.Error("quote shorter than header + 8 accepted")
	}

	n = BuildPacketTooBig6(dst, big6, gw6, 1400)
	if n != 1280 {
		t.Errorf("packet-too-big length %d, want 1280", n)
	}
	checkICMPv6(t, dst[:n], big6, 2, 0, 1400, 1280-48)
	n = BuildPacketTooBig6(dst, small6, gw6, 1280)
	checkICMPv6(t, dst[:n], small6, 2, 0, 1280, len(small6))
	n = BuildTimeExceeded(dst, big6, gw6)
	checkICMPv6(t, dst[:n], big6, 3, 0, 0, 1280-48)
}

func TestICMPErrorsRefused(t *testing.T) {
	dst := make([]byte, 2000)
	p4 := buildInnerUDP4([]byte("data"), 0, true, 1)
	p6 := buildInnerUDP6([]byte("data"), 0, 1)
	mut4 := func(f func(b []byte)) []byte { b := append([]byte(nil), p4...); f(b); return b }
	mut6 := func(f func(b []byte)) []byte { b := append([]byte(nil), p6...); f(b); return b }
	cases := []struct {
		name string
		n    int
	}{
		{"v4 mtu too small", BuildFragNeeded4(dst, p4, gw4, 67)},
		{"v4 mtu too big", BuildFragNeeded4(dst, p4, gw4, 70000)},
		{"v4 src is v6", BuildFragNeeded4(dst, p4, gw6, 1400)},
		{"v4 orig truncated", BuildFragNeeded4(dst, p4[:19], gw4, 1400)},
		{"v4 orig is v6", BuildFragNeeded4(dst, p6, gw4, 1400)},
		{"v4 non-first fragment", BuildTimeExceeded(dst, mut4(func(b []byte) { b[7] = 8 }), gw4)},
		{"v4 multicast source", BuildTimeExceeded(dst, mut4(func(b []byte) { b[12] = 224 }), gw4)},
		{"v4 broadcast source", BuildTimeExceeded(dst, mut4(func(b []byte) { copy(b[12:], []byte{255, 255, 255, 255}) }), gw4)},
		{"v4 unspecified source", BuildTimeExceeded(dst, mut4(func(b []byte) { copy(b[12:], []byte{0, 0, 0, 0}) }), gw4)},
		{"v4 about an ICMP error", BuildTimeExceeded(dst, mut4(func(b []byte) { b[9] = ProtoICMP; b[20] = 3 }), gw4)},
		{"v4 dst too small", BuildTimeExceeded(dst[:40], p4, gw4)},
		{"v6 mtu below 1280", BuildPacketTooBig6(dst, p6, gw6, 1279)},
		{"v6 src is v4", BuildPacketTooBig6(dst, p6, gw4, 1400)},
		{"v6 orig is v4", BuildPacketTooBig6(dst, p4, gw6, 1400)},
		{"v6 multicast source", BuildTimeExceeded(dst, mut6(func(b []byte) { b[8] = 0xff }), gw6)},
		{"v6 unspecified source", BuildTimeExceeded(dst, mut6(func(b []byte) { clear(b[8:24]) }), gw6)},
		{"v6 about an ICMPv6 error", BuildTimeExceeded(dst, mut6(func(b []byte) { b[6] = ProtoICMPv6; b[40] = 1 }), gw6)},
		{"v6 dst too small", BuildTimeExceeded(dst[:87], p6, gw6)},
		{"empty orig", BuildTimeExceeded(dst, nil, gw4)},
	}
	for _, c := range cases {
		if c.n != 0 {
			t.Errorf("%s: built %d bytes, want refusal", c.name, c.n)
		}
	}
	// An ICMP echo request (not an error) may be answered.
	if BuildTimeExceeded(dst, mut4(func(b []byte) { b[9] = ProtoICMP; b[20] = 8 }), gw4) == 0 {
		t.Error("refused to answer an echo request")
	}
}
