package encap

import "encoding/binary"

// Inner locates the inner IP packet inside a tunnel payload.
type Inner struct {
	Off       int    // where the inner IP packet starts in the payload (inner Ethernet stripped); it runs to the payload's end
	EtherType uint16 // EtherTypeIPv4 or EtherTypeIPv6
	VNI       uint32 // the tunnel's VNI
}

// DecapUDPPayload validates the VXLAN or Geneve header at the start of a UDP
// payload (what a UDP socket returns) and locates the inner IP packet without
// copying. The VNI must equal expectVNI. Geneve options are walked and
// bounds-checked; since this package understands no option, one with the
// critical bit set drops the packet (DropUnknownCriticalOption), and a
// control packet (O bit) is DropGeneveControl. kind KindIPIP, or any other,
// yields DropNotTunnel. Safe for concurrent use; payload is only read.
func DecapUDPPayload(payload []byte, kind Kind, expectVNI uint32) (Inner, DropReason) {
	off, et, vni, r := decapTunnel(payload, kind, expectVNI)
	if r != DropNone {
		return Inner{}, r
	}
	return Inner{Off: off, EtherType: et, VNI: vni}, DropNone
}

// decapTunnel is DecapUDPPayload with its results in registers rather than
// a struct, for DecapIPTo's hot path.
func decapTunnel(payload []byte, kind Kind, expectVNI uint32) (off int, et uint16, vni uint32, r DropReason) {
	var proto uint16
	switch kind {
	case KindVXLAN:
		if len(payload) < VXLANLen {
			return 0, 0, 0, DropTruncated
		}
		w := binary.BigEndian.Uint64(payload) // flags word, VNI and reserved byte
		if uint32(w>>32) != vxlanFlagsW {
			return 0, 0, 0, DropBadVXLANFlags
		}
		vni, off, proto = uint32(w)>>8, VXLANLen, EtherTypeTEB
	case KindGeneve:
		// One pass over the options: bounds and critical bits together.
		if len(payload) < GeneveMinLen {
			return 0, 0, 0, DropTruncated
		}
		g := Geneve(payload)
		if g.Version() != 0 {
			return 0, 0, 0, DropBadGeneveVersion
		}
		off = g.HeaderLen()
		if off > len(payload) {
			return 0, 0, 0, DropBadGeneveOptions
		}
		if off > GeneveMinLen {
			it := g.Options()
			for {
				o, ok := it.Next()
				if !ok {
					break
				}
				if o.Critical() {
					return 0, 0, 0, DropUnknownCriticalOption
				}
			}
			if it.Err() != DropNone {
				return 0, 0, 0, it.Err()
			}
		}
		if g.Control() {
			return 0, 0, 0, DropGeneveControl
		}
		vni, proto = g.VNI(), g.Protocol()
	default:
		return 0, 0, 0, DropNotTunnel
	}
	if vni != expectVNI {
		return 0, 0, 0, DropBadVNI
	}
	if proto == EtherTypeTEB {
		if len(payload) < off+EthernetLen {
			return 0, 0, 0, DropTruncated
		}
		proto = Ethernet(payload[off:]).EtherType()
		off += EthernetLen
	}
	if r := innerVersion(payload, off, proto); r != DropNone {
		return 0, 0, 0, r
	}
	return off, proto, vni, DropNone
}

// innerAt checks that an IP packet of the version proto announces starts at
// payload[off] and builds the Inner.
func innerAt(payload []byte, off int, proto uint16, vni uint32) (Inner, DropReason) {
	if r := innerVersion(payload, off, proto); r != DropNone {
		return Inner{}, r
	}
	return Inner{Off: off, EtherType: proto, VNI: vni}, DropNone
}

// innerVersion checks that an IP packet of the version proto announces
// starts at payload[off].
func innerVersion(payload []byte, off int, proto uint16) DropReason {
	var want byte
	switch proto {
	case EtherTypeIPv4:
		want = 4
	case EtherTypeIPv6:
		want = 6
	default:
		return DropUnsupportedInner
	}
	if off >= len(payload) {
		return DropTruncated
	}
	if payload[off]>>4 != want {
		return DropBadVersion
	}
	return DropNone
}
