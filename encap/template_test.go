package encap

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
)

// randInner builds a random inner IPv4 or IPv6 packet carrying TCP, UDP,
// ICMP or ICMPv6 of random (often odd) length, IPv4 options sometimes, and
// correct checksums throughout.
func randInner(rng *rand.Rand) []byte {
	v6 := rng.IntN(2) == 1
	protos := []uint8{ProtoTCP, ProtoUDP, ProtoICMP}
	if v6 {
		protos[2] = ProtoICMPv6
	}
	proto := protos[rng.IntN(len(protos))]
	l4 := 8 + rng.IntN(300)
	if proto == ProtoTCP {
		l4 += 12
	}
	hl := IPv6Len
	if !v6 {
		hl = IPv4MinLen + 4*rng.IntN(3)
	}
	b := make([]byte, hl+l4)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	seg := b[hl:]
	var pseudo uint32
	if v6 {
		binary.BigEndian.PutUint32(b[0:], 6<<28|rng.Uint32()&0x0fffffff)
		binary.BigEndian.PutUint16(b[IPv6PayloadLenOffset:], uint16(l4))
		b[IPv6NextHeaderOffset] = proto
		if proto != ProtoICMP {
			pseudo = pseudoHeader6Slices(b[IPv6SrcOffset:IPv6SrcOffset+16], b[IPv6DstOffset:IPv6DstOffset+16], proto, l4)
		}
	} else {
		b[0] = 0x40 | byte(hl/4)
		binary.BigEndian.PutUint16(b[IPv4TotalLenOffset:], uint16(len(b)))
		binary.BigEndian.PutUint16(b[IPv4FlagsFragOffset:], uint16(rng.IntN(2))*IPv4FlagDF)
		b[IPv4ProtocolOffset] = proto
		b[IPv4ChecksumOffset], b[IPv4ChecksumOffset+1] = 0, 0
		binary.BigEndian.PutUint16(b[IPv4ChecksumOffset:], Checksum(b[:hl], 0))
		if proto != ProtoICMP {
			pseudo = PseudoHeader4([4]byte(b[IPv4SrcOffset:]), [4]byte(b[IPv4DstOffset:]), proto, l4)
		}
	}
	off := map[uint8]int{ProtoTCP: TCPChecksumOffset, ProtoUDP: UDPChecksumOffset, ProtoICMP: 2, ProtoICMPv6: 2}[proto]
	if proto == ProtoUDP {
		binary.BigEndian.PutUint16(seg[UDPLengthOffset:], uint16(l4))
	}
	seg[off], seg[off+1] = 0, 0
	c := Checksum(seg, pseudo)
	if c == 0 && proto == ProtoUDP {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(seg[off:], c)
	return b
}

// congruent reports whether two one's-complement sums are equal mod 0xffff
// (0 and 0xffff are both zero).
func congruent(a, b uint64) bool { return a%0xffff == b%0xffff }

func TestInnerSumLCOMatchesFullSum(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		ip := randInner(rng)
		got, ok := innerSumLCO(ip)
		if !ok {
			t.Fatalf("%d: LCO refused a well-formed packet %x", i, ip)
		}
		if want := uint64(Sum(ip, 0)); !congruent(got, want) {
			t.Fatalf("%d: LCO sum %#x, full sum %#x, packet %x", i, got, want, ip)
		}
	}
}

func TestInnerSumLCORefuses(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	find := func(v6 bool, proto uint8) []byte {
		for {
			ip := randInner(rng)
			if (ip[0]>>4 == 6) == v6 && (v6 && ip[IPv6NextHeaderOffset] == proto || !v6 && ip[IPv4ProtocolOffset] == proto) {
				return ip
			}
		}
	}
	refixHeader4 := func(ip []byte) []byte {
		ip[IPv4ChecksumOffset], ip[IPv4ChecksumOffset+1] = 0, 0
		binary.BigEndian.PutUint16(ip[IPv4ChecksumOffset:], Checksum(ip[:IPv4(ip).HeaderLen()], 0))
		return ip
	}
	cases := map[string][]byte{
		"empty":         {},
		"v4 MF":         refixHeader4(func(ip []byte) []byte { ip[IPv4FlagsFragOffset] |= IPv4FlagMF >> 8; return ip }(find(false, ProtoTCP))),
		"v4 offset":     refixHeader4(func(ip []byte) []byte { ip[IPv4FlagsFragOffset+1] |= 1; return ip }(find(false, ProtoUDP))),
		"v4 trailing":   append(find(false, ProtoTCP), 0),
		"v6 trailing":   append(find(true, ProtoTCP), 0),
		"v4 udp zero":   func(ip []byte) []byte { ip[IPv4(ip).HeaderLen()+6], ip[IPv4(ip).HeaderLen()+7] = 0, 0; return ip }(find(false, ProtoUDP)),
		"v6 udp zero":   func(ip []byte) []byte { ip[IPv6Len+6], ip[IPv6Len+7] = 0, 0; return ip }(find(true, ProtoUDP)),
		"v4 udp short":  func(ip []byte) []byte { ip[IPv4(ip).HeaderLen()+5]--; return ip }(find(false, ProtoUDP)),
		"v6 ext header": func(ip []byte) []byte { ip[IPv6NextHeaderOffset] = ipv6ExtFragment; return ip }(find(true, ProtoTCP)),
		"v4 gre":        refixHeader4(func(ip []byte) []byte { ip[IPv4ProtocolOffset] = 47; return ip }(find(false, ProtoTCP))),
		"v4 tcp short":  refixHeader4(buildShort4(ProtoTCP, 19)),
		"v4 ihl > len":  func(ip []byte) []byte { ip[0] = 0x4f; return ip }(find(false, ProtoICMP)[:IPv4MinLen+8]),
		"v5":            {0x50, 0, 0, 0},
		"v4 icmpv6":     refixHeader4(func(ip []byte) []byte { ip[IPv4ProtocolOffset] = ProtoICMPv6; return ip }(find(false, ProtoICMP))),
		"v6 icmpv4":     func(ip []byte) []byte { ip[IPv6NextHeaderOffset] = ProtoICMP; return ip }(find(true, ProtoICMPv6)),
	}
	for name, ip := range cases {
		if _, ok := innerSumLCO(ip); ok {
			t.Errorf("%s: LCO accepted %x", name, ip)
		}
	}
}

// buildShort4 is an IPv4 header with an l4-byte payload of protocol proto.
func buildShort4(proto uint8, l4 int) []byte {
	b := make([]byte, IPv4MinLen+l4)
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[IPv4TotalLenOffset:], uint16(len(b)))
	b[IPv4ProtocolOffset] = proto
	return b
}

// randParams returns random tunnel parameters, now and then invalid ones
// (bad kind, inverted port range) that the prepend path still handles.
func randParams(rng *rand.Rand) Params {
	p := Params{
		Kind: []Kind{KindVXLAN, KindGeneve, KindIPIP, KindVXLAN, KindGeneve, KindIPIP, 0, 9}[rng.IntN(8)],
		VNI:  rng.Uint32() & MaxVNI,
		Port: []uint16{0, 8472, uint16(rng.Uint32())}[rng.IntN(3)],
		TTL:  uint8(rng.Uint32()), DF: DFPolicy(rng.IntN(3)), ZeroUDPChecksum6: rng.IntN(4) == 0,
	}
	switch rng.IntN(4) {
	case 1:
		p.SrcPortMin, p.SrcPortMax = 1000+uint16(rng.IntN(1000)), 2000+uint16(rng.IntN(60000))
	case 2:
		p.SrcPortMin = uint16(rng.Uint32())
		p.SrcPortMax = p.SrcPortMin
	case 3:
		p.SrcPortMin, p.SrcPortMax = 5000, 100
	}
	binary.BigEndian.PutUint32(p.InnerSrcMAC[:], rng.Uint32())
	binary.BigEndian.PutUint32(p.InnerDstMAC[2:], rng.Uint32())
	if p.Kind == KindGeneve {
		p.GeneveIP = rng.IntN(2) == 0
		for n := rng.IntN(4); n > 0; n-- {
			words := rng.IntN(4)
			opt := []byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(words)}
			for range words * 4 {
				opt = append(opt, byte(rng.Uint32()))
			}
			p.GeneveOptions = append(p.GeneveOptions, opt...)
		}
	}
	return p
}

func randOuter(rng *rand.Rand) (src, dst netip.Addr) {
	a4 := func() netip.Addr {
		return netip.AddrFrom4([4]byte{byte(rng.Uint32()), 2, byte(rng.Uint32()), byte(rng.Uint32())})
	}
	a6 := func() netip.Addr {
		var b [16]byte
		binary.BigEndian.PutUint64(b[:], rng.Uint64()|1<<61)
		binary.BigEndian.PutUint64(b[8:], rng.Uint64())
		return netip.AddrFrom16(b)
	}
	switch rng.IntN(10) {
	case 0:
		return a4(), a6()
	case 1:
		return netip.AddrFrom16(a4().As16()), a6() // IPv4-mapped
	case 2:
		return netip.Addr{}, a4()
	}
	if rng.IntN(2) == 0 {
		return a4(), a4()
	}
	return a6(), a6()
}

// TestTemplateMatchesPrepend checks that Template.Encap writes the same
// bytes and returns the same start and drop reason as PrependTunnel then
// PrependOuter, for random parameters, addresses, headroom and packets.
// Garbage and wrong-checksum packets are checked with InnerCsumUnknown
// only: with InnerCsumComplete the caller vouches for the inner checksum.
func TestTemplateMatchesPrepend(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 30000 {
		p := randParams(rng)
		src, dst := randOuter(rng)
		inner := randInner(rng)
		csum := InnerCsumComplete
		switch rng.IntN(8) {
		case 0: // a wrong inner checksum
			inner[len(inner)-1]++
			csum = InnerCsumUnknown
		case 1: // garbage
			inner = inner[:rng.IntN(len(inner)+1)]
			csum = InnerCsumUnknown
		case 2:
			csum = InnerCsumUnknown
		}
		headroom := testHeadroom
		if rng.IntN(6) == 0 {
			headroom = rng.IntN(testHeadroom)
		}
		hash := rng.Uint32()
		oldBuf := make([]byte, headroom+len(inner)+rng.IntN(3))
		for j := range oldBuf {
			oldBuf[j] = byte(rng.Uint32())
		}
		end := headroom + len(inner)
		copy(oldBuf[headroom:], inner)
		newBuf := bytes.Clone(oldBuf)

		oOld, oNew := &Outer{Src: src, Dst: dst}, &Outer{Src: src, Dst: dst}
		wantStart, wantR := PrependTunnel(oldBuf, headroom, end, &p)
		if wantR == DropNone {
			wantStart, wantR = PrependOuter(oldBuf, wantStart, end, &p, oOld, oldBuf[headroom:end], hash)
		}
		gotStart, gotR := NewTemplate(&p, oNew).Encap(newBuf, headroom, end, hash, csum)
		if gotR != wantR || (wantR == DropNone && gotStart != wantStart) {
			t.Fatalf("%d: template (%d, %v), prepend (%d, %v); params %+v outer %v->%v inner %x",
				i, gotStart, gotR, wantStart, wantR, p, src, dst, inner)
		}
		if wantR == DropNone && !bytes.Equal(newBuf, oldBuf) {
			t.Fatalf("%d: bytes differ (csum %d); params %+v outer %v->%v\n got %x\nwant %x",
				i, csum, p, src, dst, newBuf[gotStart:end], oldBuf[wantStart:end])
		}
	}
}

// TestTemplateBadLength checks the 64 KiB limit at its edge for both
// outer families.
func TestTemplateBadLength(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		for _, extra := range []int{0, 1} {
			p := Params{Kind: KindVXLAN, VNI: 1}
			o := newOuter(v6)
			maxInner := 0xffff - p.Overhead(v6)
			if v6 {
				maxInner += IPv6Len
			}
			size := maxInner + extra
			inner := buildInnerUDP4(make([]byte, size-IPv4MinLen-UDPLen), 0, true, 64)
			buf := make([]byte, testHeadroom+len(inner))
			copy(buf[testHeadroom:], inner)
			want := DropNone
			if extra > 0 {
				want = DropBadLength
			}
			if _, r := NewTemplate(&p, o).Encap(buf, testHeadroom, len(buf), 0, InnerCsumComplete); r != want {
				t.Errorf("v6=%v inner %d: %v, want %v", v6, size, r, want)
			}
			s, r := PrependTunnel(buf, testHeadroom, len(buf), &p)
			if _, r2 := PrependOuter(buf, s, len(buf), &p, o, buf[testHeadroom:], 0); r|r2 != want {
				t.Errorf("v6=%v inner %d: prepend %v %v, want %v", v6, size, r, r2, want)
			}
		}
	}
}

func TestTemplateZeroAllocs(t *testing.T) {
	for _, c := range gopacketCases() {
		t.Run(c.label(), func(t *testing.T) {
			inner := innerOfSize(c.innerV6, 64)
			buf := make([]byte, testHeadroom+len(inner))
			copy(buf[testHeadroom:], inner)
			tmpl := NewTemplate(&c.params, newOuter(c.outerV6))
			for _, csum := range []InnerCsum{InnerCsumComplete, InnerCsumUnknown} {
				if n := testing.AllocsPerRun(500, func() {
					if _, r := tmpl.Encap(buf, testHeadroom, len(buf), FlowHash(buf[testHeadroom:]), csum); r != DropNone {
						t.Fatal(r)
					}
				}); n != 0 {
					t.Errorf("Template.Encap (csum %d) allocates %v per packet", csum, n)
				}
			}
			if n := testing.AllocsPerRun(100, func() { innerSumLCO(inner) }); n != 0 {
				t.Errorf("innerSumLCO allocates %v", n)
			}
		})
	}
}

// l4ChecksumRight checks ip's L4 checksum the naive way, independently of
// innerSumLCO: pseudo-header (none for ICMPv4) plus segment verify.
func l4ChecksumRight(ip []byte) bool {
	var seg []byte
	var pseudo uint32
	switch {
	case len(ip) >= IPv4MinLen && ip[0]>>4 == 4 && IPv4(ip).HeaderLen() >= IPv4MinLen && IPv4(ip).HeaderLen() <= len(ip):
		seg = ip[IPv4(ip).HeaderLen():]
		if p := IPv4(ip).Protocol(); p != ProtoICMP {
			pseudo = PseudoHeader4([4]byte(ip[IPv4SrcOffset:]), [4]byte(ip[IPv4DstOffset:]), p, len(seg))
		}
	case len(ip) >= IPv6Len && ip[0]>>4 == 6:
		seg = ip[IPv6Len:]
		pseudo = pseudoHeader6Slices(ip[IPv6SrcOffset:IPv6SrcOffset+16], ip[IPv6DstOffset:IPv6DstOffset+16], ip[IPv6NextHeaderOffset], len(seg))
	default:
		return false
	}
	return refChecksum(seg, pseudo) == 0
}

// FuzzInnerSumLCO: whenever LCO accepts a packet whose L4 checksum is
// right, its sum is the packet's full sum.
func FuzzInnerSumLCO(f *testing.F) {
	rng := rand.New(rand.NewPCG(7, 8))
	for range 8 {
		f.Add(randInner(rng))
	}
	f.Fuzz(func(t *testing.T, ip []byte) {
		got, ok := innerSumLCO(ip)
		if ok && l4ChecksumRight(ip) && !congruent(got, uint64(Sum(ip, 0))) {
			t.Fatalf("LCO sum %#x, full sum %#x", got, Sum(ip, 0))
		}
	})
}

// FuzzTemplateMatchesPrepend: for any parameters (from seed), inner bytes
// and headroom, Template.Encap writes what the prepend path writes; with
// InnerCsumComplete too when the inner checksum is right.
func FuzzTemplateMatchesPrepend(f *testing.F) {
	rng := rand.New(rand.NewPCG(9, 10))
	for i := range 8 {
		f.Add(uint64(i), randInner(rng), uint16(testHeadroom), rng.Uint32())
	}
	f.Add(uint64(99), []byte{0x45}, uint16(3), uint32(0))
	f.Fuzz(func(t *testing.T, seed uint64, inner []byte, headroom uint16, hash uint32) {
		rng := rand.New(rand.NewPCG(seed, seed>>32))
		p := randParams(rng)
		src, dst := randOuter(rng)
		h := int(headroom) % (testHeadroom + 1)
		csums := []InnerCsum{InnerCsumUnknown}
		if l4ChecksumRight(inner) {
			csums = append(csums, InnerCsumComplete)
		}
		for _, csum := range csums {
			oldBuf := make([]byte, h+len(inner))
			copy(oldBuf[h:], inner)
			newBuf := bytes.Clone(oldBuf)
			wantStart, wantR := PrependTunnel(oldBuf, h, len(oldBuf), &p)
			if wantR == DropNone {
				wantStart, wantR = PrependOuter(oldBuf, wantStart, len(oldBuf), &p, &Outer{Src: src, Dst: dst}, oldBuf[h:], hash)
			}
			gotStart, gotR := NewTemplate(&p, &Outer{Src: src, Dst: dst}).Encap(newBuf, h, len(newBuf), hash, csum)
			if gotR != wantR || (wantR == DropNone && (gotStart != wantStart || !bytes.Equal(newBuf, oldBuf))) {
				t.Fatalf("csum %d: template (%d, %v) %x, prepend (%d, %v) %x", csum, gotStart, gotR, newBuf, wantStart, wantR, oldBuf)
			}
		}
	})
}
