package trace

import (
	"encoding/binary"
	"net/netip"

	"github.com/podfwd/podfwd/encap"
)

// addr is an IP address as two integers, so that a filter compares it with
// a mask and an equality instead of building a netip.Addr per packet. An
// IPv4 address sits in the low 32 bits of lo; the layer's or the
// primitive's version tells the families apart.
type addr struct{ hi, lo uint64 }

func (a addr) masked(m addr) addr { return addr{a.hi & m.hi, a.lo & m.lo} }

// addrOf converts a (unmapped: an IPv4 address is an IPv4 primitive).
func addrOf(a netip.Addr) (addr, uint8) {
	if a.Is4() {
		b := a.As4()
		return addr{lo: uint64(binary.BigEndian.Uint32(b[:]))}, 4
	}
	b := a.As16()
	return addr{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}, 6
}

// maskOf is the mask of a prefix of bits bits in family ver.
func maskOf(bits int, ver uint8) addr {
	if ver == 4 {
		return addr{lo: uint64(^uint32(0) << (32 - bits))}
	}
	if bits <= 64 {
		return addr{hi: ^uint64(0) << (64 - bits)}
	}
	return addr{hi: ^uint64(0), lo: ^uint64(0) << (128 - bits)}
}

// layer is the part of an IP header a filter looks at. It holds exactly
// what encap.ParseInner would report (ports are 0 where it finds none),
// read straight from the bytes.
type layer struct {
	ver, proto   uint8
	sport, dport uint16
	hdrLen       int // IP header length, IPv4 options included
	src, dst     addr
}

// parseLayer fills l from the IP packet pkt; it reports false for the
// packets encap.ParseInner refuses.
func parseLayer(pkt []byte, l *layer) bool {
	if len(pkt) == 0 {
		return false
	}
	var l4 []byte
	switch pkt[0] >> 4 {
	case 4:
		ip := encap.IPv4(pkt)
		if ip.Check() != encap.DropNone {
			return false
		}
		l.ver, l.proto, l.hdrLen = 4, ip.Protocol(), ip.HeaderLen()
		l.src = addr{lo: uint64(binary.BigEndian.Uint32(pkt[encap.IPv4SrcOffset:]))}
		l.dst = addr{lo: uint64(binary.BigEndian.Uint32(pkt[encap.IPv4DstOffset:]))}
		if ip.FragmentOffset() == 0 {
			l4 = ip.Payload()
		}
	case 6:
		ip := encap.IPv6(pkt)
		if ip.Check() != encap.DropNone {
			return false
		}
		l.ver, l.proto, l.hdrLen = 6, ip.NextHeader(), encap.IPv6Len
		l.src = addr{binary.BigEndian.Uint64(pkt[encap.IPv6SrcOffset:]), binary.BigEndian.Uint64(pkt[encap.IPv6SrcOffset+8:])}
		l.dst = addr{binary.BigEndian.Uint64(pkt[encap.IPv6DstOffset:]), binary.BigEndian.Uint64(pkt[encap.IPv6DstOffset+8:])}
		if isIPv6Ext(l.proto) {
			// Extension headers are rare: let encap walk them.
			var f encap.Flow
			if encap.ParseInner(pkt, &f) != encap.DropNone {
				return false
			}
			l.proto, l.sport, l.dport = f.Proto, f.SrcPort, f.DstPort
			return true
		}
		l4 = ip.Payload()
	default:
		return false
	}
	l.sport, l.dport = 0, 0
	if hasPorts(l.proto) && len(l4) >= 4 {
		l.sport = binary.BigEndian.Uint16(l4[0:])
		l.dport = binary.BigEndian.Uint16(l4[2:])
	}
	return true
}

// isIPv6Ext says whether an IPv6 next header is one encap.ParseInner skips
// (hop-by-hop, routing, fragment, AH, destination options).
func isIPv6Ext(nh uint8) bool { return nh == 0 || nh == 43 || nh == 44 || nh == 51 || nh == 60 }
