package offload

import (
	"encoding/binary"

	"github.com/podfwd/podfwd/encap"
)

// L4Checksum is what the TCP/UDP checksum of a received packet says.
type L4Checksum uint8

const (
	L4None    L4Checksum = iota // no L4 checksum to check (not TCP/UDP, UDP checksum 0, IPv6 extension headers, a fragment)
	L4Valid                     // verified
	L4Partial                   // held only the pseudo-header sum: completed in place, now valid
	L4Bad                       // wrong: the packet was corrupted
)

// CheckL4 verifies the TCP or UDP checksum of an IP packet (a decapsulated
// inner packet) and, when the sender's kernel left it partial, completes it
// in place.
//
// A partial checksum (CHECKSUM_PARTIAL, only the pseudo-header sum in the
// field) reaches us when the sender's tunnel device handed the packet to a
// link that never completed it: veth pairs, or two VMs on one host over
// virtio-net. The kernel's own VXLAN receive path repairs that from skb
// metadata we never see, so we recognise the pattern instead. Verifying
// here is not extra work: the caller tells the kernel the checksum is
// valid (virtio DATA_VALID), so it does not verify again.
func CheckL4(pkt []byte) L4Checksum {
	if len(pkt) < encap.IPv4MinLen {
		return L4None
	}
	var (
		l4      []byte
		proto   uint8
		addrs   int // offset of the source and destination addresses
		addrLen int // bytes of both
	)
	switch pkt[0] >> 4 {
	case 4:
		ihl := int(pkt[0]&0x0f) * 4
		if ihl < encap.IPv4MinLen || len(pkt) < ihl ||
			binary.BigEndian.Uint16(pkt[encap.IPv4FlagsFragOffset:])&(encap.IPv4FlagMF|encap.IPv4FragOffsetMask) != 0 {
			return L4None // fragments are checked after reassembly, by the pod
		}
		proto, l4, addrs, addrLen = pkt[encap.IPv4ProtocolOffset], pkt[ihl:], encap.IPv4SrcOffset, 8
	case 6:
		if len(pkt) < encap.IPv6Len {
			return L4None
		}
		proto, l4, addrs, addrLen = pkt[encap.IPv6NextHeaderOffset], pkt[encap.IPv6Len:], encap.IPv6SrcOffset, 32
	default:
		return L4None
	}
	var off int
	switch proto {
	case encap.ProtoTCP:
		off = encap.TCPChecksumOffset
	case encap.ProtoUDP:
		off = encap.UDPChecksumOffset
	default:
		return L4None
	}
	if len(l4) < off+2 {
		return L4None
	}
	field := binary.BigEndian.Uint16(l4[off:])
	if proto == encap.ProtoUDP && field == 0 && pkt[0]>>4 == 4 {
		return L4None // IPv4 UDP without checksum
	}
	// The addresses of the pseudo-header are the header's own bytes, and
	// without IPv4 options they run straight into the L4 header: one pass
	// sums both (the protocol and length words come in as the initial
	// sum). A one's-complement sum is the same however its words are
	// grouped, so this equals the pseudo-header sum plus the segment sum.
	lenProto := uint32(proto) + uint32(len(l4))
	var sum uint32
	if len(pkt)-len(l4) == addrs+addrLen {
		sum = encap.Sum(pkt[addrs:], lenProto)
	} else { // IPv4 options lie between
		sum = encap.Sum(l4, encap.Sum(pkt[addrs:addrs+addrLen], lenProto))
	}
	if sum == 0xffff {
		return L4Valid
	}
	pseudo := encap.Sum(pkt[addrs:addrs+addrLen], lenProto)
	if uint32(field) == pseudo {
		// The field holds the pseudo-header sum, so the sum over the
		// segment as it is already includes it: take the pseudo-header
		// out again (one's-complement subtraction).
		c := ^uint16(encap.Fold(sum + 0xffff - pseudo))
		if proto == encap.ProtoUDP && c == 0 {
			c = 0xffff
		}
		binary.BigEndian.PutUint16(l4[off:], c)
		return L4Partial
	}
	return L4Bad
}
