package encap

import (
	"encoding/binary"
	"net/netip"
)

// Flow is what the dataplane needs from an inner IP packet.
type Flow struct {
	Version          uint8 // 4 or 6
	Src, Dst         netip.Addr
	Proto            uint8 // upper-layer protocol (after IPv6 extension headers)
	SrcPort, DstPort uint16
	TTL              uint8 // TTL or hop limit
	DF               bool  // IPv4 DF bit; always true for IPv6 (routers never fragment it)
	TotalLen         int   // IPv4 total length or 40 + IPv6 payload length
}

// maxIPv6ExtHeaders bounds the extension header walk so hostile input costs
// a fixed amount of work.
const maxIPv6ExtHeaders = 8

// ParseInner validates an inner IPv4 or IPv6 packet (version, header and
// total lengths against the buffer) and fills f. Ports are set for TCP, UDP
// and SCTP when the first 4 bytes of that header are present and the packet
// is not a non-first fragment; otherwise they are 0. The inner IPv4 header
// checksum is not verified. Never allocates; f is overwritten entirely.
func ParseInner(pkt []byte, f *Flow) DropReason {
	*f = Flow{}
	if len(pkt) == 0 {
		return DropTruncated
	}
	var l4 []byte
	switch pkt[0] >> 4 {
	case 4:
		ip := IPv4(pkt)
		if r := ip.Check(); r != DropNone {
			return r
		}
		f.Version, f.Src, f.Dst = 4, ip.Src(), ip.Dst()
		f.Proto, f.TTL, f.DF, f.TotalLen = ip.Protocol(), ip.TTL(), ip.DF(), int(ip.TotalLen())
		if ip.FragmentOffset() == 0 {
			l4 = ip.Payload()
		}
	case 6:
		ip := IPv6(pkt)
		if r := ip.Check(); r != DropNone {
			return r
		}
		f.Version, f.Src, f.Dst = 6, ip.Src(), ip.Dst()
		f.TTL, f.DF, f.TotalLen = ip.HopLimit(), true, IPv6Len+int(ip.PayloadLen())
		proto, rest, r := skipIPv6Ext(ip.NextHeader(), ip.Payload())
		if r != DropNone {
			*f = Flow{}
			return r
		}
		f.Proto, l4 = proto, rest
	default:
		return DropBadVersion
	}
	if hasPorts(f.Proto) && len(l4) >= 4 {
		f.SrcPort = binary.BigEndian.Uint16(l4[0:])
		f.DstPort = binary.BigEndian.Uint16(l4[2:])
	}
	return DropNone
}

// skipIPv6Ext walks IPv6 extension headers and returns the upper-layer
// protocol and its bytes; rest is nil after a non-first fragment header
// (ports are not there). Malformed chains are DropTruncated.
func skipIPv6Ext(nh uint8, b []byte) (proto uint8, rest []byte, r DropReason) {
	for range maxIPv6ExtHeaders {
		var n int
		switch nh {
		case ipv6ExtHopByHop, ipv6ExtRouting, ipv6ExtDestOpts:
			if len(b) < 8 {
				return 0, nil, DropTruncated
			}
			n = (int(b[1]) + 1) * 8
		case ipv6ExtAH:
			if len(b) < 8 {
				return 0, nil, DropTruncated
			}
			n = (int(b[1]) + 2) * 4
		case ipv6ExtFragment:
			if len(b) < 8 {
				return 0, nil, DropTruncated
			}
			if binary.BigEndian.Uint16(b[2:])&0xfff8 != 0 {
				return b[0], nil, DropNone
			}
			n = 8
		default:
			return nh, b, DropNone
		}
		if n > len(b) {
			return 0, nil, DropTruncated
		}
		nh, b = b[0], b[n:]
	}
	return nh, nil, DropNone
}

// DecrementTTL decrements an inner IPv4 TTL (updating the header checksum
// incrementally, RFC 1624) or IPv6 hop limit in place. When the TTL / hop
// limit is 0 or 1 it returns DropTTLExceeded and leaves the packet
// unchanged; malformed headers give DropTruncated / DropBadVersion.
func DecrementTTL(pkt []byte) DropReason {
	if len(pkt) == 0 {
		return DropTruncated
	}
	switch pkt[0] >> 4 {
	case 4:
		if len(pkt) < IPv4MinLen {
			return DropTruncated
		}
		ttl := pkt[IPv4TTLOffset]
		if ttl <= 1 {
			return DropTTLExceeded
		}
		old := binary.BigEndian.Uint16(pkt[IPv4TTLOffset:])
		pkt[IPv4TTLOffset] = ttl - 1
		sum := UpdateChecksum16(binary.BigEndian.Uint16(pkt[IPv4ChecksumOffset:]), old, old-0x100)
		binary.BigEndian.PutUint16(pkt[IPv4ChecksumOffset:], sum)
		return DropNone
	case 6:
		if len(pkt) < IPv6Len {
			return DropTruncated
		}
		if pkt[IPv6HopLimitOffset] <= 1 {
			return DropTTLExceeded
		}
		pkt[IPv6HopLimitOffset]--
		return DropNone
	}
	return DropBadVersion
}
