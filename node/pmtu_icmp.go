package node

import (
	"encoding/binary"
	"net/netip"

	"github.com/podfwd/podfwd/encap"
)

// tunnelMatch says which outer packets are ours: from local to a peer,
// UDP to port (VXLAN, Geneve) or IP protocol 4 or 41 (IPIP).
type tunnelMatch struct {
	local netip.Addr
	port  uint16 // 0: IPIP
}

// tooBig is what one ICMP error about one of our tunnel packets says: the
// peer it was sent to and the MTU of the hop that refused it.
type tooBig struct {
	peer netip.Addr
	mtu  int
}

// ICMP types and codes of "the packet was too big" (RFC 792, RFC 4443).
const (
	icmp4DestUnreach = 3
	icmp4FragNeeded  = 4
	icmp6TooBig      = 2
)

// parseFragNeeded4 reads an ICMPv4 message (from its type byte on, as a
// raw ICMP socket's payload after the IP header) and reports whether it is
// a fragmentation-needed error quoting one of m's tunnel packets, with
// the next-hop MTU it carries. An error without an MTU (RFC 1191's zero,
// from a router that predates it) tells nothing usable.
func parseFragNeeded4(msg []byte, m tunnelMatch) (tooBig, bool) {
	if len(msg) < 8+encap.IPv4MinLen || msg[0] != icmp4DestUnreach || msg[1] != icmp4FragNeeded {
		return tooBig{}, false
	}
	mtu := int(binary.BigEndian.Uint16(msg[6:]))
	q := msg[8:]
	ihl := int(q[0]&0x0f) * 4
	if q[0]>>4 != 4 || ihl < encap.IPv4MinLen || len(q) < ihl || mtu == 0 {
		return tooBig{}, false
	}
	src := netip.AddrFrom4([4]byte(q[12:16]))
	dst := netip.AddrFrom4([4]byte(q[16:20]))
	if src != m.local || !m.ours(q[9], q[ihl:]) {
		return tooBig{}, false
	}
	return tooBig{peer: dst, mtu: mtu}, true
}

// parseTooBig6 is parseFragNeeded4 for an ICMPv6 packet too big, as a raw
// ICMPv6 socket returns it (no IPv6 header).
func parseTooBig6(msg []byte, m tunnelMatch) (tooBig, bool) {
	if len(msg) < 8+encap.IPv6Len || msg[0] != icmp6TooBig || msg[1] != 0 {
		return tooBig{}, false
	}
	mtu := binary.BigEndian.Uint32(msg[4:])
	q := msg[8:]
	if q[0]>>4 != 6 || mtu == 0 || mtu > 0xffff {
		return tooBig{}, false
	}
	src := netip.AddrFrom16([16]byte(q[8:24]))
	dst := netip.AddrFrom16([16]byte(q[24:40]))
	if src != m.local || !m.ours(q[6], q[encap.IPv6Len:]) {
		return tooBig{}, false
	}
	return tooBig{peer: dst, mtu: int(mtu)}, true
}

// ours reports whether a quoted outer packet's protocol and the start of
// its payload are one of our tunnel packets'.
func (m tunnelMatch) ours(proto byte, payload []byte) bool {
	if m.port == 0 {
		return proto == 4 || proto == 41
	}
	return proto == 17 && len(payload) >= 4 && binary.BigEndian.Uint16(payload[2:]) == m.port
}
