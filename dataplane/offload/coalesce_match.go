package offload

import (
	"bytes"
	"encoding/binary"

	"github.com/podfwd/podfwd/encap"
)

// segInfo is what Coalesce learns about one input packet.
type segInfo struct {
	v6          bool
	udp         bool // a UDP datagram (runs of them become UDP_L4 GSO packets)
	psh         bool
	csumChecked bool
	csumValid   bool
	ipHdrLen    int
	hdrLen      int // IP + TCP (or UDP) header bytes
	ipLen       int // packet length per the IP header (<= len(pkt))
	payload     int
	seq         uint32
	hash        uint32 // of addresses, ports and ACK: a cheap first filter
}

// parse fills s from pkt and reports whether pkt is a TCP segment (or,
// with udp, a UDP datagram) that may be merged at all. Everything it
// accepts has been bounds-checked, so later steps index pkt[:s.ipLen]
// freely.
func (s *segInfo) parse(pkt []byte, udp bool) bool {
	*s = segInfo{}
	if len(pkt) == 0 {
		return false
	}
	switch pkt[0] >> 4 {
	case 4:
		// IHL 5 only: IP options would have to be compared and the kernel
		// does not merge them either.
		if len(pkt) < encap.IPv4MinLen || pkt[0] != 0x45 || !mergeable(pkt[encap.IPv4ProtocolOffset], udp) {
			return false
		}
		if binary.BigEndian.Uint16(pkt[encap.IPv4FlagsFragOffset:])&(encap.IPv4FlagMF|encap.IPv4FragOffsetMask) != 0 {
			return false // a fragment
		}
		s.ipLen = int(binary.BigEndian.Uint16(pkt[encap.IPv4TotalLenOffset:]))
		if s.ipLen > len(pkt) || foldSum(sumBytes(pkt[:encap.IPv4MinLen], 0)) != 0xffff {
			return false
		}
		s.ipHdrLen = encap.IPv4MinLen
	case 6:
		if len(pkt) < encap.IPv6Len || !mergeable(pkt[encap.IPv6NextHeaderOffset], udp) {
			return false // not TCP (or UDP), or extension headers in front of it
		}
		s.v6 = true
		s.ipHdrLen = encap.IPv6Len
		s.ipLen = encap.IPv6Len + int(binary.BigEndian.Uint16(pkt[encap.IPv6PayloadLenOffset:]))
		if s.ipLen > len(pkt) {
			return false
		}
	default:
		return false
	}
	proto := pkt[encap.IPv4ProtocolOffset]
	if s.v6 {
		proto = pkt[encap.IPv6NextHeaderOffset]
	}
	if proto == encap.ProtoUDP { // only when udp: mergeable said so
		return s.parseUDP(pkt)
	}
	if s.ipLen < s.ipHdrLen+encap.TCPMinLen {
		return false
	}
	tcp := pkt[s.ipHdrLen:s.ipLen]
	tcpLen := int(tcp[encap.TCPDataOffOffset]>>4) * 4
	if tcpLen < encap.TCPMinLen || tcpLen > len(tcp) {
		return false
	}
	if tcp[encap.TCPFlagsOffset]&^encap.TCPFlagPSH != encap.TCPFlagACK {
		return false // SYN, FIN, RST, URG, ECE, CWR or no ACK: not for merging
	}
	s.hdrLen = s.ipHdrLen + tcpLen
	s.payload = s.ipLen - s.hdrLen
	if s.payload == 0 {
		return false // pure ACKs are never merged
	}
	s.psh = tcp[encap.TCPFlagsOffset]&encap.TCPFlagPSH != 0
	s.seq = binary.BigEndian.Uint32(tcp[encap.TCPSeqOffset:])
	s.hash = flowHash(pkt, s)
	return true
}

// mergeable reports whether an IP packet carrying proto may be merged.
func mergeable(proto uint8, udp bool) bool {
	return proto == encap.ProtoTCP || udp && proto == encap.ProtoUDP
}

// parseUDP finishes parse for a UDP datagram: its length field must match
// the IP length, it must carry a payload and a checksum (an IPv4 datagram
// sent without one cannot be vouched for as a merged packet's would be).
func (s *segInfo) parseUDP(pkt []byte) bool {
	if s.ipLen < s.ipHdrLen+encap.UDPLen {
		return false
	}
	udp := encap.UDP(pkt[s.ipHdrLen:s.ipLen])
	if int(binary.BigEndian.Uint16(udp[encap.UDPLengthOffset:])) != len(udp) ||
		binary.BigEndian.Uint16(udp[encap.UDPChecksumOffset:]) == 0 {
		return false
	}
	s.udp = true
	s.hdrLen = s.ipHdrLen + encap.UDPLen
	s.payload = s.ipLen - s.hdrLen
	if s.payload == 0 {
		return false
	}
	s.hash = flowHash(pkt, s)
	return true
}

// flowHash mixes the flow key: addresses, ports and ACK number (segments
// with different ACKs are kept apart, as the kernel's GRO does).
func flowHash(pkt []byte, s *segInfo) uint32 {
	src, dst := ipAddrs(pkt, s.v6)
	h := uint32(2166136261)
	mix := func(b []byte) {
		for len(b) >= 4 {
			h = (h ^ binary.BigEndian.Uint32(b)) * 16777619
			b = b[4:]
		}
	}
	mix(src)
	mix(dst)
	l4 := pkt[s.ipHdrLen:]
	mix(l4[:4]) // ports
	if s.udp {
		return h ^ 1 // kept apart from TCP flows of the same addresses and ports
	}
	mix(l4[encap.TCPAckOffset : encap.TCPAckOffset+4]) // ACK
	return h
}

// continues reports whether pkts[i] can be appended to run rn: same flow,
// next sequence number, size rules, and headers that differ only where a
// merged packet is allowed to differ. Checksums are checked by the caller.
func (c *Coalescer) continues(pkts [][]byte, rn *run, i int) bool {
	s, h := &c.segs[i], &c.segs[rn.head]
	if s.udp != h.udp || s.v6 != h.v6 || s.hdrLen != h.hdrLen ||
		s.payload > rn.gsoSize || rn.ipLen+s.payload > maxCoalesced {
		return false
	}
	if s.udp {
		p, q := pkts[i], pkts[rn.head]
		return rn.count < maxUDPSegments && ipHeadersMatch(p, q, s.v6) &&
			bytes.Equal(p[s.ipHdrLen:s.ipHdrLen+4], q[h.ipHdrLen:h.ipHdrLen+4]) // ports
	}
	if s.seq != rn.nextSeq {
		return false
	}
	p, q := pkts[i], pkts[rn.head]
	if !ipHeadersMatch(p, q, s.v6) {
		return false
	}
	pt, qt := p[s.ipHdrLen:s.hdrLen], q[h.ipHdrLen:h.hdrLen]
	return bytes.Equal(pt[:encap.TCPSeqOffset], qt[:encap.TCPSeqOffset]) && // ports
		bytes.Equal(pt[encap.TCPAckOffset:encap.TCPFlagsOffset], qt[encap.TCPAckOffset:encap.TCPFlagsOffset]) && // ACK, data offset
		pt[encap.TCPFlagsOffset]&^encap.TCPFlagPSH == qt[encap.TCPFlagsOffset] &&
		bytes.Equal(pt[encap.TCPWindowOffset:encap.TCPChecksumOffset], qt[encap.TCPWindowOffset:encap.TCPChecksumOffset]) &&
		bytes.Equal(pt[encap.TCPUrgentOffset:], qt[encap.TCPUrgentOffset:]) // urgent pointer and options
}

// ipHeadersMatch compares the IP header fields a merged packet shares:
// everything except length, ID and header checksum.
func ipHeadersMatch(p, q []byte, v6 bool) bool {
	if v6 {
		// version, traffic class, flow label; then next header, hop limit
		// and both addresses.
		return bytes.Equal(p[:encap.IPv6PayloadLenOffset], q[:encap.IPv6PayloadLenOffset]) &&
			bytes.Equal(p[encap.IPv6NextHeaderOffset:encap.IPv6Len], q[encap.IPv6NextHeaderOffset:encap.IPv6Len])
	}
	return p[encap.IPv4TOSOffset] == q[encap.IPv4TOSOffset] &&
		// Flags whole, the reserved bit too: every segment the kernel cuts
		// from a merged packet carries the first one's (fragments never
		// get here, so MF and the offset are zero on both).
		binary.BigEndian.Uint16(p[encap.IPv4FlagsFragOffset:]) == binary.BigEndian.Uint16(q[encap.IPv4FlagsFragOffset:]) &&
		p[encap.IPv4TTLOffset] == q[encap.IPv4TTLOffset] &&
		bytes.Equal(p[encap.IPv4SrcOffset:encap.IPv4MinLen], q[encap.IPv4SrcOffset:encap.IPv4MinLen])
}
