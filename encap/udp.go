package encap

import "encoding/binary"

// UDP header (RFC 768):
//
//	 0      7 8     15 16    23 24    31
//	+--------+--------+--------+--------+
//	|     Source      |   Destination   |
//	|      Port       |      Port       |
//	+--------+--------+--------+--------+
//	|                 |                 |
//	|     Length      |    Checksum     |
//	+--------+--------+--------+--------+
const (
	UDPSrcPortOffset  = 0
	UDPDstPortOffset  = 2
	UDPLengthOffset   = 4
	UDPChecksumOffset = 6
	UDPLen            = 8 // UDP header length
)

// UDP is a view of a UDP header and its payload; check len(b) >= UDPLen
// before calling accessors.
type UDP []byte

// SrcPort returns the source port.
func (b UDP) SrcPort() uint16 { return binary.BigEndian.Uint16(b[UDPSrcPortOffset:]) }

// DstPort returns the destination port.
func (b UDP) DstPort() uint16 { return binary.BigEndian.Uint16(b[UDPDstPortOffset:]) }

// Length returns the length field (header plus payload).
func (b UDP) Length() uint16 { return binary.BigEndian.Uint16(b[UDPLengthOffset:]) }

// Checksum returns the checksum field (0 means none, allowed over IPv4 and,
// by RFC 6935, for tunnels over IPv6).
func (b UDP) Checksum() uint16 { return binary.BigEndian.Uint16(b[UDPChecksumOffset:]) }

// Encode writes the header with a zero checksum.
func (b UDP) Encode(src, dst, length uint16) {
	_ = b[UDPLen-1]
	binary.BigEndian.PutUint16(b[UDPSrcPortOffset:], src)
	binary.BigEndian.PutUint16(b[UDPDstPortOffset:], dst)
	binary.BigEndian.PutUint16(b[UDPLengthOffset:], length)
	b[UDPChecksumOffset], b[UDPChecksumOffset+1] = 0, 0
}

// SetChecksum stores the checksum of b (header plus payload, length from
// len(b)) over the given pseudo-header sum; a computed 0 is sent as 0xffff
// because 0 means "no checksum" (RFC 768).
func (b UDP) SetChecksum(pseudo uint32) {
	b[UDPChecksumOffset], b[UDPChecksumOffset+1] = 0, 0
	c := Checksum(b, pseudo)
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(b[UDPChecksumOffset:], c)
}
