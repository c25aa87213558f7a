package dataplane

import "encoding/binary"

// TraceGate is a necessary condition of a Tracer's Match on egress packets
// (inner IP packets, IP header first), in a form the egress loop tests
// itself: a few loads, masks and compares instead of a call through the
// Tracer interface and a parse. A packet the gate refuses is one Match
// would have refused; one it passes still goes to Match, which decides.
// Make one with NewTraceGate or GateAll; the zero TraceGate refuses every
// packet. A TraceGate is immutable.
type TraceGate struct {
	all   bool
	tests []GateTest
	// The IPv4 tests sorted by field, so that a packet's fields are each
	// read once and compared with nothing else. addr4 says there are only
	// address tests: the common gate of host and net filters, which
	// AnyPasses tests in its own loop.
	addr4          bool
	any4           bool
	addrs4         []addrTest
	proto4         []uint64
	sport4, dport4 []uint64
}

// addrTest holds for an IPv4 packet whose source masked with srcMask is
// src, or whose destination masked with dstMask is dst: one test of a
// source or a destination (the other side never holds: mask 0, value 1),
// or the pair "host 10.0.0.1" makes. Masks and values are in the byte
// order a native load of the address gives, which saves swapping it.
type addrTest struct{ srcMask, src, dstMask, dst uint32 }

// neverMask and neverValue fill the side an addrTest does not test.
const neverMask, neverValue = 0, 1

func (t *addrTest) holds(s, d uint32) bool { return s&t.srcMask == t.src || d&t.dstMask == t.dst }

// nativeOrder converts a big-endian 32-bit value to what a native load of
// its bytes gives.
func nativeOrder(v uint64) uint32 {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(v))
	return binary.NativeEndian.Uint32(b[:])
}

// addrTests pairs IPv4 source and destination tests that share a mask and
// value (as "host 10.0.0.1" makes them) into one addrTest each.
func addrTests(tests []GateTest) []addrTest {
	var out []addrTest
	dstUsed := make([]bool, len(tests))
	for _, t := range tests {
		if t.Version != 4 || t.Field != GateSrc {
			continue
		}
		m, v := nativeOrder(t.MaskLo), nativeOrder(t.Lo&t.MaskLo)
		a := addrTest{m, v, neverMask, neverValue}
		for j, u := range tests {
			if !dstUsed[j] && u.Version == 4 && u.Field == GateDst && u.MaskLo == t.MaskLo && u.Lo&u.MaskLo == t.Lo&t.MaskLo {
				dstUsed[j], a.dstMask, a.dst = true, m, v
				break
			}
		}
		out = append(out, a)
	}
	for j, u := range tests {
		if !dstUsed[j] && u.Version == 4 && u.Field == GateDst {
			out = append(out, addrTest{neverMask, neverValue, nativeOrder(u.MaskLo), nativeOrder(u.Lo & u.MaskLo)})
		}
	}
	return out
}

// GateAll returns the gate passing every packet: no cheaper condition.
func GateAll() TraceGate { return TraceGate{all: true} }

// NewTraceGate returns the gate passing a packet when any one of tests
// holds (none: no packet).
func NewTraceGate(tests []GateTest) TraceGate {
	g := TraceGate{tests: tests}
	for _, t := range tests {
		if t.Version != 4 {
			continue
		}
		switch t.Field {
		case GateVersion:
			g.any4 = true
		case GateProto:
			g.proto4 = append(g.proto4, t.Lo)
		case GateSrcPort:
			g.sport4 = append(g.sport4, t.Lo)
		case GateDstPort:
			g.dport4 = append(g.dport4, t.Lo)
		}
	}
	g.addrs4 = addrTests(tests)
	g.addr4 = !g.any4 && len(g.proto4)+len(g.sport4)+len(g.dport4) == 0
	return g
}

// All reports whether g passes every packet.
func (g *TraceGate) All() bool { return g.all }

// Never reports whether g refuses every packet.
func (g *TraceGate) Never() bool { return !g.all && len(g.tests) == 0 }

// Tests returns the tests g was made of.
func (g *TraceGate) Tests() []GateTest { return g.tests }

// GateField is the part of a packet a GateTest compares.
type GateField uint8

const (
	GateVersion GateField = iota // the IP version alone
	GateSrc                      // source address
	GateDst                      // destination address
	GateProto                    // IPv4 protocol / IPv6 next header (IPv6 extension headers pass)
	GateSrcPort                  // TCP, UDP or SCTP source port (IPv6 extension headers pass)
	GateDstPort                  // TCP, UDP or SCTP destination port (likewise)
)

// GateTest holds when the packet is IP of Version and its Field, as a
// big-endian number masked with Mask, equals Value. An address is Hi:Lo
// (IPv4 in the low 32 bits of Lo); a protocol or port is Lo, compared
// whole (no mask); a GateVersion test compares nothing. A port test never
// holds where the packet has no ports.
type GateTest struct {
	Version        uint8
	Field          GateField
	Hi, Lo         uint64
	MaskHi, MaskLo uint64
}

// A Tracer that implements Gater is asked for its egress gate once, when
// it is installed.
type Gater interface {
	EgressGate() TraceGate
}

// Pass reports whether pkt, an egress packet, may match.
func (g *TraceGate) Pass(pkt []byte) bool {
	if g.all {
		return true
	}
	if len(pkt) < 20 {
		return false
	}
	switch pkt[0] >> 4 {
	case 4:
		return g.pass4(pkt)
	case 6:
		if len(pkt) < 40 {
			return false
		}
		for i := range g.tests {
			if t := &g.tests[i]; t.Version == 6 && t.holds6(pkt) {
				return true
			}
		}
	}
	return false
}

// pass4 reads each field of an IPv4 packet at most once, and only when a
// test looks at it.
func (g *TraceGate) pass4(pkt []byte) bool {
	if g.any4 {
		return true
	}
	s, d := binary.NativeEndian.Uint32(pkt[12:]), binary.NativeEndian.Uint32(pkt[16:])
	for i := range g.addrs4 {
		if g.addrs4[i].holds(s, d) {
			return true
		}
	}
	for _, p := range g.proto4 {
		if uint64(pkt[9]) == p {
			return true
		}
	}
	if len(g.sport4)+len(g.dport4) == 0 {
		return false
	}
	// Ports only where the header says they are.
	hl := int(pkt[0]&0x0f) * 4
	if !gatePorts(pkt[9]) || binary.BigEndian.Uint16(pkt[6:])&0x1fff != 0 || hl < 20 || len(pkt) < hl+4 {
		return false
	}
	return gateHasPort(g.sport4, binary.BigEndian.Uint16(pkt[hl:])) || gateHasPort(g.dport4, binary.BigEndian.Uint16(pkt[hl+2:]))
}

func gateHasPort(ports []uint64, p uint16) bool {
	for _, q := range ports {
		if uint64(p) == q {
			return true
		}
	}
	return false
}

func (t *GateTest) holds6(pkt []byte) bool {
	var v uint64
	switch t.Field {
	case GateVersion:
		return true
	case GateSrc:
		return binary.BigEndian.Uint64(pkt[8:])&t.MaskHi == t.Hi && binary.BigEndian.Uint64(pkt[16:])&t.MaskLo == t.Lo
	case GateDst:
		return binary.BigEndian.Uint64(pkt[24:])&t.MaskHi == t.Hi && binary.BigEndian.Uint64(pkt[32:])&t.MaskLo == t.Lo
	case GateProto:
		if gateExt6(pkt[6]) {
			return true
		}
		v = uint64(pkt[6])
	default:
		if gateExt6(pkt[6]) {
			return true
		}
		if !gatePorts(pkt[6]) || len(pkt) < 44 {
			return false
		}
		v = uint64(gatePort(pkt[40:], t.Field))
	}
	return v == t.Lo
}

func gatePort(l4 []byte, f GateField) uint16 {
	if f == GateSrcPort {
		return binary.BigEndian.Uint16(l4)
	}
	return binary.BigEndian.Uint16(l4[2:])
}

// gatePorts says which protocols have ports where a filter looks for them.
func gatePorts(proto uint8) bool { return proto == 6 || proto == 17 || proto == 132 }

// gateExt6 says whether an IPv6 next header is an extension header that
// hides the protocol behind it (hop-by-hop, routing, fragment, AH,
// destination options).
func gateExt6(nh uint8) bool { return nh == 0 || nh == 43 || nh == 44 || nh == 51 || nh == 60 }
