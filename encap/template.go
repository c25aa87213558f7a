package encap

import "encoding/binary"

// maxTemplateLen is the longest header a Template writes: IPv6, UDP, Geneve
// with the most options, inner Ethernet.
const maxTemplateLen = IPv6Len + UDPLen + GeneveMinLen + MaxGeneveOptionLen + EthernetLen

// Template is one peer's outer headers (outer IP, UDP, tunnel header, inner
// Ethernet) laid out once, so that encapsulating a packet is one copy plus
// patching the fields that vary per packet: lengths, DSCP/ECN, DF and
// Identification, UDP source port, inner protocol and checksums, the sums
// started from partial sums prepared here. Encap writes exactly the bytes
// PrependTunnel followed by PrependOuter would. Build it with NewTemplate
// when the peer's Params and Outer are built; it is then read-only and safe
// for concurrent use.
type Template struct {
	// Per-packet fields first, sharing cache lines with the header start.
	n        int // header bytes written per packet
	maxInner int // longest inner packet whose outer length fits 16 bits; -1 if bad
	protoOff int // offset in hdr of the inner EtherType / Geneve protocol; 0 if none
	// IPv4: the addresses' word sum. IPv6 with UDP: the pseudo-header's
	// addresses and protocol plus the UDP destination port; tunSum adds
	// the tunnel header without its inner-protocol field.
	sum, tunSum     uint64
	srcRange        uint64
	srcMin          uint16
	ttl             uint8
	v6, udp         bool
	zeroCsum        bool
	lco             bool   // IPv6 with a UDP checksum: LCO applies
	dfKeep, dfForce bool   // outer DF = inner DF && dfKeep || dfForce
	o               *Outer // shares its IPv4 Identification counter with PrependOuter
	hdr             [maxTemplateLen]byte
	tunLen, ipLen   int // bytes PrependTunnel would write; IPv4MinLen or IPv6Len
	bad             DropReason
}

// NewTemplate prepares the headers for p (validated) and o's addresses; o
// must outlive the template, whose non-DF packets draw Identification
// values from o's counter. Parameters PrependOuter would refuse (addresses
// of mixed or unknown family, a bad Kind) give a template whose Encap
// returns that drop reason, as the prepend functions would.
func NewTemplate(p *Params, o *Outer) *Template {
	t := &Template{o: o, ttl: p.ttl(), zeroCsum: p.ZeroUDPChecksum6, maxInner: -1}
	t.dfKeep, t.dfForce = p.DF == DFInherit, p.DF == DFSet
	t.srcMin, t.srcRange = p.SrcPortMin, 0
	if p.SrcPortMin == 0 && p.SrcPortMax == 0 {
		t.srcMin, t.srcRange = DefaultSrcPortMin, DefaultSrcPortMax-DefaultSrcPortMin
	} else if p.SrcPortMax > p.SrcPortMin {
		t.srcRange = uint64(p.SrcPortMax - p.SrcPortMin)
	}
	switch p.Kind {
	case KindVXLAN, KindGeneve:
		t.udp = true
	case KindIPIP:
	default:
		t.bad = DropNotTunnel
		return t
	}
	switch {
	case o.Src.Is4() && o.Dst.Is4():
		t.ipLen = IPv4MinLen
	case o.Src.Is6() && o.Dst.Is6() && !o.Src.Is4In6() && !o.Dst.Is4In6():
		t.ipLen, t.v6 = IPv6Len, true
	default:
		t.bad = DropBadVersion
	}
	// The tunnel part comes from PrependTunnel itself, written in front of
	// a one-byte stand-in for an inner IPv4 packet.
	var scratch [maxTemplateLen + 1]byte
	scratch[maxTemplateLen] = 0x45
	ts, r := PrependTunnel(scratch[:], maxTemplateLen, maxTemplateLen+1, p)
	if r != DropNone {
		t.bad = r
		return t
	}
	t.tunLen = maxTemplateLen - ts
	if t.bad != DropNone {
		return t
	}
	h := t.hdr[:]
	udpLen := 0
	if t.udp {
		udpLen = UDPLen
	}
	t.n = t.ipLen + udpLen + t.tunLen
	copy(h[t.ipLen+udpLen:t.n], scratch[ts:maxTemplateLen])
	if t.udp {
		t.protoOff = t.n - EthernetLen + EthernetTypeOffset
		if p.Kind == KindGeneve && p.GeneveIP {
			t.protoOff = t.ipLen + UDPLen + geneveProtocol
		}
		h[t.protoOff], h[t.protoOff+1] = 0, 0
		binary.BigEndian.PutUint16(h[t.ipLen+UDPDstPortOffset:], p.dstPort())
	}
	if t.v6 {
		t.lco = t.udp && !t.zeroCsum
		t.maxInner = 0xffff - t.n + IPv6Len
		h[IPv6NextHeaderOffset], h[IPv6HopLimitOffset] = ProtoUDP, t.ttl
		src, dst := o.Src.As16(), o.Dst.As16()
		copy(h[IPv6SrcOffset:], src[:])
		copy(h[IPv6DstOffset:], dst[:])
		if t.udp {
			t.sum = uint64(Sum(h[IPv6SrcOffset:IPv6Len], 0)) + ProtoUDP + uint64(p.dstPort())
			t.tunSum = uint64(Sum(h[IPv6Len+UDPLen:t.n], 0))
		}
	} else {
		t.maxInner = 0xffff - t.n
		src, dst := o.Src.As4(), o.Dst.As4()
		copy(h[IPv4SrcOffset:], src[:])
		copy(h[IPv4DstOffset:], dst[:])
		t.sum = uint64(binary.BigEndian.Uint32(src[:])) + uint64(binary.BigEndian.Uint32(dst[:]))
	}
	return t
}

// Encap writes the outer headers in front of the inner IP packet
// buf[start:end] and returns the new start (outer IP header first): the
// same bytes, and the same drop reasons, as PrependTunnel then
// PrependOuter with flowHash (FlowHash of the inner packet). csum says
// whether an IPv6 outer UDP checksum may be derived from the inner
// packet's checksum (see InnerCsum); it changes the work, never the bytes
// of a packet whose inner checksum is right. Only buf[newStart:start] is
// written.
func (t *Template) Encap(buf []byte, start, end int, flowHash uint32, csum InnerCsum) (newStart int, r DropReason) {
	if start < t.n || start >= end || end > len(buf) || end-start > t.maxInner {
		return start, t.reason(buf, start, end)
	}
	inner := buf[start:end]
	// The calls first (LCO, the copy), the register work after them: every
	// value live across a call is spilled.
	var lcoSum uint64
	lco := false
	if t.lco && csum == InnerCsumComplete {
		lcoSum, lco = innerSumLCO(inner)
	}
	s := start - t.n
	h := buf[s:start]
	copy(h, t.hdr[:t.n])
	var tos uint8
	var df bool
	var et uint16
	var ipProto uint8
	switch inner[0] >> 4 {
	case 4:
		if len(inner) < IPv4MinLen {
			return start, DropTruncated
		}
		tos, df = inner[IPv4TOSOffset], inner[IPv4FlagsFragOffset]&(IPv4FlagDF>>8) != 0
		et, ipProto = EtherTypeIPv4, ProtoIPIP
	case 6:
		if len(inner) < 2 {
			return start, DropTruncated
		}
		tos, df = inner[0]<<4|inner[1]>>4, true
		et, ipProto = EtherTypeIPv6, ProtoIPv6
	default:
		return start, DropUnsupportedInner
	}
	df = df && t.dfKeep || t.dfForce
	if t.udp {
		binary.BigEndian.PutUint16(h[t.protoOff:], et)
		ipProto = ProtoUDP
	}
	if !t.v6 {
		id := uint16(flowHash)
		if !df {
			id = uint16(t.o.ipID.Add(1))
		}
		w0 := 0x45<<24 | uint32(tos)<<16 | uint32(end-s)
		w1 := uint32(id) << 16
		if df {
			w1 |= IPv4FlagDF
		}
		w2 := uint32(t.ttl)<<24 | uint32(ipProto)<<16
		w2 |= uint32(^uint16(Fold64(t.sum + uint64(w0) + uint64(w1) + uint64(w2))))
		_ = h[IPv4MinLen-1]
		binary.BigEndian.PutUint32(h[0:], w0)
		binary.BigEndian.PutUint32(h[4:], w1)
		binary.BigEndian.PutUint32(h[8:], w2)
		if t.udp {
			t.putUDP(h[IPv4MinLen:], flowHash, end-s-IPv4MinLen)
		}
		return s, DropNone
	}
	_ = h[IPv6Len-1]
	binary.BigEndian.PutUint32(h[0:], 6<<28|uint32(tos)<<20|flowLabel(flowHash))
	pl := end - s - IPv6Len
	binary.BigEndian.PutUint16(h[IPv6PayloadLenOffset:], uint16(pl))
	if !t.udp {
		h[IPv6NextHeaderOffset] = ipProto
		return s, DropNone
	}
	sp := t.putUDP(h[IPv6Len:], flowHash, pl)
	if t.zeroCsum {
		return s, DropNone
	}
	sum := t.sum + 2*uint64(pl) + uint64(sp)
	if lco {
		sum += t.tunSum + uint64(et) + lcoSum
	} else {
		sum += uint64(Sum(buf[s+IPv6Len+UDPLen:end], 0))
	}
	c := ^uint16(Fold64(sum))
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(h[IPv6Len+UDPChecksumOffset:], c)
	return s, DropNone
}

// putUDP writes the per-packet UDP fields (the template holds the rest and
// a zero checksum) and returns the source port.
func (t *Template) putUDP(u []byte, flowHash uint32, length int) uint16 {
	_ = u[UDPLen-1]
	sp := uint16((uint64(flowHash)*t.srcRange)>>32) + t.srcMin
	binary.BigEndian.PutUint16(u[UDPSrcPortOffset:], sp)
	binary.BigEndian.PutUint16(u[UDPLengthOffset:], uint16(length))
	return sp
}

// reason returns the drop reason PrependTunnel then PrependOuter would give
// for buf[start:end], checked in their order; Encap calls it only off the
// fast path.
func (t *Template) reason(buf []byte, start, end int) DropReason {
	if start < 0 || start >= end || end > len(buf) {
		return DropTruncated
	}
	v := buf[start] >> 4
	if v != 4 && v != 6 {
		return DropUnsupportedInner
	}
	if t.bad == DropNotTunnel {
		return DropNotTunnel
	}
	if start < t.tunLen {
		return DropNoHeadroom
	}
	if (v == 4 && end-start < IPv4MinLen) || (v == 6 && end-start < 2) {
		return DropTruncated
	}
	if t.bad != DropNone {
		return t.bad
	}
	if start < t.n {
		return DropNoHeadroom
	}
	if end-start > t.maxInner {
		return DropBadLength
	}
	return DropNone
}
