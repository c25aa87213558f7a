package node

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/podfwd/podfwd/encap"
)

var (
	pmtuLocal4 = netip.MustParseAddr("10.99.0.1")
	pmtuPeer4  = netip.MustParseAddr("10.99.0.2")
	pmtuLocal6 = netip.MustParseAddr("fd99::1")
	pmtuPeer6  = netip.MustParseAddr("fd99::2")
)

// quoted4 is the start of an outer IPv4 packet as an ICMP error quotes
// it: header, then 8 bytes of payload (a UDP header to dport for proto 17).
func quoted4(src, dst netip.Addr, proto byte, dport uint16) []byte {
	q := make([]byte, 28)
	q[0], q[9] = 0x45, proto
	copy(q[12:], src.AsSlice())
	copy(q[16:], dst.AsSlice())
	binary.BigEndian.PutUint16(q[22:], dport)
	return q
}

func fragNeeded4(mtu uint16, quoted []byte) []byte {
	msg := make([]byte, 8, 8+len(quoted))
	msg[0], msg[1] = icmp4DestUnreach, icmp4FragNeeded
	binary.BigEndian.PutUint16(msg[6:], mtu)
	return append(msg, quoted...)
}

func tooBig6(mtu uint32, src, dst netip.Addr, next byte, dport uint16) []byte {
	msg := make([]byte, 8+encap.IPv6Len+8)
	msg[0] = icmp6TooBig
	binary.BigEndian.PutUint32(msg[4:], mtu)
	q := msg[8:]
	q[0], q[6] = 0x60, next
	copy(q[8:], src.AsSlice())
	copy(q[24:], dst.AsSlice())
	binary.BigEndian.PutUint16(q[encap.IPv6Len+2:], dport)
	return msg
}

// TestParseTooBig feeds both parsers errors about our tunnel packets and
// about everything that must not count.
func TestParseTooBig(t *testing.T) {
	vxlan := tunnelMatch{local: pmtuLocal4, port: 8472}
	ipip := tunnelMatch{local: pmtuLocal4}
	geneve6 := tunnelMatch{local: pmtuLocal6, port: 6081}
	ipip6 := tunnelMatch{local: pmtuLocal6}
	ours4 := func() []byte { return fragNeeded4(1400, quoted4(pmtuLocal4, pmtuPeer4, 17, 8472)) }
	v4, v6 := parseFragNeeded4, parseTooBig6
	for _, c := range []struct {
		name  string
		parse func([]byte, tunnelMatch) (tooBig, bool)
		msg   []byte
		m     tunnelMatch
		peer  netip.Addr // invalid: not ours
	}{
		{"ours", v4, ours4(), vxlan, pmtuPeer4},
		{"ipip", v4, fragNeeded4(1400, quoted4(pmtuLocal4, pmtuPeer4, 4, 0)), ipip, pmtuPeer4},
		{"6in4", v4, fragNeeded4(1400, quoted4(pmtuLocal4, pmtuPeer4, 41, 0)), ipip, pmtuPeer4},
		{"other port", v4, fragNeeded4(1400, quoted4(pmtuLocal4, pmtuPeer4, 17, 53)), vxlan, netip.Addr{}},
		{"tcp", v4, fragNeeded4(1400, quoted4(pmtuLocal4, pmtuPeer4, 6, 8472)), vxlan, netip.Addr{}},
		{"udp for ipip", v4, ours4(), ipip, netip.Addr{}},
		{"not from us", v4, fragNeeded4(1400, quoted4(pmtuPeer4, pmtuLocal4, 17, 8472)), vxlan, netip.Addr{}},
		{"no MTU", v4, fragNeeded4(0, quoted4(pmtuLocal4, pmtuPeer4, 17, 8472)), vxlan, netip.Addr{}},
		{"port unreachable", v4, func() []byte { m := ours4(); m[1] = 3; return m }(), vxlan, netip.Addr{}},
		{"truncated", v4, ours4()[:20], vxlan, netip.Addr{}},
		{"short header", v4, func() []byte { m := ours4(); m[8] = 0x44; return m }(), vxlan, netip.Addr{}},
		{"ours6", v6, tooBig6(1400, pmtuLocal6, pmtuPeer6, 17, 6081), geneve6, pmtuPeer6},
		{"4in6", v6, tooBig6(1400, pmtuLocal6, pmtuPeer6, 4, 0), ipip6, pmtuPeer6},
		{"other port6", v6, tooBig6(1400, pmtuLocal6, pmtuPeer6, 17, 4789), geneve6, netip.Addr{}},
		{"not from us6", v6, tooBig6(1400, pmtuPeer6, pmtuLocal6, 17, 6081), geneve6, netip.Addr{}},
		{"no MTU6", v6, tooBig6(0, pmtuLocal6, pmtuPeer6, 17, 6081), geneve6, netip.Addr{}},
		{"huge MTU6", v6, tooBig6(1<<20, pmtuLocal6, pmtuPeer6, 17, 6081), geneve6, netip.Addr{}},
		{"truncated6", v6, tooBig6(1400, pmtuLocal6, pmtuPeer6, 17, 6081)[:40], geneve6, netip.Addr{}},
	} {
		got, ok := c.parse(c.msg, c.m)
		if ok != c.peer.IsValid() || ok && (got.peer != c.peer || got.mtu != 1400) {
			t.Errorf("%s: got %+v, %v; want peer %v with 1400", c.name, got, ok, c.peer)
		}
	}
}

func FuzzParseICMPErrors(f *testing.F) {
	f.Add(fragNeeded4(1400, quoted4(pmtuLocal4, pmtuPeer4, 17, 8472)))
	f.Add(tooBig6(1400, pmtuLocal6, pmtuPeer6, 17, 8472))
	f.Fuzz(func(t *testing.T, msg []byte) {
		// What an accepted error must be, read from fixed offsets of the
		// message (no IPv4 options assumed: an accepted message with them
		// still has its quoted source at 8+12).
		if tb, ok := parseFragNeeded4(msg, tunnelMatch{local: pmtuLocal4, port: 8472}); ok {
			if tb.mtu == 0 || !tb.peer.Is4() || msg[0] != 3 || msg[1] != 4 || tb.mtu != int(binary.BigEndian.Uint16(msg[6:])) ||
				netip.AddrFrom4([4]byte(msg[20:24])) != pmtuLocal4 || netip.AddrFrom4([4]byte(msg[24:28])) != tb.peer || msg[17] != 17 {
				t.Errorf("IPv4: accepted %+v from % x", tb, msg)
			}
		}
		if tb, ok := parseTooBig6(msg, tunnelMatch{local: pmtuLocal6, port: 8472}); ok {
			if tb.mtu == 0 || !tb.peer.Is6() || msg[0] != 2 || uint32(tb.mtu) != binary.BigEndian.Uint32(msg[4:]) ||
				netip.AddrFrom16([16]byte(msg[16:32])) != pmtuLocal6 || netip.AddrFrom16([16]byte(msg[32:48])) != tb.peer || msg[14] != 17 {
				t.Errorf("IPv6: accepted %+v from % x", tb, msg)
			}
		}
	})
}
