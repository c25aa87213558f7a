package encap

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
	var off int
	var vni uint32
	var proto uint16
	switch kind {
	case KindVXLAN:
		if len(payload) < VXLANLen {
			return Inner{}, DropTruncated
		}
		v := VXLAN(payload)
		if !v.FlagsValid() {
			return Inner{}, DropBadVXLANFlags
		}
		vni, off, proto = v.VNI(), VXLANLen, EtherTypeTEB
	case KindGeneve:
		// One pass over the options: bounds and critical bits together.
		if len(payload) < GeneveMinLen {
			return Inner{}, DropTruncated
		}
		g := Geneve(payload)
		if g.Version() != 0 {
			return Inner{}, DropBadGeneveVersion
		}
		off = g.HeaderLen()
		if off > len(payload) {
			return Inner{}, DropBadGeneveOptions
		}
		if off > GeneveMinLen {
			it := g.Options()
			for {
				o, ok := it.Next()
				if !ok {
					break
				}
				if o.Critical() {
					return Inner{}, DropUnknownCriticalOption
				}
			}
			if it.Err() != DropNone {
				return Inner{}, it.Err()
			}
		}
		if g.Control() {
			return Inner{}, DropGeneveControl
		}
		vni, proto = g.VNI(), g.Protocol()
	default:
		return Inner{}, DropNotTunnel
	}
	if vni != expectVNI {
		return Inner{}, DropBadVNI
	}
	if proto == EtherTypeTEB {
		if len(payload) < off+EthernetLen {
			return Inner{}, DropTruncated
		}
		proto = Ethernet(payload[off:]).EtherType()
		off += EthernetLen
	}
	return innerAt(payload, off, proto, vni)
}

// innerAt checks that an IP packet of the version proto announces starts at
// payload[off] and builds the Inner.
func innerAt(payload []byte, off int, proto uint16, vni uint32) (Inner, DropReason) {
	var want byte
	switch proto {
	case EtherTypeIPv4:
		want = 4
	case EtherTypeIPv6:
		want = 6
	default:
		return Inner{}, DropUnsupportedInner
	}
	if off >= len(payload) {
		return Inner{}, DropTruncated
	}
	if payload[off]>>4 != want {
		return Inner{}, DropBadVersion
	}
	return Inner{Off: off, EtherType: proto, VNI: vni}, DropNone
}
