package encap

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestDecrementTTLMatchesRecompute: on random IPv4 headers (with options),
// the incrementally updated checksum equals a full recompute and verifies.
func TestDecrementTTLMatchesRecompute(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range 20000 {
		ihl := 5 + rng.IntN(11)
		b := make([]byte, ihl*4+rng.IntN(64))
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		b[0] = 0x40 | byte(ihl)
		b[IPv4TTLOffset] = byte(2 + i%254)
		b[10], b[11] = 0, 0
		binary.BigEndian.PutUint16(b[10:], Checksum(b[:ihl*4], 0))
		ttl := b[IPv4TTLOffset]
		if r := DecrementTTL(b); r != DropNone {
			t.Fatalf("DecrementTTL: %v", r)
		}
		if b[IPv4TTLOffset] != ttl-1 {
			t.Fatalf("TTL %d -> %d", ttl, b[IPv4TTLOffset])
		}
		inc := binary.BigEndian.Uint16(b[10:])
		b[10], b[11] = 0, 0
		full := Checksum(b[:ihl*4], 0)
		if inc != full {
			t.Fatalf("incremental %#04x, full recompute %#04x", inc, full)
		}
	}
	v6 := buildInnerUDP6([]byte("x"), 0, 2)
	if r := DecrementTTL(v6); r != DropNone || v6[IPv6HopLimitOffset] != 1 {
		t.Errorf("IPv6 hop limit: %v %d", r, v6[IPv6HopLimitOffset])
	}
}

func TestParseInner(t *testing.T) {
	var f Flow
	p4 := buildInnerUDP4([]byte("abc"), 0, true, 61)
	if r := ParseInner(p4, &f); r != DropNone {
		t.Fatal(r)
	}
	want := Flow{Version: 4, Src: inner4Src, Dst: inner4Dst, Proto: ProtoUDP, SrcPort: 1234, DstPort: 5678, TTL: 61, DF: true, TotalLen: len(p4)}
	if f != want {
		t.Errorf("v4:\n got %+v\nwant %+v", f, want)
	}
	// A packet longer than its total length (Ethernet padding) is fine.
	if r := ParseInner(append(p4, 0, 0, 0), &f); r != DropNone || f.TotalLen != len(p4) {
		t.Errorf("padded v4: %v %+v", r, f)
	}
	// Non-first fragment: no ports.
	frag := append([]byte(nil), p4...)
	frag[7] = 1
	if r := ParseInner(frag, &f); r != DropNone || f.SrcPort != 0 || f.DstPort != 0 {
		t.Errorf("fragment: %v %+v", r, f)
	}
	p6 := buildInnerUDP6([]byte("abc"), 0, 9)
	if r := ParseInner(p6, &f); r != DropNone {
		t.Fatal(r)
	}
	want = Flow{Version: 6, Src: inner6Src, Dst: inner6Dst, Proto: ProtoUDP, SrcPort: 1234, DstPort: 5678, TTL: 9, DF: true, TotalLen: len(p6)}
	if f != want {
		t.Errorf("v6:\n got %+v\nwant %+v", f, want)
	}
	// IPv6 with a hop-by-hop (8 bytes) and a destination options header (16) before TCP.
	ext := make([]byte, IPv6Len+8+16+20)
	copy(ext, p6[:IPv6Len])
	binary.BigEndian.PutUint16(ext[IPv6PayloadLenOffset:], uint16(len(ext)-IPv6Len))
	ext[IPv6NextHeaderOffset] = ipv6ExtHopByHop
	ext[IPv6Len] = ipv6ExtDestOpts
	ext[IPv6Len+8], ext[IPv6Len+9] = ProtoTCP, 1
	binary.BigEndian.PutUint16(ext[IPv6Len+24:], 443)
	binary.BigEndian.PutUint16(ext[IPv6Len+26:], 8443)
	if r := ParseInner(ext, &f); r != DropNone || f.Proto != ProtoTCP || f.SrcPort != 443 || f.DstPort != 8443 {
		t.Errorf("v6 ext headers: %v %+v", r, f)
	}
	ext[IPv6Len+9] = 200 // destination options now overrun the packet
	if r := ParseInner(ext, &f); r != DropTruncated {
		t.Errorf("overrunning ext header: %v", r)
	}
}

func TestParamsValidate(t *testing.T) {
	good := []Params{
		{Kind: KindVXLAN, VNI: 1},
		{Kind: KindVXLAN, VNI: MaxVNI, Port: 8472, SrcPortMin: 1000, SrcPortMax: 2000, DF: DFSet},
		{Kind: KindGeneve, GeneveIP: true, GeneveOptions: []byte{0, 1, 2, 1, 0, 0, 0, 0}},
		{Kind: KindIPIP, TTL: 5, DF: DFClear},
	}
	for _, p := range good {
		if err := p.Validate(); err != nil {
			t.Errorf("%+v: %v", p, err)
		}
	}
	bad := []struct {
		p     Params
		field string
	}{
		{Params{}, "Kind"},
		{Params{Kind: KindVXLAN, VNI: 1 << 24}, "VNI"},
		{Params{Kind: KindVXLAN, SrcPortMin: 5}, "SrcPortMin"},
		{Params{Kind: KindVXLAN, SrcPortMin: 5, SrcPortMax: 4}, "SrcPortMin"},
		{Params{Kind: KindVXLAN, DF: 9}, "DF"},
		{Params{Kind: KindVXLAN, GeneveIP: true}, "GeneveIP"},
		{Params{Kind: KindGeneve, GeneveOptions: []byte{0, 1, 2}}, "GeneveOptions"},
		{Params{Kind: KindGeneve, GeneveOptions: make([]byte, 256)}, "GeneveOptions"},
		{Params{Kind: KindGeneve, GeneveOptions: []byte{0, 1, 2, 2, 0, 0, 0, 0}}, "GeneveOptions"},
	}
	for _, tc := range bad {
		err := tc.p.Validate()
		if !errors.Is(err, ErrInvalidParams) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%+v: error %v should wrap ErrInvalidParams and name %s", tc.p, err, tc.field)
		}
	}
}

func TestSourcePortKernelFormula(t *testing.T) {
	for _, tc := range []struct {
		hash     uint32
		min, max uint16
		want     uint16
	}{
		{0, 0, 0, 32768},
		{0xffffffff, 0, 0, 32768 + 28230},
		{0x80000000, 0, 0, 32768 + 28231/2},
		{0x12345678, 0, 0, 34775}, // also in the golden packets
		{0xffffffff, 1000, 2000, 1999},
		{123, 7, 7, 7},
	} {
		if got := SourcePort(tc.hash, tc.min, tc.max); got != tc.want {
			t.Errorf("SourcePort(%#x, %d, %d) = %d, want %d", tc.hash, tc.min, tc.max, got, tc.want)
		}
	}
}

func TestFlowHash(t *testing.T) {
	a := buildInnerUDP4([]byte("a"), 0, true, 64)
	b := buildInnerUDP4([]byte("bbbb"), 0x10, false, 3) // same 5-tuple, other fields differ
	if FlowHash(a) != FlowHash(b) {
		t.Error("hash depends on more than the 5-tuple")
	}
	c := append([]byte(nil), a...)
	c[IPv4MinLen+1]++ // source port
	if FlowHash(a) == FlowHash(c) {
		t.Error("hash ignores the source port")
	}
	// Spread: 4096 flows differing only in source port fill most of 64 buckets.
	var buckets [64]int
	for p := range 4096 {
		binary.BigEndian.PutUint16(c[IPv4MinLen:], uint16(p))
		buckets[SourcePort(FlowHash(c), 0, 64)]++
	}
	checkSpread := func(what string) {
		t.Helper()
		for i, n := range buckets {
			if n < 20 || n > 120 {
				t.Errorf("%s: bucket %d holds %d of 4096 flows", what, i, n)
			}
		}
		buckets = [64]int{}
	}
	checkSpread("source ports")
	// Addresses differing in the low bytes only (pods of one node).
	for i := range 4096 {
		d := append([]byte(nil), a...)
		d[IPv4SrcOffset+2], d[IPv4SrcOffset+3] = byte(i>>8), byte(i)
		buckets[SourcePort(FlowHash(d), 0, 64)]++
	}
	checkSpread("IPv4 source addresses")
	for i := range 4096 {
		d := buildInnerUDP6(nil, 0, 1)
		d[IPv6DstOffset+14], d[IPv6DstOffset+15] = byte(i>>8), byte(i)
		buckets[SourcePort(FlowHash(d), 0, 64)]++
	}
	checkSpread("IPv6 destination addresses")
	if FlowHash(nil) != 0 || FlowHash([]byte{0x45}) != 0 {
		t.Error("malformed input should hash to 0")
	}
	v6a, v6b := buildInnerUDP6(nil, 0, 1), buildInnerUDP6(nil, 0, 1)
	v6b[IPv6SrcOffset+15]++
	if FlowHash(v6a) == FlowHash(v6b) {
		t.Error("IPv6 hash ignores the source address")
	}
	if l := flowLabel(0); l == 0 || l > 0xfffff {
		t.Errorf("flow label %#x", l)
	}
}

func TestOverhead(t *testing.T) {
	for _, tc := range []struct {
		kind Kind
		v6   bool
		opts int
		want int
	}{
		{KindVXLAN, false, 0, 50}, {KindVXLAN, true, 0, 70}, {KindGeneve, false, 8, 58},
		{KindGeneve, true, 0, 70}, {KindIPIP, false, 0, 20}, {KindIPIP, true, 0, 40},
	} {
		if got := Overhead(tc.kind, tc.v6, tc.opts); got != tc.want {
			t.Errorf("Overhead(%v, %v, %d) = %d, want %d", tc.kind, tc.v6, tc.opts, got, tc.want)
		}
	}
	p := Params{Kind: KindGeneve, GeneveIP: true}
	if p.Overhead(false) != 36 {
		t.Errorf("Geneve-IP overhead %d", p.Overhead(false))
	}
	// The overhead is what encapsulation really adds.
	for _, c := range gopacketCases() {
		inner := innerOfSize(c.innerV6, 100)
		if got := len(encapsulate(t, inner, &c.params, newOuter(c.outerV6), 0)) - 100; got != c.params.Overhead(c.outerV6) {
			t.Errorf("%s: added %d bytes, Overhead says %d", c.label(), got, c.params.Overhead(c.outerV6))
		}
	}
}
