package encap

import "encoding/binary"

// InnerCsum says what the caller knows about the inner packet's own L4
// checksum, which decides how an IPv6 outer UDP checksum is computed.
type InnerCsum uint8

const (
	// InnerCsumUnknown: the inner checksum may be partial (NEEDS_CSUM, the
	// pseudo-header sum a local stack left for offload), absent or wrong.
	// The outer UDP checksum is summed over the whole datagram.
	InnerCsumUnknown InnerCsum = iota
	// InnerCsumComplete: the inner TCP/UDP/ICMP checksum is filled in. The
	// outer UDP checksum is then derived from it without reading the
	// payload (local checksum offload, LCO). Were the inner checksum wrong
	// after all, the outer one comes out wrong as well and the packet is
	// dropped one hop earlier than the inner checksum would have dropped it.
	InnerCsumComplete
)

// innerSumLCO returns the one's-complement sum of the whole inner IP packet
// ip (not complemented, maybe not fully folded), without reading its L4
// payload, and whether it could: ok is false unless ip is one unfragmented
// IPv4 or IPv6 packet filling ip exactly, carrying TCP, UDP (with a
// checksum), ICMP or ICMPv6 directly after the IP header.
//
// A correct L4 checksum makes pseudo-header + L4 segment sum to zero (one's
// complement), so the segment sums to -pseudo, and the packet to
// sum(IP header) - pseudo (Linux lco_csum applies the same identity).
// ICMPv4 has no pseudo-header: its message sums to zero by itself.
func innerSumLCO(ip []byte) (sum uint64, ok bool) {
	if len(ip) < IPv4MinLen {
		return 0, false
	}
	// The first 8 bytes in one load. IPv4: version and IHL, total length,
	// flags and fragment offset; IPv6: version, traffic class and flow
	// label, payload length, next header, hop limit.
	w := binary.BigEndian.Uint64(ip[0:])
	switch w >> 60 {
	case 4:
		w2 := binary.BigEndian.Uint32(ip[8:])
		if p := uint8(w2 >> 16); w>>56 == 0x45 && int(w>>32&0xffff) == len(ip) && w&(IPv4FlagMF|IPv4FragOffsetMask) == 0 &&
			(p == ProtoTCP || p == ProtoUDP) && l4Checksummed(p, ip[IPv4MinLen:]) {
			// No options, TCP or UDP: the common case in fewer branches.
			return w>>32 + w&0xffffffff + uint64(w2) + uint64(^uint16(Fold(uint32(p)+uint32(len(ip)-IPv4MinLen)))), true
		}
		hl := int(w>>56&0x0f) * 4
		if hl < IPv4MinLen || hl > len(ip) || int(w>>32&0xffff) != len(ip) || w&(IPv4FlagMF|IPv4FragOffsetMask) != 0 {
			return 0, false
		}
		proto := uint8(w2 >> 16)
		if proto == ProtoICMPv6 || !l4Checksummed(proto, ip[hl:]) {
			return 0, false
		}
		// The header's first 12 bytes and options; its addresses are also
		// the pseudo-header's and cancel out, unless ICMP has none.
		hs := w>>32 + w&0xffffffff + uint64(w2)
		for i := IPv4MinLen; i+4 <= hl; i += 4 { // options; a loop, not Sum, keeps this a leaf
			hs += uint64(binary.BigEndian.Uint32(ip[i:]))
		}
		if proto == ProtoICMP {
			return hs + uint64(binary.BigEndian.Uint32(ip[IPv4SrcOffset:])) + uint64(binary.BigEndian.Uint32(ip[IPv4DstOffset:])), true
		}
		return hs + uint64(^uint16(Fold(uint32(proto)+uint32(len(ip)-hl)))), true
	case 6:
		nh := uint8(w >> 8)
		if nh == ProtoICMP || len(ip) < IPv6Len || IPv6Len+int(w>>16&0xffff) != len(ip) || !l4Checksummed(nh, ip[IPv6Len:]) {
			return 0, false
		}
		// header - pseudo: the addresses and the payload length cancel;
		// the header's nh<<8|hop word minus the pseudo-header's nh is
		// hop + 255*nh.
		return w>>48 + w>>32&0xffff + w&0xff + 255*uint64(nh), true
	}
	return 0, false
}

// l4Checksummed reports whether seg, the whole L4 segment of protocol
// proto (ICMP over IPv4, ICMPv6 over IPv6: the callers refuse the other
// pairing), is a kind whose checksum covers exactly seg and is mandatory (a UDP
// checksum of zero means none; a UDP length short of seg leaves bytes
// uncovered).
func l4Checksummed(proto uint8, seg []byte) bool {
	switch proto {
	case ProtoTCP:
		return len(seg) >= TCPMinLen
	case ProtoUDP:
		if len(seg) < UDPLen {
			return false
		}
		w := binary.BigEndian.Uint32(seg[UDPLengthOffset:]) // length and checksum
		return int(w>>16) == len(seg) && w&0xffff != 0
	case ProtoICMP, ProtoICMPv6:
		return len(seg) >= 4
	}
	return false
}
