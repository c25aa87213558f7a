package encap

import (
	"encoding/binary"
	"net/netip"
)

// IPv6 fixed header (RFC 8200 section 3):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Version| Traffic Class |           Flow Label                  |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|         Payload Length        |  Next Header  |   Hop Limit   |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                                                               |
//	+                         Source Address                        +
//	|                          (16 bytes)                           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                                                               |
//	+                      Destination Address                      +
//	|                          (16 bytes)                           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
const (
	IPv6VersionTCFlowOffset = 0
	IPv6PayloadLenOffset    = 4
	IPv6NextHeaderOffset    = 6
	IPv6HopLimitOffset      = 7
	IPv6SrcOffset           = 8
	IPv6DstOffset           = 24
	IPv6Len                 = 40 // IPv6 fixed header length

	ipv6ExtHopByHop = 0
	ipv6ExtRouting  = 43
	ipv6ExtFragment = 44
	ipv6ExtAH       = 51
	ipv6ExtDestOpts = 60
)

// IPv6 is a view of an IPv6 fixed header and what follows it. Call Check
// before the other accessors.
type IPv6 []byte

// Check validates the version and that the payload length fits the buffer.
// A zero payload length (jumbogram) is rejected as DropBadLength.
func (b IPv6) Check() DropReason {
	if len(b) < IPv6Len {
		return DropTruncated
	}
	if b[0]>>4 != 6 {
		return DropBadVersion
	}
	pl := int(b.PayloadLen())
	if pl == 0 || IPv6Len+pl > len(b) {
		return DropBadLength
	}
	return DropNone
}

// TrafficClass returns the traffic class (DSCP and ECN).
func (b IPv6) TrafficClass() uint8 { return b[0]<<4 | b[1]>>4 }

// FlowLabel returns the 20-bit flow label.
func (b IPv6) FlowLabel() uint32 { return binary.BigEndian.Uint32(b[0:]) & 0xfffff }

// PayloadLen returns the payload length field.
func (b IPv6) PayloadLen() uint16 { return binary.BigEndian.Uint16(b[IPv6PayloadLenOffset:]) }

// NextHeader returns the next header field.
func (b IPv6) NextHeader() uint8 { return b[IPv6NextHeaderOffset] }

// HopLimit returns the hop limit.
func (b IPv6) HopLimit() uint8 { return b[IPv6HopLimitOffset] }

// Src returns the source address.
func (b IPv6) Src() netip.Addr {
	return netip.AddrFrom16([16]byte(b[IPv6SrcOffset : IPv6SrcOffset+16]))
}

// Dst returns the destination address.
func (b IPv6) Dst() netip.Addr {
	return netip.AddrFrom16([16]byte(b[IPv6DstOffset : IPv6DstOffset+16]))
}

// Payload returns the bytes after the fixed header up to the payload length.
func (b IPv6) Payload() []byte { return b[IPv6Len : IPv6Len+int(b.PayloadLen())] }

// IPv6Fields are the values Encode writes into an IPv6 fixed header.
type IPv6Fields struct {
	TrafficClass uint8
	FlowLabel    uint32
	PayloadLen   uint16
	NextHeader   uint8
	HopLimit     uint8
	Src, Dst     [16]byte
}

// Encode writes the 40-byte fixed header.
func (b IPv6) Encode(f *IPv6Fields) {
	_ = b[IPv6Len-1]
	binary.BigEndian.PutUint32(b[0:], 6<<28|uint32(f.TrafficClass)<<20|f.FlowLabel&0xfffff)
	binary.BigEndian.PutUint16(b[IPv6PayloadLenOffset:], f.PayloadLen)
	b[IPv6NextHeaderOffset] = f.NextHeader
	b[IPv6HopLimitOffset] = f.HopLimit
	copy(b[IPv6SrcOffset:IPv6SrcOffset+16], f.Src[:])
	copy(b[IPv6DstOffset:IPv6DstOffset+16], f.Dst[:])
}
