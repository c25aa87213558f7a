package linuxio

import (
	"encoding/binary"
	"net/netip"
)

// Minimal IPv4/UDP/TCP builders for the TUN and raw IP tests; gopacket
// would do, but these few lines keep the checksums' conventions explicit.

func sum16(b []byte, acc uint32) uint32 {
	for len(b) >= 2 {
		acc += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint32(b[0]) << 8
	}
	return acc
}

func fold(acc uint32) uint16 {
	for acc > 0xffff {
		acc = acc>>16 + acc&0xffff
	}
	return uint16(acc)
}

// pseudoSum is the IPv4 pseudo-header sum for an L4 segment of length l.
func pseudoSum(src, dst netip.Addr, proto uint8, l int) uint32 {
	s, d := src.As4(), dst.As4()
	return sum16(s[:], sum16(d[:], uint32(proto)+uint32(l)))
}

// ipv4Header builds a 20-byte IPv4 header with a valid checksum.
func ipv4Header(src, dst netip.Addr, proto uint8, totalLen int) []byte {
	h := make([]byte, 20)
	h[0] = 0x45
	binary.BigEndian.PutUint16(h[2:], uint16(totalLen))
	h[6] = 0x40 // DF
	h[8] = 64
	h[9] = proto
	s, d := src.As4(), dst.As4()
	copy(h[12:], s[:])
	copy(h[16:], d[:])
	binary.BigEndian.PutUint16(h[10:], ^fold(sum16(h, 0)))
	return h
}

// ipv4UDP builds an IPv4/UDP packet with complete checksums.
func ipv4UDP(src, dst netip.AddrPort, payload []byte) []byte {
	u := make([]byte, 8+len(payload))
	binary.BigEndian.PutUint16(u[0:], src.Port())
	binary.BigEndian.PutUint16(u[2:], dst.Port())
	binary.BigEndian.PutUint16(u[4:], uint16(len(u)))
	copy(u[8:], payload)
	c := ^fold(sum16(u, pseudoSum(src.Addr(), dst.Addr(), 17, len(u))))
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(u[6:], c)
	return append(ipv4Header(src.Addr(), dst.Addr(), 17, 20+len(u)), u...)
}

// l4ChecksumOK verifies the TCP/UDP checksum of an IPv4 packet with a
// 20-byte header.
func l4ChecksumOK(pkt []byte) bool {
	src := netip.AddrFrom4([4]byte(pkt[12:16]))
	dst := netip.AddrFrom4([4]byte(pkt[16:20]))
	l4 := pkt[20:]
	return fold(sum16(l4, pseudoSum(src, dst, pkt[9], len(l4)))) == 0xffff
}

// completePartialCsum finishes a NEEDS_CSUM checksum as a NIC would: sum
// from start to the end, complement, store at start+offset.
func completePartialCsum(pkt []byte, start, offset int) {
	at := start + offset
	binary.BigEndian.PutUint16(pkt[at:], ^fold(sum16(pkt[start:], 0)))
}
