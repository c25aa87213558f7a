package encap

import (
	"encoding/binary"
	"net/netip"
)

// DecapConfig says which tunnels this node accepts. A zero port means that
// kind is not accepted (use DefaultVXLANPort / DefaultGenevePort, or 8472 for
// flannel's VXLAN). Build it once; it is read concurrently.
type DecapConfig struct {
	VXLANPort  uint16 // UDP port for VXLAN; 0: no VXLAN
	GenevePort uint16 // UDP port for Geneve; 0: no Geneve
	ExpectVNI  uint32 // VNI every VXLAN/Geneve packet must carry
	AcceptIPIP bool   // accept IP protocol 4 / 41
}

// Decapped describes a decapsulated packet: the inner IP packet is
// pkt[InnerOff:InnerEnd], in the caller's buffer. With a drop reason the
// fields are partly filled (outer addresses, when parsed) and only good for
// logging.
type Decapped struct {
	Kind           Kind
	OuterSrc       netip.Addr
	OuterDst       netip.Addr
	VNI            uint32 // 0 for IPIP
	InnerOff       int
	InnerEtherType uint16 // EtherTypeIPv4 or EtherTypeIPv6
	InnerEnd       int    // end of the inner packet: outer IP total length / UDP length, not len(pkt)
}

// DecapIP validates an outer IPv4 or IPv6 packet (raw socket / AF_XDP path)
// and, if it is a tunnel cfg accepts, locates the inner IP packet without
// copying. IPv4 outer: version, header length, total length, header
// checksum, not a fragment. IPv6 outer: version and payload length; the
// tunnel protocol must be the first next header (a fragment header is
// DropOuterFragment, other extension headers DropNotTunnel). UDP: length
// within the IP payload and a destination port of cfg; then as
// DecapUDPPayload. The UDP checksum is not verified (the kernel or NIC does
// that for sockets; see the package report). Safe for concurrent use.
func DecapIP(pkt []byte, cfg *DecapConfig) (Decapped, DropReason) {
	var d Decapped
	r := DecapIPTo(&d, pkt, cfg)
	return d, r
}

// DecapIPTo is DecapIP writing its result into *d (overwritten entirely),
// which spares the hot path copying the result struct.
func DecapIPTo(d *Decapped, pkt []byte, cfg *DecapConfig) DropReason {
	*d = Decapped{}
	var proto uint8
	var payload, payloadEnd int
	if len(pkt) == 0 {
		return DropTruncated
	}
	switch pkt[0] >> 4 {
	case 4:
		ip := IPv4(pkt)
		if r := ip.Check(); r != DropNone {
			return r
		}
		if !ip.ChecksumValid() {
			return DropBadIPChecksum
		}
		if ip.IsFragment() {
			return DropOuterFragment
		}
		proto, payload, payloadEnd = ip.Protocol(), ip.HeaderLen(), int(ip.TotalLen())
		d.OuterSrc, d.OuterDst = ip.Src(), ip.Dst()
	case 6:
		ip := IPv6(pkt)
		if r := ip.Check(); r != DropNone {
			return r
		}
		proto, payload, payloadEnd = ip.NextHeader(), IPv6Len, IPv6Len+int(ip.PayloadLen())
		if proto == ipv6ExtFragment {
			return DropOuterFragment
		}
		d.OuterSrc, d.OuterDst = ip.Src(), ip.Dst()
	default:
		return DropBadVersion
	}
	switch proto {
	case ProtoUDP:
		return decapUDP(pkt[:payloadEnd], payload, cfg, d)
	case ProtoIPIP, ProtoIPv6:
		if !cfg.AcceptIPIP {
			return DropNotTunnel
		}
		et := uint16(EtherTypeIPv4)
		if proto == ProtoIPv6 {
			et = EtherTypeIPv6
		}
		in, r := innerAt(pkt[:payloadEnd], payload, et, 0)
		if r != DropNone {
			return r
		}
		d.Kind, d.InnerOff, d.InnerEtherType, d.InnerEnd = KindIPIP, in.Off, in.EtherType, payloadEnd
		return DropNone
	}
	return DropNotTunnel
}

// decapUDP handles the UDP header at pkt[off:] (pkt already cut to the IP
// packet's length) and the tunnel header after it.
func decapUDP(pkt []byte, off int, cfg *DecapConfig, d *Decapped) DropReason {
	if len(pkt)-off < UDPLen {
		return DropTruncated
	}
	u := UDP(pkt[off:])
	ul := int(u.Length())
	if ul < UDPLen || ul > len(u) {
		return DropBadLength
	}
	port := u.DstPort()
	switch {
	case port != 0 && port == cfg.VXLANPort:
		d.Kind = KindVXLAN
	case port != 0 && port == cfg.GenevePort:
		d.Kind = KindGeneve
	default:
		return DropNotTunnel
	}
	base := off + UDPLen
	if p := pkt[base : off+ul]; len(p) > VXLANLen+EthernetLen {
		// A good VXLAN packet, or a Geneve one without options carrying
		// Ethernet, without a call; anything else takes decapTunnel, which
		// also names the drop reason. Both headers are 8 bytes with the
		// VNI in the same place.
		w := binary.BigEndian.Uint64(p)
		ok := false
		switch d.Kind {
		case KindVXLAN:
			ok = uint32(w>>32) == vxlanFlagsW
		case KindGeneve: // version 0, no options, not control, protocol TEB
			ok = w>>56 == 0 && byte(w>>48)&geneveFlagO == 0 && uint16(w>>32) == EtherTypeTEB
		}
		et := binary.BigEndian.Uint16(p[VXLANLen+EthernetTypeOffset:])
		v := p[VXLANLen+EthernetLen] >> 4
		if ok && uint32(w)>>8 == cfg.ExpectVNI && (et == EtherTypeIPv4 && v == 4 || et == EtherTypeIPv6 && v == 6) {
			d.VNI, d.InnerOff, d.InnerEtherType, d.InnerEnd = cfg.ExpectVNI, base+VXLANLen+EthernetLen, et, off+ul
			return DropNone
		}
	}
	in, et, vni, r := decapTunnel(pkt[base:off+ul], d.Kind, cfg.ExpectVNI)
	if r != DropNone {
		return r
	}
	d.VNI, d.InnerOff, d.InnerEtherType, d.InnerEnd = vni, base+in, et, off+ul
	return DropNone
}
