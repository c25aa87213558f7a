package encap

import "encoding/binary"

// Ethernet II header (IEEE 802.3, no VLAN tag):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Destination MAC Address                    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|   Destination (cont.)         |      Source MAC Address       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                     Source MAC (cont.)                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|           EtherType           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
const (
	EthernetDstOffset  = 0
	EthernetSrcOffset  = 6
	EthernetTypeOffset = 12
	EthernetLen        = 14     // Ethernet II header length
	EtherTypeIPv4      = 0x0800 // EtherType of IPv4
	EtherTypeIPv6      = 0x86DD // EtherType of IPv6
	EtherTypeVLAN      = 0x8100 // IEEE 802.1Q tag: 2 bytes of TCI, then the real EtherType
	EtherTypeTEB       = 0x6558 // Transparent Ethernet Bridging: Geneve protocol type for an Ethernet payload
)

// Ethernet is a view of an Ethernet II header; check len(b) >= EthernetLen
// (or use Valid) before calling accessors.
type Ethernet []byte

// Valid reports whether b is long enough to hold the header.
func (b Ethernet) Valid() bool { return len(b) >= EthernetLen }

// Dst returns the destination MAC address.
func (b Ethernet) Dst() (m [6]byte) { copy(m[:], b[EthernetDstOffset:EthernetDstOffset+6]); return }

// Src returns the source MAC address.
func (b Ethernet) Src() (m [6]byte) { copy(m[:], b[EthernetSrcOffset:EthernetSrcOffset+6]); return }

// EtherType returns the EtherType field.
func (b Ethernet) EtherType() uint16 { return binary.BigEndian.Uint16(b[EthernetTypeOffset:]) }

// Encode writes the header into b[:EthernetLen].
func (b Ethernet) Encode(dst, src [6]byte, etherType uint16) {
	_ = b[EthernetLen-1]
	copy(b[EthernetDstOffset:], dst[:])
	copy(b[EthernetSrcOffset:], src[:])
	binary.BigEndian.PutUint16(b[EthernetTypeOffset:], etherType)
}

// PrependEthernet writes an Ethernet header into buf[start-14:start] and
// returns the new start, or DropNoHeadroom when start < 14 (or start is
// beyond buf). The packet bytes after start are not touched.
func PrependEthernet(buf []byte, start int, dst, src [6]byte, etherType uint16) (newStart int, r DropReason) {
	if start < EthernetLen || start > len(buf) {
		return start, DropNoHeadroom
	}
	start -= EthernetLen
	Ethernet(buf[start:]).Encode(dst, src, etherType)
	return start, DropNone
}

// etherTypeForVersion maps an IP version nibble to its EtherType, 0 if none.
func etherTypeForVersion(v byte) uint16 {
	switch v {
	case 4:
		return EtherTypeIPv4
	case 6:
		return EtherTypeIPv6
	}
	return 0
}
