package xdp

import (
	"encoding/binary"
	"net/netip"
	"slices"
)

// podVerdict is the reference classifier of the pod program: a plain
// reading of its rule, with a linear scan instead of a trie, so that the
// two can be checked against each other. socket says whether a socket is
// registered for the interface and queue the frame arrives on.
func podVerdict(frame []byte, dests []netip.Prefix, socket bool) uint32 {
	dst, ok := podDestination(frame)
	if !ok || !socket {
		return xdpRetPass
	}
	if slices.ContainsFunc(dests, func(p netip.Prefix) bool { return p.Contains(dst) }) {
		return xdpRetRedirect
	}
	return xdpRetPass
}

// podDestination returns the destination of an untagged IPv4 or IPv6
// frame that a router would forward (TTL or hop limit above 1), or false.
func podDestination(frame []byte) (netip.Addr, bool) {
	if len(frame) < 14 {
		return netip.Addr{}, false
	}
	ip := frame[14:]
	switch binary.BigEndian.Uint16(frame[12:]) {
	case 0x0800:
		if len(ip) < 20 || ip[0]>>4 != 4 {
			return netip.Addr{}, false
		}
		if ihl := int(ip[0]&0x0f) * 4; ihl < 20 || len(ip) < ihl {
			return netip.Addr{}, false
		}
		if ip[8] <= 1 {
			return netip.Addr{}, false
		}
		return netip.AddrFrom4([4]byte(ip[16:20])), true
	case 0x86dd:
		if len(ip) < 40 || ip[0]>>4 != 6 || ip[7] <= 1 {
			return netip.Addr{}, false
		}
		return netip.AddrFrom16([16]byte(ip[24:40])), true
	}
	return netip.Addr{}, false
}
