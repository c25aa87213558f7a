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
	if len(pkt) < 20 {
		return L4None
	}
	var (
		l4     []byte
		proto  uint8
		pseudo uint32
	)
	switch pkt[0] >> 4 {
	case 4:
		ihl := int(pkt[0]&0x0f) * 4
		if ihl < 20 || len(pkt) < ihl || binary.BigEndian.Uint16(pkt[6:])&0x3fff != 0 {
			return L4None // fragments are checked after reassembly, by the pod
		}
		proto, l4 = pkt[9], pkt[ihl:]
		pseudo = encap.PseudoHeader4([4]byte(pkt[12:16]), [4]byte(pkt[16:20]), proto, len(l4))
	case 6:
		if len(pkt) < 40 {
			return L4None
		}
		proto, l4 = pkt[6], pkt[40:]
		pseudo = encap.PseudoHeader6((*[16]byte)(pkt[8:24]), (*[16]byte)(pkt[24:40]), proto, len(l4))
	default:
		return L4None
	}
	var off int
	switch proto {
	case 6: // TCP
		off = 16
	case 17: // UDP
		off = 6
	default:
		return L4None
	}
	if len(l4) < off+2 {
		return L4None
	}
	field := binary.BigEndian.Uint16(l4[off:])
	if proto == 17 && field == 0 && pkt[0]>>4 == 4 {
		return L4None // IPv4 UDP without checksum
	}
	sum := encap.Sum(l4, 0)
	if encap.Fold(sum+pseudo) == 0xffff {
		return L4Valid
	}
	if uint32(field) == encap.Fold(pseudo) {
		// The field holds the pseudo-header sum, so the sum over the
		// segment as it is already includes it.
		c := ^uint16(encap.Fold(sum))
		if proto == 17 && c == 0 {
			c = 0xffff
		}
		binary.BigEndian.PutUint16(l4[off:], c)
		return L4Partial
	}
	return L4Bad
}
