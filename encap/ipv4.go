package encap

import (
	"encoding/binary"
	"net/netip"
)

// IPv4 header (RFC 791 section 3.1):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Version|  IHL  |Type of Service|          Total Length         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|         Identification        |Flags|      Fragment Offset    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Time to Live |    Protocol   |         Header Checksum       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                       Source Address                          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Destination Address                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Options                    |    Padding    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The TOS byte is DSCP (6 bits) and ECN (2 bits) since RFC 2474 / RFC 3168.
const (
	IPv4VersionIHLOffset = 0
	IPv4TOSOffset        = 1
	IPv4TotalLenOffset   = 2
	IPv4IDOffset         = 4
	IPv4FlagsFragOffset  = 6
	IPv4TTLOffset        = 8
	IPv4ProtocolOffset   = 9
	IPv4ChecksumOffset   = 10
	IPv4SrcOffset        = 12
	IPv4DstOffset        = 16
	IPv4MinLen           = 20    // IPv4 header without options
	IPv4MaxLen           = 65535 // largest IPv4 packet the Total Length field can describe

	// Bits of the 16-bit word at IPv4FlagsFragOffset.
	IPv4FlagDF         = 0x4000 // don't fragment
	IPv4FlagMF         = 0x2000 // more fragments
	IPv4FragOffsetMask = 0x1fff // fragment offset in 8-byte units
)

// IP protocol numbers used here.
const (
	ProtoICMP   = 1
	ProtoIPIP   = 4 // IPv4 encapsulation
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoIPv6   = 41 // IPv6 encapsulation
	ProtoICMPv6 = 58
	ProtoSCTP   = 132
)

// IPv4 is a view of an IPv4 header and what follows it. Call Check before
// the other accessors; after DropNone they do not go out of bounds.
type IPv4 []byte

// Check validates version, header length and total length against the
// buffer (not the checksum: see ChecksumValid).
func (b IPv4) Check() DropReason {
	if len(b) < IPv4MinLen {
		return DropTruncated
	}
	if b[0]>>4 != 4 {
		return DropBadVersion
	}
	hl := b.HeaderLen()
	if hl < IPv4MinLen {
		return DropBadHeaderLength
	}
	if hl > len(b) {
		return DropTruncated
	}
	tl := int(b.TotalLen())
	if tl < hl || tl > len(b) {
		return DropBadLength
	}
	return DropNone
}

// HeaderLen returns the header length in bytes (IHL * 4).
func (b IPv4) HeaderLen() int { return int(b[IPv4VersionIHLOffset]&0x0f) * 4 }

// TOS returns the DSCP and ECN byte.
func (b IPv4) TOS() uint8 { return b[IPv4TOSOffset] }

// TotalLen returns the total length field.
func (b IPv4) TotalLen() uint16 { return binary.BigEndian.Uint16(b[IPv4TotalLenOffset:]) }

// ID returns the identification field.
func (b IPv4) ID() uint16 { return binary.BigEndian.Uint16(b[IPv4IDOffset:]) }

// DF reports whether the Don't Fragment flag is set.
func (b IPv4) DF() bool { return binary.BigEndian.Uint16(b[IPv4FlagsFragOffset:])&IPv4FlagDF != 0 }

// IsFragment reports whether MF is set or the fragment offset is non-zero.
func (b IPv4) IsFragment() bool {
	return binary.BigEndian.Uint16(b[IPv4FlagsFragOffset:])&(IPv4FlagMF|IPv4FragOffsetMask) != 0
}

// FragmentOffset returns the fragment offset in 8-byte units.
func (b IPv4) FragmentOffset() uint16 {
	return binary.BigEndian.Uint16(b[IPv4FlagsFragOffset:]) & IPv4FragOffsetMask
}

// TTL returns the time to live.
func (b IPv4) TTL() uint8 { return b[IPv4TTLOffset] }

// Protocol returns the payload's IP protocol number.
func (b IPv4) Protocol() uint8 { return b[IPv4ProtocolOffset] }

// HeaderChecksum returns the header checksum field.
func (b IPv4) HeaderChecksum() uint16 { return binary.BigEndian.Uint16(b[IPv4ChecksumOffset:]) }

// ChecksumValid reports whether the header (options included) sums to
// all-ones, i.e. the header checksum is right.
func (b IPv4) ChecksumValid() bool { return headerSum4(b[:b.HeaderLen()]) == 0xffff }

// headerSum4 is Sum for an IPv4 header, with the common 20-byte case
// unrolled: it runs on every packet encapsulated or decapsulated.
func headerSum4(h []byte) uint32 {
	if len(h) != IPv4MinLen {
		return Sum(h, 0)
	}
	s := uint64(binary.BigEndian.Uint32(h[0:])) + uint64(binary.BigEndian.Uint32(h[4:])) +
		uint64(binary.BigEndian.Uint32(h[8:])) + uint64(binary.BigEndian.Uint32(h[12:])) +
		uint64(binary.BigEndian.Uint32(h[16:]))
	return Fold64(s)
}

// Src returns the source address.
func (b IPv4) Src() netip.Addr { return netip.AddrFrom4([4]byte(b[IPv4SrcOffset : IPv4SrcOffset+4])) }

// Dst returns the destination address.
func (b IPv4) Dst() netip.Addr { return netip.AddrFrom4([4]byte(b[IPv4DstOffset : IPv4DstOffset+4])) }

// Payload returns the bytes after the header up to the total length.
func (b IPv4) Payload() []byte { return b[b.HeaderLen():b.TotalLen()] }

// IPv4Fields are the values Encode writes into a 20-byte IPv4 header.
type IPv4Fields struct {
	TOS      uint8
	TotalLen uint16
	ID       uint16
	DF       bool
	TTL      uint8
	Protocol uint8
	Src, Dst [4]byte
}

// Encode writes a 20-byte header (no options) with a correct checksum.
func (b IPv4) Encode(f *IPv4Fields) {
	encodeIPv4(b, f.TOS, f.TotalLen, f.ID, f.DF, f.TTL, f.Protocol,
		binary.BigEndian.Uint32(f.Src[:]), binary.BigEndian.Uint32(f.Dst[:]))
}

// encodeIPv4 writes a 20-byte header, summing the checksum from the words
// being written rather than re-reading memory: it runs once per
// encapsulated packet, so it takes scalars, not a struct to fill.
func encodeIPv4(b []byte, tos uint8, totalLen, id uint16, df bool, ttl, proto uint8, src, dst uint32) {
	_ = b[IPv4MinLen-1]
	w0 := 0x45<<24 | uint32(tos)<<16 | uint32(totalLen)
	w1 := uint32(id) << 16
	if df {
		w1 |= IPv4FlagDF
	}
	w2 := uint32(ttl)<<24 | uint32(proto)<<16
	sum := Fold64(uint64(w0) + uint64(w1) + uint64(w2) + uint64(src) + uint64(dst))
	w2 |= uint32(^uint16(sum))
	binary.BigEndian.PutUint32(b[0:], w0)
	binary.BigEndian.PutUint32(b[4:], w1)
	binary.BigEndian.PutUint32(b[8:], w2)
	binary.BigEndian.PutUint32(b[IPv4SrcOffset:], src)
	binary.BigEndian.PutUint32(b[IPv4DstOffset:], dst)
}
