package main

import (
	"encoding/binary"
	"net/netip"

	"github.com/podfwd/podfwd/encap"
)

// wire builds underlay frames as a peer would put them on the wire toward
// the node under attack: Ethernet, outer IPv4, UDP (VXLAN, Geneve) and the
// tunnel header, or IPv4 protocol 4/41 (IPIP). Every header is written with
// encap's views and valid checksums; a hostile case then breaks what it
// wants.
type wire struct {
	kind             encap.Kind
	port             uint16
	vni              uint32
	srcMAC, dstMAC   [6]byte // underlay Ethernet
	vtepSrc, vtepDst [6]byte // inner Ethernet (VXLAN, Geneve)
	src, dst         netip.Addr
}

// Offsets inside a frame built by wire with option-less headers.
const (
	outerIPOff = encap.EthernetLen
	outerL4Off = outerIPOff + encap.IPv4MinLen
	udpPayOff  = outerL4Off + encap.UDPLen
)

// params are the tunnel parameters a well-behaved peer uses.
func (w *wire) params() encap.Params {
	return encap.Params{Kind: w.kind, VNI: w.vni, Port: w.port, InnerSrcMAC: w.vtepSrc, InnerDstMAC: w.vtepDst}
}

// tunnel returns the tunnel payload carrying inner: the UDP payload for
// VXLAN and Geneve (tunnel header, inner Ethernet, inner), inner itself for
// IPIP.
func (w *wire) tunnel(inner []byte) []byte {
	if w.kind == encap.KindIPIP {
		return append([]byte(nil), inner...)
	}
	p := w.params()
	buf := make([]byte, 64+len(inner))
	copy(buf[64:], inner)
	first := inner[0]
	if v := first >> 4; v != 4 && v != 6 {
		buf[64] = 0x45 // the header is built as for IPv4, then the bad version put back
	}
	start, r := encap.PrependTunnel(buf, 64, len(buf), &p)
	if r != encap.DropNone {
		panic("building a tunnel header: " + r.String())
	}
	buf[64] = first
	return buf[start:]
}

// frame wraps a tunnel payload into Ethernet and outer IPv4 (+ UDP with a
// computed checksum), from w.src to w.dst. IPIP's outer protocol (4 or 41)
// follows the payload's IP version.
func (w *wire) frame(payload []byte) []byte {
	udp := w.kind != encap.KindIPIP
	hdr := outerL4Off
	if udp {
		hdr = udpPayOff
	}
	b := make([]byte, hdr+len(payload))
	copy(b[hdr:], payload)
	eth := encap.Ethernet(b)
	copy(eth[0:6], w.dstMAC[:])
	copy(eth[6:12], w.srcMAC[:])
	binary.BigEndian.PutUint16(b[12:], encap.EtherTypeIPv4)
	proto := uint8(encap.ProtoUDP)
	if !udp {
		proto = encap.ProtoIPIP
		if len(payload) > 0 && payload[0]>>4 == 6 {
			proto = encap.ProtoIPv6
		}
	}
	encap.IPv4(b[outerIPOff:]).Encode(&encap.IPv4Fields{TotalLen: uint16(len(b) - outerIPOff), ID: 7, TTL: 64,
		Protocol: proto, Src: w.src.As4(), Dst: w.dst.As4()})
	if udp {
		u := encap.UDP(b[outerL4Off:])
		u.Encode(40000, w.port, uint16(len(b)-outerL4Off))
		u.SetChecksum(encap.PseudoHeader4(w.src.As4(), w.dst.As4(), encap.ProtoUDP, len(u)))
	}
	return b
}

// fixOuter rewrites the outer IPv4 total length and checksum, and the UDP
// length and checksum, of a frame built by frame after its payload changed
// length.
func (w *wire) fixOuter(b []byte) []byte {
	binary.BigEndian.PutUint16(b[outerIPOff+encap.IPv4TotalLenOffset:], uint16(len(b)-outerIPOff))
	ipChecksum(b[outerIPOff:])
	if w.kind != encap.KindIPIP {
		u := encap.UDP(b[outerL4Off:])
		binary.BigEndian.PutUint16(u[encap.UDPLengthOffset:], uint16(len(u)))
		u.SetChecksum(encap.PseudoHeader4(w.src.As4(), w.dst.As4(), encap.ProtoUDP, len(u)))
	}
	return b
}

// ipChecksum recomputes the checksum of the IPv4 header at ip[0:].
func ipChecksum(ip []byte) {
	h := ip[:encap.IPv4(ip).HeaderLen()]
	h[encap.IPv4ChecksumOffset], h[encap.IPv4ChecksumOffset+1] = 0, 0
	binary.BigEndian.PutUint16(h[encap.IPv4ChecksumOffset:], encap.Checksum(h, 0))
}

// fragments splits the outer IPv4 packet of frame b (20-byte header) into
// frames carrying at most max payload bytes each (a multiple of 8).
func fragments(b []byte, max int) [][]byte {
	var out [][]byte
	for _, f := range ipFragments(b[outerIPOff:], max) {
		out = append(out, append(append([]byte(nil), b[:outerIPOff]...), f...))
	}
	return out
}

// innerIPv4 builds an IPv4 packet of protocol proto (UDP or TCP) from src
// to dst with valid IP and L4 checksums; payload follows the L4 header.
func innerIPv4(src, dst netip.Addr, proto, ttl uint8, payload []byte) []byte {
	l4 := encap.UDPLen
	if proto == encap.ProtoTCP {
		l4 = encap.TCPMinLen
	}
	b := make([]byte, encap.IPv4MinLen+l4+len(payload))
	encap.IPv4(b).Encode(&encap.IPv4Fields{TotalLen: uint16(len(b)), ID: 9, TTL: ttl, Protocol: proto,
		Src: src.As4(), Dst: dst.As4()})
	copy(b[encap.IPv4MinLen+l4:], payload)
	innerL4(b, encap.IPv4MinLen, proto)
	return b
}

// innerIPv6 is innerIPv4 for IPv6 (UDP only).
func innerIPv6(src, dst netip.Addr, hop uint8, payload []byte) []byte {
	b := make([]byte, encap.IPv6Len+encap.UDPLen+len(payload))
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:], uint16(encap.UDPLen+len(payload)))
	b[6], b[7] = encap.ProtoUDP, hop
	s, d := src.As16(), dst.As16()
	copy(b[8:], s[:])
	copy(b[24:], d[:])
	copy(b[encap.IPv6Len+encap.UDPLen:], payload)
	u := encap.UDP(b[encap.IPv6Len:])
	u.Encode(40001, 7777, uint16(len(u)))
	u.SetChecksum(encap.PseudoHeader6(&s, &d, encap.ProtoUDP, len(u)))
	return b
}

// innerL4 writes the UDP or TCP header at b[off:] of the IPv4 packet b and
// its checksum.
func innerL4(b []byte, off int, proto uint8) {
	ip := encap.IPv4(b)
	pseudo := encap.PseudoHeader4(ip.Src().As4(), ip.Dst().As4(), proto, len(b)-off)
	if proto == encap.ProtoUDP {
		u := encap.UDP(b[off:])
		u.Encode(40001, 7777, uint16(len(b)-off))
		u.SetChecksum(pseudo)
		return
	}
	t := b[off:]
	binary.BigEndian.PutUint16(t[0:], 40001)
	binary.BigEndian.PutUint16(t[2:], 7777)
	binary.BigEndian.PutUint32(t[4:], 1000)
	binary.BigEndian.PutUint32(t[8:], 1)
	t[12], t[13] = 5<<4, 0x18 // data offset 5, PSH|ACK
	binary.BigEndian.PutUint16(t[14:], 64000)
	t[16], t[17] = 0, 0
	binary.BigEndian.PutUint16(t[16:], encap.Checksum(t, pseudo))
}

// ipFragments splits the IPv4 packet b (20-byte header) into fragments
// of at most max payload bytes (a multiple of 8).
func ipFragments(b []byte, max int) [][]byte {
	payload := b[encap.IPv4MinLen:]
	var out [][]byte
	for off := 0; off < len(payload); off += max {
		n := min(max, len(payload)-off)
		f := append(append([]byte(nil), b[:encap.IPv4MinLen]...), payload[off:off+n]...)
		fo := uint16(off / 8)
		if off+n < len(payload) {
			fo |= 0x2000 // MF
		}
		binary.BigEndian.PutUint16(f[encap.IPv4FlagsFragOffset:], fo)
		binary.BigEndian.PutUint16(f[encap.IPv4TotalLenOffset:], uint16(len(f)))
		ipChecksum(f)
		out = append(out, f)
	}
	return out
}
