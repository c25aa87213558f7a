package encap

import "net/netip"

// ICMPErrorQuoteSource returns the source address of the packet an ICMPv4
// or ICMPv6 error message quotes (destination unreachable, packet too big,
// time exceeded, parameter problem; redirects and source quench are not
// errors a tunnel carries), and whether pkt is such an error with a
// quoted IP header long enough to read it. pkt must have passed
// ParseInner. Never allocates.
func ICMPErrorQuoteSource(pkt []byte) (netip.Addr, bool) {
	var msg []byte
	switch pkt[0] >> 4 {
	case 4:
		ip := IPv4(pkt)
		if ip.Protocol() != ProtoICMP || ip.FragmentOffset() != 0 {
			return netip.Addr{}, false
		}
		msg = ip.Payload()
		if len(msg) < 8 {
			return netip.Addr{}, false
		}
		switch msg[icmpType] {
		case 3, 11, 12:
		default:
			return netip.Addr{}, false
		}
	case 6:
		ip := IPv6(pkt)
		proto, rest, r := skipIPv6Ext(ip.NextHeader(), ip.Payload())
		if r != DropNone || proto != ProtoICMPv6 || len(rest) < 8 || rest[icmpType] < 1 || rest[icmpType] > 4 {
			return netip.Addr{}, false
		}
		msg = rest
	default:
		return netip.Addr{}, false
	}
	q := msg[8:]
	switch {
	case len(q) >= IPv4MinLen && q[0]>>4 == 4:
		return netip.AddrFrom4([4]byte(q[IPv4SrcOffset : IPv4SrcOffset+4])), true
	case len(q) >= IPv6Len && q[0]>>4 == 6:
		return netip.AddrFrom16([16]byte(q[IPv6SrcOffset : IPv6SrcOffset+16])), true
	}
	return netip.Addr{}, false
}
