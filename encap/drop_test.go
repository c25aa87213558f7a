package encap

import (
	"encoding/binary"
	"regexp"
	"testing"
)

func TestDropReasonNames(t *testing.T) {
	kebab := regexp.MustCompile(`^[a-z]+(-[a-z0-9]+)*$`)
	seen := map[string]bool{}
	for r := DropNone; r < NumDropReasons; r++ {
		s := r.String()
		if !kebab.MatchString(s) || seen[s] {
			t.Errorf("reason %d: name %q not kebab-case or duplicate", r, s)
		}
		seen[s] = true
	}
	if NumDropReasons.String() != "unknown" {
		t.Errorf("out-of-range reason should be unknown")
	}
	if DropUnknownCriticalOption.String() != "unknown-critical-option" || DropGeneveControl.String() != "geneve-control" ||
		DropOuterFragment.String() != "outer-fragment" || DropBadVNI.String() != "bad-vni" {
		t.Errorf("contract names changed")
	}
}

// fixIPv4Checksum recomputes the outer IPv4 header checksum after a mutation.
func fixIPv4Checksum(pkt []byte) {
	hl := int(pkt[0]&0x0f) * 4
	if hl > len(pkt) || hl < IPv4MinLen {
		return
	}
	pkt[10], pkt[11] = 0, 0
	binary.BigEndian.PutUint16(pkt[10:], refChecksum(pkt[:hl], 0))
}

// TestDropReasonsDecap reaches every decap drop reason with a crafted packet.
// Offsets: outer IPv4 20, UDP 8, then the tunnel header at 28.
func TestDropReasonsDecap(t *testing.T) {
	cfg := &DecapConfig{VXLANPort: DefaultVXLANPort, GenevePort: DefaultGenevePort, ExpectVNI: 100}
	inner4 := buildInnerUDP4([]byte("x"), 0, true, 64)
	inner6 := buildInnerUDP6([]byte("x"), 0, 64)
	vx := func() []byte {
		p := Params{Kind: KindVXLAN, VNI: 100}
		return encapsulate(t, inner4, &p, newOuter(false), 1)
	}
	vx6 := func() []byte {
		p := Params{Kind: KindVXLAN, VNI: 100}
		return encapsulate(t, inner4, &p, newOuter(true), 1)
	}
	gn := func() []byte {
		p := Params{Kind: KindGeneve, VNI: 100, GeneveOptions: []byte{0, 1, 2, 1, 0, 0, 0, 0}}
		return encapsulate(t, inner6, &p, newOuter(false), 1)
	}
	ipip := func() []byte {
		p := Params{Kind: KindIPIP}
		return encapsulate(t, inner4, &p, newOuter(false), 1)
	}
	const tun = IPv4MinLen + UDPLen
	tests := []struct {
		name string
		pkt  []byte
		cfg  *DecapConfig
		want DropReason
	}{
		{"ok-vxlan", vx(), cfg, DropNone},
		{"ok-geneve", gn(), cfg, DropNone},
		{"empty", nil, cfg, DropTruncated},
		{"short-ipv4", vx()[:19], cfg, DropTruncated},
		{"short-ipv6", vx6()[:39], cfg, DropTruncated},
		{"short-udp", func() []byte { b := vx()[:24]; b[3] = 24; fixIPv4Checksum(b); return b }(), cfg, DropTruncated},
		{"short-vxlan", func() []byte { b := vx()[:32]; b[3] = 32; b[25] = 12; fixIPv4Checksum(b); return b }(), cfg, DropTruncated},
		{"short-inner-ethernet", func() []byte { b := vx()[:40]; b[3] = 40; b[25] = 20; fixIPv4Checksum(b); return b }(), cfg, DropTruncated},
		{"version-5", func() []byte { b := vx(); b[0] = 0x55; return b }(), cfg, DropBadVersion},
		{"inner-version-mismatch", func() []byte { b := vx(); b[tun+VXLANLen+EthernetLen] = 0x65; return b }(), cfg, DropBadVersion},
		{"ihl-4", func() []byte { b := vx(); b[0] = 0x44; return b }(), cfg, DropBadHeaderLength},
		{"ihl-beyond-buffer", func() []byte { b := vx()[:30]; b[0] = 0x4f; return b }(), cfg, DropTruncated},
		{"bad-ip-checksum", func() []byte { b := vx(); b[10] ^= 0xff; return b }(), cfg, DropBadIPChecksum},
		{"total-length-beyond-buffer", func() []byte { b := vx(); b[2]++; fixIPv4Checksum(b); return b }(), cfg, DropBadLength},
		{"ipv6-payload-beyond-buffer", func() []byte { b := vx6(); b[4]++; return b }(), cfg, DropBadLength},
		{"udp-length-beyond-ip", func() []byte { b := vx(); b[25]++; return b }(), cfg, DropBadLength},
		{"udp-length-below-8", func() []byte { b := vx(); b[24], b[25] = 0, 7; return b }(), cfg, DropBadLength},
		{"more-fragments", func() []byte { b := vx(); b[6] |= 0x20; fixIPv4Checksum(b); return b }(), cfg, DropOuterFragment},
		{"fragment-offset", func() []byte { b := vx(); b[7] = 1; fixIPv4Checksum(b); return b }(), cfg, DropOuterFragment},
		{"ipv6-fragment-header", func() []byte { b := vx6(); b[6] = ipv6ExtFragment; return b }(), cfg, DropOuterFragment},
		{"tcp", func() []byte { b := vx(); b[9] = ProtoTCP; fixIPv4Checksum(b); return b }(), cfg, DropNotTunnel},
		{"wrong-port", func() []byte { b := vx(); b[23]++; return b }(), cfg, DropNotTunnel},
		{"vxlan-not-accepted", vx(), &DecapConfig{GenevePort: DefaultGenevePort, ExpectVNI: 100}, DropNotTunnel},
		{"ipip-not-accepted", ipip(), cfg, DropNotTunnel},
		{"vxlan-no-i-flag", func() []byte { b := vx(); b[tun] = 0; return b }(), cfg, DropBadVXLANFlags},
		{"vxlan-gbp-flag", func() []byte { b := vx(); b[tun] = 0x88; return b }(), cfg, DropBadVXLANFlags},
		{"vxlan-reserved-bits", func() []byte { b := vx(); b[tun+3] = 1; return b }(), cfg, DropBadVXLANFlags},
		{"vxlan-wrong-vni", func() []byte { b := vx(); b[tun+6]++; return b }(), cfg, DropBadVNI},
		{"geneve-wrong-vni", func() []byte { b := gn(); b[tun+4] = 1; return b }(), cfg, DropBadVNI},
		{"geneve-version-1", func() []byte { b := gn(); b[tun] |= 0x40; return b }(), cfg, DropBadGeneveVersion},
		{"geneve-optlen-beyond-packet", func() []byte { b := gn(); b[tun] = 0x3f; return b }(), cfg, DropBadGeneveOptions},
		{"geneve-tlv-overruns", func() []byte { b := gn(); b[tun+GeneveMinLen+3] = 2; return b }(), cfg, DropBadGeneveOptions},
		{"geneve-unknown-critical", func() []byte { b := gn(); b[tun+GeneveMinLen+2] |= 0x80; return b }(), cfg, DropUnknownCriticalOption},
		{"geneve-oam", func() []byte { b := gn(); b[tun+1] |= 0x80; return b }(), cfg, DropGeneveControl},
		{"geneve-protocol-arp", func() []byte { b := gn(); b[tun+2], b[tun+3] = 0x08, 0x06; return b }(), cfg, DropUnsupportedInner},
		{"vxlan-inner-arp", func() []byte { b := vx(); b[tun+VXLANLen+12], b[tun+VXLANLen+13] = 0x08, 0x06; return b }(), cfg, DropUnsupportedInner},
		{"ipip-inner-not-ip", func() []byte {
			b := ipip()
			b[20] = 0x15
			return b
		}(), &DecapConfig{AcceptIPIP: true}, DropBadVersion},
	}
	seen := map[DropReason]bool{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, r := DecapIP(tc.pkt, tc.cfg)
			if r != tc.want {
				t.Errorf("DecapIP = %v, want %v", r, tc.want)
			}
		})
		seen[tc.want] = true
	}
	// Reasons only decap can produce must all be reached above.
	for _, r := range []DropReason{DropTruncated, DropBadVersion, DropBadHeaderLength, DropBadIPChecksum, DropBadLength,
		DropOuterFragment, DropNotTunnel, DropBadVXLANFlags, DropBadVNI, DropBadGeneveVersion, DropBadGeneveOptions,
		DropUnknownCriticalOption, DropGeneveControl, DropUnsupportedInner} {
		if !seen[r] {
			t.Errorf("no case reaches %v", r)
		}
	}
}

func TestDropReasonsEncapAndInner(t *testing.T) {
	inner := buildInnerUDP4([]byte("x"), 0, true, 64)
	buf := make([]byte, 10+len(inner))
	copy(buf[10:], inner)
	vx := Params{Kind: KindVXLAN}
	if _, r := PrependTunnel(buf, 10, len(buf), &vx); r != DropNoHeadroom {
		t.Errorf("PrependTunnel with 10 bytes headroom = %v", r)
	}
	if _, r := PrependOuter(buf, 10, len(buf), &vx, newOuter(false), inner, 0); r != DropNoHeadroom {
		t.Errorf("PrependOuter with 10 bytes headroom = %v", r)
	}
	if _, r := PrependEthernet(buf, 10, testDstMAC, testSrcMAC, EtherTypeIPv4); r != DropNoHeadroom {
		t.Errorf("PrependEthernet with 10 bytes headroom = %v", r)
	}
	big := make([]byte, testHeadroom+len(inner))
	copy(big[testHeadroom:], inner)
	big[testHeadroom] = 0x15
	if _, r := PrependTunnel(big, testHeadroom, len(big), &vx); r != DropUnsupportedInner {
		t.Errorf("PrependTunnel of a non-IP packet = %v", r)
	}
	if _, r := PrependTunnel(big, testHeadroom, testHeadroom, &vx); r != DropTruncated {
		t.Errorf("PrependTunnel of an empty packet = %v", r)
	}
	if _, r := PrependOuter(big, testHeadroom, len(big), &vx, &Outer{Src: outer4Src, Dst: outer6Dst}, inner, 0); r != DropBadVersion {
		t.Errorf("PrependOuter with mixed families = %v", r)
	}
	huge := make([]byte, testHeadroom+0xffff)
	copy(huge[testHeadroom:], inner)
	if _, r := PrependOuter(huge, testHeadroom, len(huge), &vx, newOuter(false), inner, 0); r != DropBadLength {
		t.Errorf("PrependOuter of 64 KiB = %v", r)
	}
	ttl1 := buildInnerUDP4(nil, 0, true, 1)
	if r := DecrementTTL(ttl1); r != DropTTLExceeded || ttl1[8] != 1 {
		t.Errorf("DecrementTTL at 1 = %v, ttl now %d", r, ttl1[8])
	}
	hop1 := buildInnerUDP6(nil, 0, 1)
	if r := DecrementTTL(hop1); r != DropTTLExceeded || hop1[7] != 1 {
		t.Errorf("DecrementTTL hop limit 1 = %v", r)
	}
	var f Flow
	if r := ParseInner([]byte{0x45, 0}, &f); r != DropTruncated {
		t.Errorf("ParseInner short = %v", r)
	}
	if r := ParseInner(make([]byte, 40), &f); r != DropBadVersion {
		t.Errorf("ParseInner version 0 = %v", r)
	}
	if _, r := DecapUDPPayload(make([]byte, 64), KindIPIP, 0); r != DropNotTunnel {
		t.Errorf("DecapUDPPayload with kind ipip = %v", r)
	}
}
