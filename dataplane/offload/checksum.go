package offload

import (
	"encoding/binary"

	"github.com/podfwd/podfwd/encap"
)

// The Internet checksum (RFC 1071) is a ones'-complement sum of 16-bit
// words. Because 2^16 ≡ 1 (mod 2^16-1), words may be added in any lane of a
// wider accumulator and folded at the end, so we add 64 bits at a time with
// end-around carry and fold once. Every slice handed to sumBytes is taken to
// start on a 16-bit boundary of the checksummed stream.

// sumBytes adds the bytes of b to the unfolded accumulator acc. The sum
// itself is encap's (one implementation of RFC 1071 in the project, tuned
// there); a folded 16-bit sum added to a wider accumulator is still the
// same ones'-complement sum.
func sumBytes(b []byte, acc uint64) uint64 {
	return acc + uint64(encap.Sum(b, 0))
}

// foldSum reduces an accumulator to the 16-bit ones'-complement sum (not
// yet complemented).
func foldSum(acc uint64) uint16 {
	for acc > 0xffff {
		acc = acc>>16 + acc&0xffff
	}
	return uint16(acc)
}

// pseudoHeaderSum returns the unfolded sum of the TCP/UDP pseudo-header for
// IPv4 (4-byte addresses) or IPv6 (16-byte addresses): source, destination,
// protocol and upper-layer length (RFC 793, RFC 768, RFC 8200 §8.1).
func pseudoHeaderSum(src, dst []byte, proto uint8, l4Len int) uint64 {
	acc := sumBytes(src, uint64(proto)+uint64(l4Len))
	return sumBytes(dst, acc)
}

// l4ChecksumValid reports whether the TCP or UDP checksum of the segment
// starting at pkt[ipHdrLen:] verifies against its pseudo-header.
func l4ChecksumValid(pkt []byte, ipHdrLen int, v6 bool, proto uint8) bool {
	src, dst := ipAddrs(pkt, v6)
	acc := pseudoHeaderSum(src, dst, proto, len(pkt)-ipHdrLen)
	return foldSum(sumBytes(pkt[ipHdrLen:], acc)) == 0xffff
}

// putIPv4HeaderChecksum recomputes the header checksum of the IPv4 header h.
func putIPv4HeaderChecksum(h []byte) {
	h[encap.IPv4ChecksumOffset], h[encap.IPv4ChecksumOffset+1] = 0, 0
	binary.BigEndian.PutUint16(h[encap.IPv4ChecksumOffset:], ^foldSum(sumBytes(h, 0)))
}

// ipAddrs returns the source and destination address bytes of an IPv4 or
// IPv6 header already known to be long enough.
func ipAddrs(pkt []byte, v6 bool) (src, dst []byte) {
	if v6 {
		return pkt[encap.IPv6SrcOffset : encap.IPv6SrcOffset+16], pkt[encap.IPv6DstOffset : encap.IPv6DstOffset+16]
	}
	return pkt[encap.IPv4SrcOffset : encap.IPv4SrcOffset+4], pkt[encap.IPv4DstOffset : encap.IPv4DstOffset+4]
}
