package encap

import "encoding/binary"

// Odd 64-bit constants (from the splitmix64/murmur3 finalizers) for mixing.
const (
	mixK1 = 0x9e3779b97f4a7c15
	mixK2 = 0xbf58476d1ce4e5b9
	mixK3 = 0x94d049bb133111eb
	mixK4 = 0xff51afd7ed558ccd
)

// FlowHash returns a hash of the inner packet's 5-tuple (addresses,
// protocol, and ports for TCP/UDP/SCTP when present and not a fragment);
// otherwise of addresses and protocol. It is deterministic across runs and
// processes, so every node hashes a flow alike, and it never allocates.
// Malformed input yields some hash, never a panic.
func FlowHash(ip []byte) uint32 {
	if len(ip) == 0 {
		return 0
	}
	var a, tail uint64
	switch ip[0] >> 4 {
	case 4:
		if len(ip) < IPv4MinLen {
			return 0
		}
		a = uint64(binary.BigEndian.Uint32(ip[IPv4SrcOffset:]))<<32 | uint64(binary.BigEndian.Uint32(ip[IPv4DstOffset:]))
		proto := ip[IPv4ProtocolOffset]
		tail = uint64(proto)
		hl := int(ip[0]&0x0f) * 4
		if hasPorts(proto) && !IPv4(ip).IsFragment() && hl >= IPv4MinLen && len(ip) >= hl+4 {
			tail |= uint64(binary.BigEndian.Uint32(ip[hl:])) << 8
		}
	case 6:
		if len(ip) < IPv6Len {
			return 0
		}
		// Independent multiplies (they run in parallel) by distinct odd
		// constants, so equal halves or swapped addresses do not cancel.
		a = binary.BigEndian.Uint64(ip[IPv6SrcOffset:])*mixK1 + binary.BigEndian.Uint64(ip[IPv6SrcOffset+8:])*mixK2 +
			binary.BigEndian.Uint64(ip[IPv6DstOffset:])*mixK3 + binary.BigEndian.Uint64(ip[IPv6DstOffset+8:])
		proto := ip[IPv6NextHeaderOffset]
		tail = uint64(proto)
		if hasPorts(proto) && len(ip) >= IPv6Len+4 {
			tail |= uint64(binary.BigEndian.Uint32(ip[IPv6Len:])) << 8
		}
	default:
		return 0
	}
	// Two multiplies: enough to spread any input bit over the high half,
	// which is what SourcePort and the flow label consume.
	h := (a ^ tail*mixK2) * mixK4
	return uint32(h>>32) ^ uint32(h>>7)
}

// hasPorts reports whether protocol carries 16-bit ports in its first 4 bytes.
func hasPorts(protocol uint8) bool {
	return protocol == ProtoTCP || protocol == ProtoUDP || protocol == ProtoSCTP
}

// SourcePort maps hash into [min, max) with the Linux kernel's formula
// (udp_flow_src_port): ((u64)hash * (max - min)) >> 32) + min. min = max = 0
// selects the kernel's default range 32768-60999; max <= min yields min.
func SourcePort(hash uint32, min, max uint16) uint16 {
	if min == 0 && max == 0 {
		min, max = DefaultSrcPortMin, DefaultSrcPortMax
	}
	if max <= min {
		return min
	}
	return uint16((uint64(hash)*uint64(max-min))>>32) + min
}

// flowLabel derives a non-zero 20-bit IPv6 flow label from a flow hash, as
// Linux's ip6_make_flowlabel folds the hash before masking.
func flowLabel(hash uint32) uint32 {
	l := (hash ^ hash>>12) & 0xfffff
	if l == 0 {
		l = 1
	}
	return l
}
