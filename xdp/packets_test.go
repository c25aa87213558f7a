package xdp

import (
	"encoding/binary"
	"net"
	"net/netip"
	"slices"
)

// frameSpec describes a test frame: Ethernet (optionally one VLAN tag),
// IPv4 or IPv6 (by the family of src), then proto with payload. For UDP
// (proto 17) a UDP header with sport and dport comes first.
type frameSpec struct {
	srcMAC, dstMAC net.HardwareAddr
	vlan           uint16 // 0: untagged
	src, dst       netip.Addr
	proto          uint8
	sport, dport   uint16
	fragOffset     uint16 // IPv4 flags+offset field, for fragment seeds
	payload        []byte
}

// build serialises s. The IPv4 header checksum is correct; the UDP checksum
// is 0 ("none"), which IPv4 receivers accept. IPv6 UDP frames carry 0 too
// and are only fed to BPF_PROG_TEST_RUN, never to a kernel socket.
func (s frameSpec) build() []byte {
	l4 := s.payload
	if s.proto == 17 {
		u := make([]byte, 8, 8+len(s.payload))
		binary.BigEndian.PutUint16(u[0:], s.sport)
		binary.BigEndian.PutUint16(u[2:], s.dport)
		binary.BigEndian.PutUint16(u[4:], uint16(8+len(s.payload)))
		l4 = append(u, s.payload...)
	}
	var b []byte
	b = append(b, orMAC(s.dstMAC)...)
	b = append(b, orMAC(s.srcMAC)...)
	if s.vlan != 0 {
		b = binary.BigEndian.AppendUint16(b, 0x8100)
		b = binary.BigEndian.AppendUint16(b, s.vlan)
	}
	if s.src.Is4() {
		b = binary.BigEndian.AppendUint16(b, 0x0800)
		ip := make([]byte, 20)
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(20+len(l4)))
		binary.BigEndian.PutUint16(ip[6:], s.fragOffset)
		ip[8] = 64
		ip[9] = s.proto
		src, dst := s.src.As4(), s.dst.As4()
		copy(ip[12:], src[:])
		copy(ip[16:], dst[:])
		binary.BigEndian.PutUint16(ip[10:], ipChecksum(ip))
		b = append(b, ip...)
	} else {
		b = binary.BigEndian.AppendUint16(b, 0x86dd)
		ip := make([]byte, 40)
		ip[0] = 0x60
		binary.BigEndian.PutUint16(ip[4:], uint16(len(l4)))
		ip[6] = s.proto
		ip[7] = 64
		src, dst := s.src.As16(), s.dst.As16()
		copy(ip[8:], src[:])
		copy(ip[24:], dst[:])
		b = append(b, ip...)
	}
	return append(b, l4...)
}

func orMAC(m net.HardwareAddr) []byte {
	if len(m) == 6 {
		return m
	}
	return []byte{2, 0, 0, 0, 0, 1}
}

func ipChecksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// wantRedirect is the reference classifier: a plain reading of the rule the
// XDP program implements, written without the program's register tricks,
// so that the two can be checked against each other on random frames.
func wantRedirect(pkt []byte, c RedirectConfig) bool {
	if len(pkt) < 14 {
		return false
	}
	etherType := binary.BigEndian.Uint16(pkt[12:])
	l3 := 14
	if etherType == 0x8100 || etherType == 0x88a8 {
		if len(pkt) < 18 {
			return false
		}
		etherType = binary.BigEndian.Uint16(pkt[16:])
		l3 = 18
	}
	var proto uint8
	var l4 int
	switch etherType {
	case 0x0800:
		if !c.LocalIPv4.IsValid() || len(pkt) < l3+20 {
			return false
		}
		ip := pkt[l3:]
		ihl := int(ip[0]&0x0f) * 4
		if ip[0]>>4 != 4 || ihl < 20 {
			return false
		}
		if binary.BigEndian.Uint16(ip[6:])&0x3fff != 0 {
			return false // a fragment
		}
		if netip.AddrFrom4([4]byte(ip[16:20])) != c.LocalIPv4.Unmap() {
			return false
		}
		proto, l4 = ip[9], l3+ihl
	case 0x86dd:
		if !c.LocalIPv6.IsValid() || len(pkt) < l3+40 {
			return false
		}
		ip := pkt[l3:]
		if ip[0]>>4 != 6 || netip.AddrFrom16([16]byte(ip[24:40])) != c.LocalIPv6 {
			return false
		}
		proto, l4 = ip[6], l3+40
	default:
		return false
	}
	switch proto {
	case 4, 41:
		return c.IPIP
	case 17:
		if len(pkt) < l4+8 {
			return false
		}
		return slices.Contains(c.UDPPorts, binary.BigEndian.Uint16(pkt[l4+2:]))
	}
	return false
}
