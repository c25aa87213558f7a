package trace

import (
	"encoding/binary"
	"net/netip"

	"github.com/podfwd/podfwd/encap"
)

// tunnelEnd is our end of the tunnel: underlay address and tunnel port.
func (l Local) tunnelEnd() netip.AddrPort {
	port := l.Port
	if port == 0 {
		switch l.Kind {
		case encap.KindVXLAN:
			port = encap.DefaultVXLANPort
		case encap.KindGeneve:
			port = encap.DefaultGenevePort
		}
	}
	return netip.AddrPortFrom(l.Underlay, port)
}

// wrapOuter puts the outer headers a UDP or raw socket leaves to the kernel
// in front of data (the first bytes of a packet of origLen bytes): IP and
// UDP for a VXLAN or Geneve payload, IP with protocol 4 or 41 for an IPIP
// inner packet. The result is an IP packet tshark decodes down to the inner
// headers. When src and dst are not one valid IP family, data is returned
// as it is and synthesized is false.
func wrapOuter(data []byte, origLen int, kind encap.Kind, src, dst netip.AddrPort) (out []byte, outLen int, synthesized bool) {
	s, d := src.Addr().Unmap(), dst.Addr().Unmap()
	if !s.IsValid() || !d.IsValid() || s.Is4() != d.Is4() {
		return data, origLen, false
	}
	udp := kind == encap.KindVXLAN || kind == encap.KindGeneve
	var proto uint8
	switch {
	case udp:
		proto = encap.ProtoUDP
	case kind == encap.KindIPIP && isIP(data):
		proto = encap.ProtoIPIP
		if data[0]>>4 == 6 {
			proto = encap.ProtoIPv6
		}
	default:
		return data, origLen, false
	}
	ipLen := encap.IPv6Len
	if s.Is4() {
		ipLen = encap.IPv4MinLen
	}
	hdr := ipLen
	if udp {
		hdr += encap.UDPLen
	}
	total := hdr + origLen
	if total > 0xffff {
		return data, origLen, false
	}
	out = make([]byte, hdr+len(data))
	copy(out[hdr:], data)
	if s.Is4() {
		ip := out[:ipLen]
		ip[0], ip[8], ip[9] = 0x45, 64, proto
		binary.BigEndian.PutUint16(ip[2:], uint16(total))
		binary.BigEndian.PutUint16(ip[6:], 0x4000) // DF
		a, b := s.As4(), d.As4()
		copy(ip[12:16], a[:])
		copy(ip[16:20], b[:])
		binary.BigEndian.PutUint16(ip[10:], encap.Checksum(ip, 0))
	} else {
		ip := out[:ipLen]
		ip[0], ip[6], ip[7] = 0x60, proto, 64
		binary.BigEndian.PutUint16(ip[4:], uint16(total-ipLen))
		a, b := s.As16(), d.As16()
		copy(ip[8:24], a[:])
		copy(ip[24:40], b[:])
	}
	if udp {
		u := out[ipLen:hdr]
		binary.BigEndian.PutUint16(u[0:], src.Port())
		binary.BigEndian.PutUint16(u[2:], dst.Port())
		binary.BigEndian.PutUint16(u[4:], uint16(encap.UDPLen+origLen))
		// Zero checksum: allowed for tunnels over IPv4 (RFC 7348) and what
		// a capture of a truncated payload could not verify anyway.
	}
	return out, total, true
}
