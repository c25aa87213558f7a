package encap

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// Seeds: packets from our encoder, from gopacket's (see
// gopacket_decap_test.go) and a few broken ones; more in testdata/fuzz.

const fuzzVNI = 0x10203

func fuzzSeedPackets(t testing.TB) [][]byte {
	var out [][]byte
	for _, c := range gopacketCases() {
		c.params.VNI = fuzzVNI
		if c.params.Kind == KindVXLAN {
			c.params.Port = DefaultVXLANPort
		}
		for _, size := range []int{60, 300} {
			out = append(out, encapsulate(t, innerOfSize(c.innerV6, size), &c.params, newOuter(c.outerV6), uint32(size)))
		}
	}
	return out
}

var fuzzDecapConfig = DecapConfig{VXLANPort: DefaultVXLANPort, GenevePort: DefaultGenevePort, ExpectVNI: fuzzVNI, AcceptIPIP: true}

func FuzzDecapIP(f *testing.F) {
	for _, p := range fuzzSeedPackets(f) {
		f.Add(p)
	}
	f.Add([]byte{})
	f.Add([]byte{0x45})
	f.Add([]byte{0x60, 0, 0, 0, 0, 8, 17, 64})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		d, r := DecapIP(pkt, &fuzzDecapConfig)
		if r >= NumDropReasons {
			t.Fatalf("reason %d out of range", r)
		}
		if r != DropNone {
			return
		}
		if d.InnerOff <= 0 || d.InnerOff >= d.InnerEnd || d.InnerEnd > len(pkt) {
			t.Fatalf("inner [%d:%d] outside packet of %d", d.InnerOff, d.InnerEnd, len(pkt))
		}
		inner := pkt[d.InnerOff:d.InnerEnd]
		if etherTypeForVersion(inner[0]>>4) != d.InnerEtherType {
			t.Fatalf("inner version %d but EtherType %#x", inner[0]>>4, d.InnerEtherType)
		}
		// Round trip: encapsulate the inner packet again with the same kind
		// and addresses; decap must give back the same bytes.
		p := Params{Kind: d.Kind, VNI: d.VNI}
		if d.Kind == KindGeneve {
			p.GeneveIP = true
		}
		buf := make([]byte, testHeadroom+len(inner))
		copy(buf[testHeadroom:], inner)
		s, r := PrependTunnel(buf, testHeadroom, len(buf), &p)
		if r != DropNone {
			t.Fatalf("re-encap tunnel: %v", r)
		}
		s, r = PrependOuter(buf, s, len(buf), &p, &Outer{Src: d.OuterSrc, Dst: d.OuterDst}, buf[testHeadroom:], FlowHash(inner))
		if r == DropTruncated || r == DropBadLength || r == DropBadVersion {
			return // inner too short to read DSCP from, too long, or 4-in-6 mapped outer addresses
		}
		if r != DropNone {
			t.Fatalf("re-encap outer: %v", r)
		}
		d2, r := DecapIP(buf[s:], &fuzzDecapConfig)
		if r != DropNone || !bytes.Equal(buf[s+d2.InnerOff:s+d2.InnerEnd], inner) || d2.Kind != d.Kind || d2.VNI != d.VNI {
			t.Fatalf("round trip: %v %+v vs %+v", r, d2, d)
		}
	})
}

func fuzzDecapUDPPayload(f *testing.F, kind Kind) {
	for _, p := range fuzzSeedPackets(f) {
		for _, ipLen := range []int{IPv4MinLen, IPv6Len} {
			if len(p) > ipLen+UDPLen {
				f.Add(p[ipLen+UDPLen:])
			}
		}
	}
	f.Add([]byte{0x08, 0, 0, 0, 0x01, 0x02, 0x03, 0})
	f.Add([]byte{0x01, 0x40, 0x65, 0x58, 0x01, 0x02, 0x03, 0, 0, 1, 0x82, 0})
	f.Fuzz(func(t *testing.T, payload []byte) {
		in, r := DecapUDPPayload(payload, kind, fuzzVNI)
		if r != DropNone {
			return
		}
		if in.Off <= 0 || in.Off >= len(payload) || in.VNI != fuzzVNI {
			t.Fatalf("bad result %+v for %d bytes", in, len(payload))
		}
		inner := payload[in.Off:]
		if etherTypeForVersion(inner[0]>>4) != in.EtherType {
			t.Fatalf("inner version/EtherType mismatch")
		}
		p := Params{Kind: kind, VNI: in.VNI}
		buf := make([]byte, testHeadroom+len(inner))
		copy(buf[testHeadroom:], inner)
		s, r := PrependTunnel(buf, testHeadroom, len(buf), &p)
		if r != DropNone {
			t.Fatalf("re-encap: %v", r)
		}
		in2, r := DecapUDPPayload(buf[s:], kind, fuzzVNI)
		if r != DropNone || !bytes.Equal(buf[s+in2.Off:], inner) {
			t.Fatalf("round trip: %v", r)
		}
	})
}

func FuzzDecapUDPPayloadVXLAN(f *testing.F)  { fuzzDecapUDPPayload(f, KindVXLAN) }
func FuzzDecapUDPPayloadGeneve(f *testing.F) { fuzzDecapUDPPayload(f, KindGeneve) }

func FuzzParseInner(f *testing.F) {
	f.Add(buildInnerUDP4([]byte("abc"), 0, true, 64))
	f.Add(buildInnerUDP6([]byte("abc"), 0, 64))
	f.Add([]byte{0x60, 0, 0, 0, 0, 16, 0, 64, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
		1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 6, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		var fl Flow
		r := ParseInner(pkt, &fl)
		FlowHash(pkt)
		if r != DropNone {
			if fl != (Flow{}) {
				t.Fatalf("failed parse left %+v", fl)
			}
			return
		}
		if fl.TotalLen > len(pkt) || fl.Version != pkt[0]>>4 || !fl.Src.IsValid() || !fl.Dst.IsValid() {
			t.Fatalf("inconsistent %+v for %d bytes", fl, len(pkt))
		}
		// DecrementTTL keeps a valid IPv4 header checksum valid.
		c := append([]byte(nil), pkt...)
		valid := fl.Version == 4 && IPv4(c).ChecksumValid()
		r = DecrementTTL(c)
		if fl.TTL <= 1 {
			if r != DropTTLExceeded || !bytes.Equal(c, pkt) {
				t.Fatalf("TTL %d: %v, packet changed %v", fl.TTL, r, !bytes.Equal(c, pkt))
			}
			return
		}
		if r != DropNone {
			t.Fatalf("DecrementTTL: %v", r)
		}
		if valid && !IPv4(c).ChecksumValid() {
			t.Fatalf("checksum broken by DecrementTTL")
		}
	})
}

func FuzzGeneveOptions(f *testing.F) {
	f.Add([]byte{0, 1, 2, 1, 9, 9, 9, 9})
	f.Add([]byte{0, 1, 0x82, 0, 0xff, 0xff, 0x7f, 0x1f})
	f.Add([]byte{0, 1, 2})
	f.Fuzz(func(t *testing.T, opts []byte) {
		it := NewGeneveOptionIter(opts)
		total := 0
		for {
			o, ok := it.Next()
			if !ok {
				break
			}
			if len(o) < GeneveOptHdrLen || len(o)%4 != 0 || len(o.Data()) != int(o[3]&0x1f)*4 {
				t.Fatalf("option of %d bytes", len(o))
			}
			o.Class()
			o.Critical()
			total += len(o)
		}
		if (it.Err() == DropNone) != (total == len(opts)) {
			t.Fatalf("walked %d of %d bytes, err %v", total, len(opts), it.Err())
		}
		p := Params{Kind: KindGeneve, GeneveOptions: opts}
		if p.Validate() == nil {
			if it.Err() != DropNone || len(opts)%4 != 0 || len(opts) > MaxGeneveOptionLen {
				t.Fatal("Validate accepted bad options")
			}
			// Valid options survive encap + decap (unless one is critical).
			inner := buildInnerUDP4([]byte("x"), 0, true, 9)
			pkt := encapsulate(t, inner, &p, newOuter(false), 1)
			_, r := DecapIP(pkt, &DecapConfig{GenevePort: DefaultGenevePort})
			if want := map[bool]DropReason{false: DropNone, true: DropUnknownCriticalOption}[anyCritical(opts)]; r != want {
				t.Fatalf("decap of our own Geneve: %v, want %v", r, want)
			}
		}
	})
}

func FuzzICMPBuilders(f *testing.F) {
	f.Add(buildInnerUDP4(make([]byte, 700), 0, true, 1), 1400, uint16(2000))
	f.Add(buildInnerUDP6(make([]byte, 1400), 0, 1), 1280, uint16(1500))
	f.Add([]byte{0x45, 0, 0, 20}, 68, uint16(10))
	f.Fuzz(func(t *testing.T, orig []byte, mtu int, dstLen uint16) {
		dst := make([]byte, int(dstLen)%3000)
		check := func(n int, v6 bool) {
			if n == 0 {
				return
			}
			if n > len(dst) {
				t.Fatalf("wrote %d into %d", n, len(dst))
			}
			pkt := dst[:n]
			if !v6 {
				if n > icmpv4MaxLen || refChecksum(pkt[:IPv4MinLen], 0) != 0 || refChecksum(pkt[IPv4MinLen:], 0) != 0 {
					t.Fatalf("bad ICMPv4 packet %x", pkt)
				}
				if !bytes.HasPrefix(orig, pkt[IPv4MinLen+ICMPHdrLen:]) || !bytes.Equal(pkt[16:20], orig[12:16]) {
					t.Fatalf("quote or destination wrong")
				}
				return
			}
			src, d := [16]byte(pkt[8:24]), [16]byte(pkt[24:40])
			if n > icmpv6MaxLen || refChecksum(pkt[IPv6Len:], PseudoHeader6(&src, &d, ProtoICMPv6, n-IPv6Len)) != 0 ||
				int(binary.BigEndian.Uint16(pkt[4:])) != n-IPv6Len {
				t.Fatalf("bad ICMPv6 packet %x", pkt)
			}
			if !bytes.HasPrefix(orig, pkt[IPv6Len+ICMPHdrLen:]) || !bytes.Equal(pkt[24:40], orig[8:24]) {
				t.Fatalf("quote or destination wrong")
			}
		}
		check(BuildFragNeeded4(dst, orig, gw4, mtu), false)
		check(BuildPacketTooBig6(dst, orig, gw6, mtu), true)
		check(BuildTimeExceeded(dst, orig, gw4), false)
		check(BuildTimeExceeded(dst, orig, gw6), true)
	})
}

func FuzzChecksum(f *testing.F) {
	f.Add([]byte{0, 1, 0xf2, 3, 0xf4, 0xf5, 0xf6, 0xf7}, uint32(0))
	f.Add(bytes.Repeat([]byte{0xff}, 101), uint32(0xffffffff))
	f.Fuzz(func(t *testing.T, b []byte, initial uint32) {
		if got, want := Checksum(b, initial), refChecksum(b, initial); got != want {
			t.Fatalf("Checksum %#04x, naive %#04x", got, want)
		}
	})
}
