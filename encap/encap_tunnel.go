package encap

// PrependTunnel writes the tunnel-level headers in front of the inner IP
// packet buf[start:end]: for VXLAN the VXLAN header and inner Ethernet, for
// Geneve the Geneve header with options (and inner Ethernet unless
// p.GeneveIP), for IPIP nothing. It returns the new start; the caller owns
// buf, and only buf[newStart:start] is written. This is the datagram payload
// a UDP socket sends. Errors: DropTruncated (bad bounds or empty packet),
// DropUnsupportedInner (not IPv4/IPv6), DropNoHeadroom, DropNotTunnel (bad
// Kind).
func PrependTunnel(buf []byte, start, end int, p *Params) (newStart int, r DropReason) {
	if start < 0 || start >= end || end > len(buf) {
		return start, DropTruncated
	}
	et := etherTypeForVersion(buf[start] >> 4)
	if et == 0 {
		return start, DropUnsupportedInner
	}
	switch p.Kind {
	case KindIPIP:
		return start, DropNone
	case KindVXLAN:
		if start < VXLANLen+EthernetLen {
			return start, DropNoHeadroom
		}
		s := start - EthernetLen
		Ethernet(buf[s:start]).Encode(p.InnerDstMAC, p.InnerSrcMAC, et)
		s -= VXLANLen
		VXLAN(buf[s : s+VXLANLen]).Encode(p.VNI)
		return s, DropNone
	case KindGeneve:
		hdr := GeneveMinLen + len(p.GeneveOptions)
		need, proto := hdr, et
		if !p.GeneveIP {
			need += EthernetLen
			proto = EtherTypeTEB
		}
		if start < need {
			return start, DropNoHeadroom
		}
		s := start
		if !p.GeneveIP {
			s -= EthernetLen
			Ethernet(buf[s:start]).Encode(p.InnerDstMAC, p.InnerSrcMAC, et)
		}
		s -= hdr
		critical := len(p.GeneveOptions) > 0 && anyCritical(p.GeneveOptions)
		Geneve(buf[s:start]).Encode(p.VNI, proto, p.GeneveOptions, critical)
		return s, DropNone
	}
	return start, DropNotTunnel
}
