package xdpport

import (
	"encoding/binary"

	"github.com/podfwd/podfwd/encap"
)

// A pod's veth hands AF_XDP whole Ethernet frames exactly as the pod's
// stack sent them. Two things the kernel would have done on the way to a
// TUN are therefore ours to do: the node's routing hop (TTL or hop limit
// minus one, as the kernel's forwarding does on each node) and completing
// the L4 checksum. The pod's veth offloads checksums, so its TCP and UDP
// packets carry only the pseudo-header sum, and the frame says nothing
// about it (AF_XDP has no checksum metadata): every TCP or UDP checksum is
// recomputed from scratch, which is right for complete ones too.

// podFrameToIP turns the frame at frame into the IP packet the engine
// reads: it returns the IP header's offset in frame and the packet's
// length, or ok false for a frame that is not IPv4/IPv6 or whose TTL
// does not allow another hop (the XDP program passes those to the kernel,
// so neither is expected here).
func podFrameToIP(frame []byte) (off, n int, ok bool) {
	if len(frame) < encap.EthernetLen {
		return 0, 0, false
	}
	switch encap.Ethernet(frame).EtherType() {
	case encap.EtherTypeIPv4, encap.EtherTypeIPv6:
	default:
		return 0, 0, false
	}
	pkt := frame[encap.EthernetLen:]
	if encap.DecrementTTL(pkt) != encap.DropNone {
		return 0, 0, false
	}
	completeL4Checksum(pkt)
	return encap.EthernetLen, len(pkt), true
}

// completeL4Checksum writes the full checksum of a TCP or UDP packet that
// is not fragmented (IPv4) and follows the fixed header directly (IPv6).
// Anything else is left alone: the kernel offloads checksums only for
// those. An IPv4 UDP checksum of 0 means "none" and stays 0. It reports
// whether it wrote a checksum.
func completeL4Checksum(pkt []byte) bool {
	if len(pkt) < 1 {
		return false
	}
	var (
		proto  byte
		l4     []byte
		pseudo uint32
	)
	switch pkt[0] >> 4 {
	case 4:
		ihl := int(pkt[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(pkt[encap.IPv4TotalLenOffset:]))
		if ihl < encap.IPv4MinLen || total < ihl || total > len(pkt) {
			return false
		}
		if binary.BigEndian.Uint16(pkt[encap.IPv4FlagsFragOffset:])&(encap.IPv4FlagMF|encap.IPv4FragOffsetMask) != 0 {
			return false // a fragment: its checksum was computed before fragmenting
		}
		proto, l4 = pkt[encap.IPv4ProtocolOffset], pkt[ihl:total]
		pseudo = encap.PseudoHeader4([4]byte(pkt[encap.IPv4SrcOffset:]), [4]byte(pkt[encap.IPv4DstOffset:]), proto, len(l4))
	case 6:
		if len(pkt) < encap.IPv6Len {
			return false
		}
		end := encap.IPv6Len + int(binary.BigEndian.Uint16(pkt[encap.IPv6PayloadLenOffset:]))
		if end > len(pkt) {
			return false
		}
		proto, l4 = pkt[encap.IPv6NextHeaderOffset], pkt[encap.IPv6Len:end]
		pseudo = encap.PseudoHeader6((*[16]byte)(pkt[encap.IPv6SrcOffset:]), (*[16]byte)(pkt[encap.IPv6DstOffset:]), proto, len(l4))
	default:
		return false
	}
	field := 0
	switch {
	case proto == encap.ProtoTCP && len(l4) >= encap.TCPMinLen:
		field = encap.TCPChecksumOffset
	case proto == encap.ProtoUDP && len(l4) >= encap.UDPLen:
		field = encap.UDPChecksumOffset
		if pkt[0]>>4 == 4 && binary.BigEndian.Uint16(l4[field:]) == 0 {
			return false
		}
	default:
		return false
	}
	binary.BigEndian.PutUint16(l4[field:], 0)
	sum := encap.Checksum(l4, pseudo)
	if sum == 0 && proto == encap.ProtoUDP {
		sum = 0xffff // 0 would mean "no checksum"
	}
	binary.BigEndian.PutUint16(l4[field:], sum)
	return true
}

// ipToPodFrame prepends the Ethernet header a pod expects from its gateway
// in front of the IP packet at buf[start:end] and takes the node's routing
// hop off its TTL. It returns the frame's new start, or ok false when the
// buffer has no headroom or the TTL allows no further hop (the engine
// sends those through the TUN instead, so neither is expected).
func ipToPodFrame(buf []byte, start, end int, podMAC, gatewayMAC [6]byte) (int, bool) {
	pkt := buf[start:end]
	if len(pkt) == 0 || encap.DecrementTTL(pkt) != encap.DropNone {
		return start, false
	}
	etherType := uint16(encap.EtherTypeIPv4)
	if pkt[0]>>4 == 6 {
		etherType = encap.EtherTypeIPv6
	}
	s, r := encap.PrependEthernet(buf, start, podMAC, gatewayMAC, etherType)
	return s, r == encap.DropNone
}
