package encap

import "encoding/binary"

// VXLAN header (RFC 7348 section 5):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|R|R|R|R|I|R|R|R|            Reserved                           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                VXLAN Network Identifier (VNI) |   Reserved    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The payload is an Ethernet frame.
const (
	vxlanFlags  = 0
	vxlanVNI    = 4
	VXLANLen    = 8    // VXLAN header length
	VXLANFlagI  = 0x08 // "VNI valid" flag; the only flag RFC 7348 defines
	MaxVNI      = 1<<24 - 1
	vxlanFlagsW = uint32(VXLANFlagI) << 24 // the whole first word as we send it
)

// VXLAN is a view of a VXLAN header and its payload; check len(b) >=
// VXLANLen before calling accessors.
type VXLAN []byte

// Flags returns the first 32-bit word: flags byte and 24 reserved bits.
func (b VXLAN) Flags() uint32 { return binary.BigEndian.Uint32(b[vxlanFlags:]) }

// FlagsValid reports whether the I flag is set and every other flag and
// reserved bit of the first word is clear. Like Linux, we refuse unknown
// flags rather than ignore them: a peer using an extension we do not speak
// (GBP, GPE) would otherwise be misread. The reserved byte after the VNI is
// ignored, as RFC 7348 says.
func (b VXLAN) FlagsValid() bool { return b.Flags() == vxlanFlagsW }

// VNI returns the 24-bit VXLAN network identifier.
func (b VXLAN) VNI() uint32 { return binary.BigEndian.Uint32(b[vxlanVNI:]) >> 8 }

// Payload returns the inner Ethernet frame.
func (b VXLAN) Payload() []byte { return b[VXLANLen:] }

// Encode writes the header with the I flag and vni (low 24 bits).
func (b VXLAN) Encode(vni uint32) {
	_ = b[VXLANLen-1]
	binary.BigEndian.PutUint32(b[vxlanFlags:], vxlanFlagsW)
	binary.BigEndian.PutUint32(b[vxlanVNI:], vni<<8)
}
