package encap

import (
	"encoding/binary"
	"math/bits"
)

// Internet checksum (RFC 1071). Partial sums are carried as uint32 values
// that are one's-complement sums not yet complemented; they may be added
// together (then Fold or Checksum them) as long as every part except the
// last covers an even number of bytes, because an odd part would shift the
// byte lanes of the next one.

// Sum adds the 16-bit big-endian words of b to initial and returns the
// folded one's-complement sum (at most 0xffff), not complemented. A final
// odd byte is padded with zero, as RFC 1071 says.
func Sum(b []byte, initial uint32) uint32 {
	// Wide little-endian loads (plain loads on common CPUs) with carries:
	// the one's-complement sum of byte-swapped words is the byte-swapped
	// sum (RFC 1071 2(B)), and folding 64-bit words gives the same result
	// as 16-bit ones because 2^16 ≡ 1 (mod 2^16-1). Two accumulators let
	// the two carry chains run in parallel.
	var s0, s1, c uint64
	for len(b) >= 32 {
		s0, c = bits.Add64(s0, binary.LittleEndian.Uint64(b[0:8]), 0)
		s0, c = bits.Add64(s0, binary.LittleEndian.Uint64(b[8:16]), c)
		s0 += c // cannot overflow: after a carry the low word is at most 2^64-2
		s1, c = bits.Add64(s1, binary.LittleEndian.Uint64(b[16:24]), 0)
		s1, c = bits.Add64(s1, binary.LittleEndian.Uint64(b[24:32]), c)
		s1 += c
		b = b[32:]
	}
	s0, c = bits.Add64(s0, s1, 0)
	s0 += c
	for len(b) >= 8 {
		s0, c = bits.Add64(s0, binary.LittleEndian.Uint64(b[0:8]), 0)
		s0 += c
		b = b[8:]
	}
	if len(b) >= 4 {
		s0, c = bits.Add64(s0, uint64(binary.LittleEndian.Uint32(b[0:4])), 0)
		s0 += c
		b = b[4:]
	}
	if len(b) >= 2 {
		s0, c = bits.Add64(s0, uint64(binary.LittleEndian.Uint16(b[0:2])), 0)
		s0 += c
		b = b[2:]
	}
	if len(b) == 1 {
		s0, c = bits.Add64(s0, uint64(b[0]), 0) // the high byte of a big-endian word
		s0 += c
	}
	be := bits.ReverseBytes16(uint16(Fold64(s0)))
	return Fold64(uint64(be) + uint64(initial))
}

// Fold64 folds a 64-bit one's-complement accumulator to 16 bits.
func Fold64(s uint64) uint32 {
	s = (s >> 32) + (s & 0xffffffff)
	s = (s >> 32) + (s & 0xffffffff)
	return Fold(uint32(s))
}

// Fold folds a 32-bit one's-complement accumulator to 16 bits (not
// complemented).
func Fold(s uint32) uint32 {
	s = (s >> 16) + (s & 0xffff)
	s = (s >> 16) + (s & 0xffff)
	return s
}

// Checksum returns the Internet checksum of b with the partial sum initial
// (0, or a pseudo-header sum) added: the folded sum, complemented. Writing
// the result into a zeroed checksum field makes the data verify.
func Checksum(b []byte, initial uint32) uint16 {
	return ^uint16(Sum(b, initial))
}

// PseudoHeader4 returns the partial sum of the IPv4 pseudo-header (RFC 768 /
// RFC 793) for an upper-layer packet of length bytes carried in protocol.
func PseudoHeader4(src, dst [4]byte, protocol uint8, length int) uint32 {
	s := uint32(binary.BigEndian.Uint16(src[0:2])) + uint32(binary.BigEndian.Uint16(src[2:4])) +
		uint32(binary.BigEndian.Uint16(dst[0:2])) + uint32(binary.BigEndian.Uint16(dst[2:4])) +
		uint32(protocol) + uint32(length&0xffff) + uint32(length>>16)
	return Fold(s)
}

// PseudoHeader6 returns the partial sum of the IPv6 pseudo-header (RFC 8200
// section 8.1) for an upper-layer packet of length bytes with next header nh.
func PseudoHeader6(src, dst *[16]byte, nh uint8, length int) uint32 {
	return pseudoHeader6Slices(src[:], dst[:], nh, length)
}

// pseudoHeader6Slices is PseudoHeader6 over two 16-byte slices of a packet.
func pseudoHeader6Slices(src, dst []byte, nh uint8, length int) uint32 {
	var s uint64
	s += uint64(binary.BigEndian.Uint32(src[0:4])) + uint64(binary.BigEndian.Uint32(src[4:8]))
	s += uint64(binary.BigEndian.Uint32(src[8:12])) + uint64(binary.BigEndian.Uint32(src[12:16]))
	s += uint64(binary.BigEndian.Uint32(dst[0:4])) + uint64(binary.BigEndian.Uint32(dst[4:8]))
	s += uint64(binary.BigEndian.Uint32(dst[8:12])) + uint64(binary.BigEndian.Uint32(dst[12:16]))
	s += uint64(nh) + uint64(uint32(length))
	return Fold64(s)
}

// UpdateChecksum16 returns checksum updated for one 16-bit word of the
// covered data changing from oldVal to newVal, by RFC 1624 equation 3:
// HC' = ~(~HC + ~m + m'). Unlike RFC 1141's form it stays right when the
// result is 0xffff vs 0x0000, provided the covered data never sums to zero
// (true of any IP header: its version is non-zero).
func UpdateChecksum16(checksum, oldVal, newVal uint16) uint16 {
	s := uint32(^checksum) + uint32(^oldVal) + uint32(newVal)
	return ^uint16(Fold(s))
}
