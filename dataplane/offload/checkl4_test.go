package offload

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// naiveSum is the folded sum (not complemented) of the package's naive
// reference checksum: what the one-pass CheckL4 is held against.
func naiveSum(b []byte) uint32 { return uint32(^refChecksum(b)) }

// checkL4Reference is CheckL4 written out plainly: an explicit
// pseudo-header, then the sum of pseudo-header and segment.
func checkL4Reference(pkt []byte) L4Checksum {
	if len(pkt) < 20 {
		return L4None
	}
	var l4, pseudo []byte
	var proto uint8
	switch pkt[0] >> 4 {
	case 4:
		ihl := int(pkt[0]&0x0f) * 4
		if ihl < 20 || len(pkt) < ihl || binary.BigEndian.Uint16(pkt[6:])&0x3fff != 0 {
			return L4None
		}
		proto, l4 = pkt[9], pkt[ihl:]
		pseudo = append(append([]byte(nil), pkt[12:20]...), 0, proto, byte(len(l4)>>8), byte(len(l4)))
	case 6:
		if len(pkt) < 40 {
			return L4None
		}
		proto, l4 = pkt[6], pkt[40:]
		pseudo = append(append([]byte(nil), pkt[8:40]...), 0, 0, byte(len(l4)>>8), byte(len(l4)), 0, 0, 0, proto)
	default:
		return L4None
	}
	off := map[uint8]int{6: 16, 17: 6}[proto]
	if off == 0 || len(l4) < off+2 {
		return L4None
	}
	field := binary.BigEndian.Uint16(l4[off:])
	if proto == 17 && field == 0 && pkt[0]>>4 == 4 {
		return L4None
	}
	ps := naiveSum(pseudo)
	segment := naiveSum(l4)
	total := ps + segment
	for total > 0xffff {
		total = total>>16 + total&0xffff
	}
	if total == 0xffff {
		return L4Valid
	}
	if uint32(field) == ps {
		c := ^uint16(segment)
		if proto == 17 && c == 0 {
			c = 0xffff
		}
		binary.BigEndian.PutUint16(l4[off:], c)
		return L4Partial
	}
	return L4Bad
}

// randomL4Packet builds an IPv4 (with or without options) or IPv6 packet
// carrying TCP or UDP of a random length, whose checksum field is right,
// partial (pseudo-header sum only), zero, or random.
func randomL4Packet(r *rand.Rand) []byte {
	var pkt []byte
	proto := []uint8{6, 17, 1}[r.IntN(3)]
	l4Len := 8 + r.IntN(1500)
	if proto == 6 {
		l4Len += 12
	}
	if r.IntN(2) == 0 {
		ihl := 20
		if r.IntN(4) == 0 {
			ihl += 4 * (1 + r.IntN(10))
		}
		pkt = make([]byte, ihl+l4Len)
		pkt[0] = 0x40 | byte(ihl/4)
		pkt[9] = proto
		if r.IntN(8) == 0 {
			pkt[6] = 0x20 // more fragments
		}
		for i := 12; i < ihl; i++ {
			pkt[i] = byte(r.Uint32())
		}
	} else {
		pkt = make([]byte, 40+l4Len)
		pkt[0], pkt[6] = 0x60, proto
		for i := 8; i < 40; i++ {
			pkt[i] = byte(r.Uint32())
		}
	}
	l4 := pkt[len(pkt)-l4Len:]
	for i := range l4 {
		l4[i] = byte(r.Uint32())
	}
	if r.IntN(4) == 0 { // runs of 0xff and 0x00 find one's-complement edge cases
		fill := byte(0xff * r.IntN(2))
		for i := range l4 {
			l4[i] = fill
		}
	}
	off := map[uint8]int{6: 16, 17: 6, 1: 2}[proto]
	binary.BigEndian.PutUint16(l4[off:], 0)
	switch r.IntN(4) {
	case 0: // right: complete the field so the whole verifies
		binary.BigEndian.PutUint16(l4[off:], checksumOf(pkt, l4))
	case 1: // partial: the pseudo-header sum only
		binary.BigEndian.PutUint16(l4[off:], uint16(pseudoOf(pkt, len(l4))))
	case 2: // zero
	default:
		binary.BigEndian.PutUint16(l4[off:], uint16(r.Uint32()))
	}
	return pkt
}

func pseudoOf(pkt []byte, l4Len int) uint32 {
	if pkt[0]>>4 == 4 {
		return naiveSum(append(append([]byte(nil), pkt[12:20]...), 0, pkt[9], byte(l4Len>>8), byte(l4Len)))
	}
	return naiveSum(append(append([]byte(nil), pkt[8:40]...), 0, 0, byte(l4Len>>8), byte(l4Len), 0, 0, 0, pkt[6]))
}

func checksumOf(pkt, l4 []byte) uint16 {
	s := pseudoOf(pkt, len(l4)) + naiveSum(l4)
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

// CheckL4 gives the reference's verdict and leaves the same bytes
// (completed partial checksums included) on random packets.
func TestCheckL4MatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	seen := map[L4Checksum]int{}
	for i := range 20000 {
		pkt := randomL4Packet(r)
		want, got := append([]byte(nil), pkt...), append([]byte(nil), pkt...)
		wv, gv := checkL4Reference(want), CheckL4(got)
		seen[gv]++
		if wv != gv || !bytes.Equal(want, got) {
			t.Fatalf("packet %d (% x...): CheckL4 = %d, reference %d; bytes equal: %v", i, pkt[:min(len(pkt), 48)], gv, wv, bytes.Equal(want, got))
		}
	}
	for _, v := range []L4Checksum{L4None, L4Valid, L4Partial, L4Bad} {
		if seen[v] == 0 {
			t.Errorf("no random packet gave verdict %d: the generator misses a case", v)
		}
	}
}

func FuzzCheckL4(f *testing.F) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 8 {
		f.Add(randomL4Packet(r))
	}
	f.Fuzz(func(t *testing.T, pkt []byte) {
		want, got := append([]byte(nil), pkt...), append([]byte(nil), pkt...)
		if wv, gv := checkL4Reference(want), CheckL4(got); wv != gv || !bytes.Equal(want, got) {
			t.Fatalf("CheckL4 = %d, reference %d; bytes equal: %v", gv, wv, bytes.Equal(want, got))
		}
	})
}

// BenchmarkCheckL4 checks valid IPv4/UDP packets of 64 and 1400 bytes, what
// the receive path does for every packet it delivers without GRO.
func BenchmarkCheckL4(b *testing.B) {
	for _, size := range []int{64, 1400} {
		pkt := make([]byte, size)
		pkt[0], pkt[9] = 0x45, 17
		copy(pkt[12:], []byte{10, 244, 2, 10, 10, 244, 1, 10})
		for i := 28; i < size; i++ {
			pkt[i] = byte(i)
		}
		binary.BigEndian.PutUint16(pkt[26:], checksumOf(pkt, pkt[20:]))
		if CheckL4(pkt) != L4Valid {
			b.Fatal("benchmark packet does not verify")
		}
		b.Run(map[int]string{64: "64B", 1400: "1400B"}[size], func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				CheckL4(pkt)
			}
		})
	}
}
