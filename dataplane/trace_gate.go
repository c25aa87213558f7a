package dataplane

import "encoding/binary"

// TraceGate is a necessary condition of a Tracer's Match on egress packets
// (inner IP packets, IP header first), in a form the egress loop tests
// inline: a few loads, masks and compares instead of a call through the
// Tracer interface and a parse. A packet the gate refuses is one Match
// would have refused; one it passes still goes to Match, which decides.
// The zero TraceGate refuses every packet.
type TraceGate struct {
	// All passes every packet: the tracer offers no cheaper condition.
	All bool
	// Tests pass a packet when any one of them holds.
	Tests []GateTest
}

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

// GateTest holds when the packet is valid IP of Version and its Field,
// as a big-endian number masked with Mask, equals Value. An address is
// Hi:Lo (IPv4 in the low 32 bits of Lo); protocols and ports use Lo.
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
	if g.All {
		return true
	}
	if len(pkt) < 20 {
		return false
	}
	switch pkt[0] >> 4 {
	case 4:
		for i := range g.Tests {
			if t := &g.Tests[i]; t.Version == 4 && t.holds4(pkt) {
				return true
			}
		}
	case 6:
		if len(pkt) < 40 {
			return false
		}
		for i := range g.Tests {
			if t := &g.Tests[i]; t.Version == 6 && t.holds6(pkt) {
				return true
			}
		}
	}
	return false
}

func (t *GateTest) holds4(pkt []byte) bool {
	var v uint64
	switch t.Field {
	case GateVersion:
		return true
	case GateSrc:
		v = uint64(binary.BigEndian.Uint32(pkt[12:]))
	case GateDst:
		v = uint64(binary.BigEndian.Uint32(pkt[16:]))
	case GateProto:
		v = uint64(pkt[9])
	default: // ports: only where the header says they are
		hl := int(pkt[0]&0x0f) * 4
		if !gatePorts(pkt[9]) || binary.BigEndian.Uint16(pkt[6:])&0x1fff != 0 || hl < 20 || len(pkt) < hl+4 {
			return false
		}
		v = uint64(gatePort(pkt[hl:], t.Field))
	}
	return v&t.MaskLo == t.Lo
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
	return v&t.MaskLo == t.Lo
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
