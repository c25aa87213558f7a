package encap

import (
	"encoding/binary"
	"net/netip"
)

// ICMP errors a tunnel endpoint sends back towards an inner packet's source.
// Layout of both ICMPv4 (RFC 792) and ICMPv6 (RFC 4443) error messages:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Type      |     Code      |          Checksum             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|   rest: unused / next-hop MTU (v4, low 16 bits) / MTU (v6)    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|      as much of the invoking packet as allowed (see below)    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
const (
	icmpType     = 0
	icmpCode     = 1
	icmpChecksum = 2
	icmpRest     = 4
	ICMPHdrLen   = 8

	ICMPv4TypeDestUnreachable = 3
	ICMPv4CodeFragNeeded      = 4
	ICMPv4TypeTimeExceeded    = 11
	ICMPv6TypePacketTooBig    = 2
	ICMPv6TypeTimeExceeded    = 3

	// icmpv4MaxLen: RFC 1812 4.3.2.3 allows quoting up to 576 bytes total.
	icmpv4MaxLen = 576
	// icmpv6MaxLen: RFC 4443 2.4(c) says as much as fits in the minimum MTU.
	icmpv6MaxLen = 1280
	// ICMPErrorTTL is the TTL / hop limit of the errors we originate.
	ICMPErrorTTL = 64
	// icmpv4TOS is precedence "internetwork control", as Linux sends errors.
	icmpv4TOS = 0xc0
)

// BuildFragNeeded4 writes into dst an IPv4 packet from src to orig's source
// carrying ICMP destination unreachable / fragmentation needed (type 3 code
// 4) with next-hop MTU mtu (68..65535), quoting orig's header and as much of
// its data as fits in 576 bytes and in dst (at least header + 8 bytes, or
// all of a shorter orig). It returns the bytes written, or 0 when no error
// may or can be sent: orig not a valid IPv4 header, a non-first fragment, an
// ICMP error itself, from an unspecified/multicast/broadcast source; src not
// IPv4; mtu out of range; dst too small. dst must not overlap orig. Never
// allocates.
func BuildFragNeeded4(dst []byte, orig []byte, src netip.Addr, mtu int) int {
	if mtu < 68 || mtu > 0xffff {
		return 0
	}
	return buildICMPv4(dst, orig, src, ICMPv4TypeDestUnreachable, ICMPv4CodeFragNeeded, uint32(mtu))
}

// BuildPacketTooBig6 writes into dst an IPv6 packet from src to orig's source
// carrying ICMPv6 packet too big (type 2) with MTU mtu (at least 1280),
// quoting as much of orig as fits in 1280 bytes and in dst. It returns the
// bytes written, or 0 when no error may or can be sent (orig not IPv6, an
// ICMPv6 error itself, from an unspecified or multicast source; src not
// IPv6; mtu < 1280; dst smaller than 48 + 40 bytes). dst must not overlap
// orig. Never allocates.
func BuildPacketTooBig6(dst []byte, orig []byte, src netip.Addr, mtu int) int {
	if mtu < icmpv6MaxLen || int64(mtu) > 0xffffffff {
		return 0
	}
	return buildICMPv6(dst, orig, src, ICMPv6TypePacketTooBig, 0, uint32(mtu))
}

// BuildTimeExceeded writes into dst an ICMPv4 time exceeded (11/0) or ICMPv6
// time exceeded (3/0) from src to orig's source, by orig's IP version, with
// the same quoting and refusal rules as BuildFragNeeded4 / BuildPacketTooBig6.
// It returns the bytes written or 0. Never allocates.
func BuildTimeExceeded(dst []byte, orig []byte, src netip.Addr) int {
	if len(orig) == 0 {
		return 0
	}
	switch orig[0] >> 4 {
	case 4:
		return buildICMPv4(dst, orig, src, ICMPv4TypeTimeExceeded, 0, 0)
	case 6:
		return buildICMPv6(dst, orig, src, ICMPv6TypeTimeExceeded, 0, 0)
	}
	return 0
}

func buildICMPv4(dst, orig []byte, src netip.Addr, typ, code uint8, rest uint32) int {
	if !src.Is4() || len(orig) < IPv4MinLen || orig[0]>>4 != 4 {
		return 0
	}
	ip := IPv4(orig)
	hl := ip.HeaderLen()
	if hl < IPv4MinLen || hl > len(orig) {
		return 0
	}
	// Quote no further than the packet's own end when its length is sane.
	if tl := int(ip.TotalLen()); tl >= hl && tl < len(orig) {
		orig = orig[:tl]
	}
	if ip.FragmentOffset() != 0 || !unicast4(ip.Src()) {
		return 0
	}
	if ip.Protocol() == ProtoICMP {
		if len(orig) <= hl || isICMPv4Error(orig[hl]) {
			return 0
		}
	}
	const hdr = IPv4MinLen + ICMPHdrLen
	q := min(len(orig), icmpv4MaxLen-hdr, len(dst)-hdr)
	if q < min(len(orig), hl+8) {
		return 0
	}
	n := hdr + q
	f := IPv4Fields{
		TOS: icmpv4TOS, TotalLen: uint16(n), TTL: ICMPErrorTTL, Protocol: ProtoICMP,
		Src: src.As4(), Dst: [4]byte(orig[IPv4SrcOffset : IPv4SrcOffset+4]),
	}
	copy(dst[hdr:n], orig[:q])
	IPv4(dst).Encode(&f)
	writeICMP(dst[IPv4MinLen:n], typ, code, rest, 0)
	return n
}

func buildICMPv6(dst, orig []byte, src netip.Addr, typ, code uint8, rest uint32) int {
	if !src.Is6() || src.Is4In6() || len(orig) < IPv6Len || orig[0]>>4 != 6 {
		return 0
	}
	ip := IPv6(orig)
	if pl := int(ip.PayloadLen()); pl != 0 && IPv6Len+pl < len(orig) {
		orig = orig[:IPv6Len+pl]
	}
	osrc := ip.Src()
	if osrc.IsUnspecified() || osrc.IsMulticast() {
		return 0
	}
	if ip.NextHeader() == ProtoICMPv6 && (len(orig) <= IPv6Len || orig[IPv6Len] < 128) {
		return 0 // never answer an ICMPv6 error (RFC 4443 2.4(e))
	}
	const hdr = IPv6Len + ICMPHdrLen
	q := min(len(orig), icmpv6MaxLen-hdr, len(dst)-hdr)
	if q < IPv6Len {
		return 0
	}
	n := hdr + q
	f := IPv6Fields{
		PayloadLen: uint16(n - IPv6Len), NextHeader: ProtoICMPv6, HopLimit: ICMPErrorTTL,
		Src: src.As16(), Dst: [16]byte(orig[IPv6SrcOffset : IPv6SrcOffset+16]),
	}
	copy(dst[hdr:n], orig[:q])
	IPv6(dst).Encode(&f)
	writeICMP(dst[IPv6Len:n], typ, code, rest, PseudoHeader6(&f.Src, &f.Dst, ProtoICMPv6, n-IPv6Len))
	return n
}

// writeICMP fills the 8-byte ICMP header of msg (header plus quote) and its
// checksum over msg with the given pseudo-header sum (0 for ICMPv4).
func writeICMP(msg []byte, typ, code uint8, rest uint32, pseudo uint32) {
	msg[icmpType] = typ
	msg[icmpCode] = code
	msg[icmpChecksum], msg[icmpChecksum+1] = 0, 0
	binary.BigEndian.PutUint32(msg[icmpRest:], rest)
	binary.BigEndian.PutUint16(msg[icmpChecksum:], Checksum(msg, pseudo))
}

// isICMPv4Error reports whether an ICMPv4 type is an error message (RFC 1122
// 3.2.2: never send an ICMP error about one).
func isICMPv4Error(t uint8) bool {
	switch t {
	case 3, 4, 5, 11, 12:
		return true
	}
	return false
}

// unicast4 reports whether a may be the destination of an ICMP error.
func unicast4(a netip.Addr) bool {
	return !a.IsUnspecified() && !a.IsMulticast() && a != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}
