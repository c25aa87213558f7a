package encap

import (
	"encoding/binary"
	"net/netip"
	"sync/atomic"
)

// Outer is the outer IP addressing of one tunnel (our underlay address and
// the peer's), both IPv4 or both IPv6. It also carries the IPv4
// Identification counter used for packets sent without DF, so keep one
// Outer per peer for its lifetime and pass it by pointer; it is safe for
// concurrent use.
type Outer struct {
	Src, Dst netip.Addr
	ipID     atomic.Uint32 // next IPv4 Identification; lock-free per peer
}

// innerQoS returns the inner packet's DSCP+ECN byte and whether its DF is
// effectively set (always for IPv6, which routers never fragment).
func innerQoS(inner []byte) (tos uint8, df bool, nh uint8, r DropReason) {
	if len(inner) == 0 {
		return 0, false, 0, DropTruncated
	}
	switch inner[0] >> 4 {
	case 4:
		if len(inner) < IPv4MinLen {
			return 0, false, 0, DropTruncated
		}
		return inner[IPv4TOSOffset], IPv4(inner).DF(), ProtoIPIP, DropNone
	case 6:
		if len(inner) < 2 {
			return 0, false, 0, DropTruncated
		}
		return IPv6(inner).TrafficClass(), true, ProtoIPv6, DropNone
	}
	return 0, false, 0, DropUnsupportedInner
}

// PrependOuter writes the outer headers in front of buf[start:end], which
// already holds the tunnel payload from PrependTunnel: a UDP header for
// VXLAN/Geneve, then an outer IPv4 or IPv6 header chosen by o's addresses.
// inner is the inner IP packet (read for DSCP/ECN per RFC 6040 normal mode
// and for DF); flowHash is FlowHash(inner), used for the UDP source port and
// the IPv6 flow label. Returns the new start (outer IP header first) or a
// drop reason: DropTruncated, DropUnsupportedInner, DropNoHeadroom,
// DropBadLength (over 65535 bytes), DropBadVersion (o's addresses are not
// both IPv4 or both IPv6), DropNotTunnel (bad Kind).
func PrependOuter(buf []byte, start, end int, p *Params, o *Outer, inner []byte, flowHash uint32) (newStart int, r DropReason) {
	if start < 0 || start > end || end > len(buf) {
		return start, DropTruncated
	}
	tos, df, proto, r := innerQoS(inner)
	if r != DropNone {
		return start, r
	}
	switch p.DF {
	case DFSet:
		df = true
	case DFClear:
		df = false
	}
	udp := false
	switch p.Kind {
	case KindVXLAN, KindGeneve:
		udp, proto = true, ProtoUDP
	case KindIPIP:
	default:
		return start, DropNotTunnel
	}
	s := start
	switch {
	case o.Src.Is4() && o.Dst.Is4():
		need := IPv4MinLen
		if udp {
			need += UDPLen
		}
		if start < need {
			return start, DropNoHeadroom
		}
		if end-start+need > 0xffff {
			return start, DropBadLength
		}
		if udp {
			// Zero checksum over IPv4 (RFC 7348 / RFC 8926 allow it) as
			// the kernel's tunnels do by default.
			s -= UDPLen
			UDP(buf[s:start]).Encode(SourcePort(flowHash, p.SrcPortMin, p.SrcPortMax), p.dstPort(), uint16(end-s))
		}
		// Identification only matters for reassembly. A DF packet is never
		// fragmented and RFC 6864 4.1 lets its ID be any value, so it gets
		// one from the flow hash; only a fragmentable packet pays for the
		// atomic per-peer counter that keeps IDs of its fragments apart.
		id := uint16(flowHash)
		if !df {
			id = uint16(o.ipID.Add(1))
		}
		s -= IPv4MinLen
		src, dst := o.Src.As4(), o.Dst.As4()
		encodeIPv4(buf[s:start], tos, uint16(end-s), id, df, p.ttl(), proto,
			binary.BigEndian.Uint32(src[:]), binary.BigEndian.Uint32(dst[:]))
		return s, DropNone
	case o.Src.Is6() && o.Dst.Is6() && !o.Src.Is4In6() && !o.Dst.Is4In6():
		need := IPv6Len
		if udp {
			need += UDPLen
		}
		if start < need {
			return start, DropNoHeadroom
		}
		if end-start+need-IPv6Len > 0xffff {
			return start, DropBadLength
		}
		s -= need
		h := IPv6(buf[s:start])
		// Header first: the UDP checksum below reads its addresses.
		binary.BigEndian.PutUint32(h[0:], 6<<28|uint32(tos)<<20|flowLabel(flowHash))
		binary.BigEndian.PutUint16(h[IPv6PayloadLenOffset:], uint16(end-s-IPv6Len))
		h[IPv6NextHeaderOffset], h[IPv6HopLimitOffset] = proto, p.ttl()
		src, dst := o.Src.As16(), o.Dst.As16()
		copy(h[IPv6SrcOffset:IPv6SrcOffset+16], src[:])
		copy(h[IPv6DstOffset:IPv6DstOffset+16], dst[:])
		if udp {
			u := UDP(buf[s+IPv6Len : end])
			u.Encode(SourcePort(flowHash, p.SrcPortMin, p.SrcPortMax), p.dstPort(), uint16(len(u)))
			if !p.ZeroUDPChecksum6 {
				u.SetChecksum(pseudoHeader6Slices(h[IPv6SrcOffset:IPv6SrcOffset+16], h[IPv6DstOffset:IPv6DstOffset+16], ProtoUDP, len(u)))
			}
		}
		return s, DropNone
	}
	return start, DropBadVersion
}
