package trace

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/encap"
)

// ErrNoConfig is returned when a what-if packet is built with no config.
var ErrNoConfig = errors.New("trace: the engine has no config")

// Build makes the packet sp describes as the engine would see it on the
// live config cfg: an inner IP packet for egress; for ingress the whole
// outer IP packet a peer would send (the one owning sp.Src unless sp.From
// says otherwise), which Engine.Simulate decapsulates.
func Build(cfg *dataplane.Config, sp Spec) (dataplane.Direction, []byte, error) {
	if cfg == nil {
		return 0, nil, ErrNoConfig
	}
	inner := buildInner(&sp)
	dir := dataplane.Egress
	switch sp.Dir {
	case "ingress":
		dir = dataplane.Ingress
	case "":
		if inPrefixes(cfg.LocalPodCIDRs, sp.Dst) && !inPrefixes(cfg.LocalPodCIDRs, sp.Src) {
			dir = dataplane.Ingress
		}
	}
	if dir == dataplane.Egress {
		return dir, inner, nil
	}
	from, peer := sp.From, dataplane.Peer{}
	for _, p := range cfg.Peers {
		if (from.IsValid() && p.Underlay == from) || (!from.IsValid() && inPrefixes(p.PodCIDRs, sp.Src)) {
			peer = p
			break
		}
	}
	if !from.IsValid() {
		from = peer.Underlay
	}
	if !from.IsValid() {
		return 0, nil, fmt.Errorf("%w: no peer owns %s; say which underlay address it comes from with `from ADDR`", ErrFilter, sp.Src)
	}
	vni := cfg.VNI
	if sp.HasVNI {
		vni = sp.VNI
	}
	params := encap.Params{Kind: cfg.Encap, VNI: vni, Port: cfg.Port, TTL: cfg.TTL, GeneveOptions: cfg.GeneveOptions,
		SrcPortMin: cfg.SrcPortMin, SrcPortMax: cfg.SrcPortMax, InnerSrcMAC: peer.VTEPMAC, InnerDstMAC: cfg.LocalVTEPMAC}
	buf := make([]byte, dataplane.Headroom+len(inner))
	copy(buf[dataplane.Headroom:], inner)
	start, r := encap.PrependTunnel(buf, dataplane.Headroom, len(buf), &params)
	if r != encap.DropNone {
		return 0, nil, fmt.Errorf("trace: building the tunnel header: %s", r)
	}
	outer := &encap.Outer{Src: from, Dst: cfg.LocalUnderlay}
	start, r = encap.PrependOuter(buf, start, len(buf), &params, outer, inner, encap.FlowHash(inner))
	if r != encap.DropNone {
		return 0, nil, fmt.Errorf("trace: building the outer header from %s: %s", from, r)
	}
	return dir, buf[start:], nil
}

func inPrefixes(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// buildInner makes an IPv4 or IPv6 packet with a TCP SYN, a UDP datagram
// or an ICMP echo request, with valid checksums.
func buildInner(sp *Spec) []byte {
	v4 := sp.Src.Is4()
	ipLen := encap.IPv6Len
	if v4 {
		ipLen = encap.IPv4MinLen
	}
	proto := sp.Proto
	if proto == encap.ProtoICMP && !v4 {
		proto = encap.ProtoICMPv6
	}
	l4Len := 8 // UDP, ICMP echo
	if proto == encap.ProtoTCP {
		l4Len = encap.TCPMinLen
	}
	size := sp.Size
	if size < ipLen+l4Len {
		size = ipLen + l4Len + 64
	}
	pkt := make([]byte, size)
	for i := ipLen + l4Len; i < size; i++ {
		pkt[i] = byte(i)
	}
	l4 := pkt[ipLen:]
	var pseudo uint32
	if v4 {
		s, d := sp.Src.As4(), sp.Dst.As4()
		encap.IPv4(pkt).Encode(&encap.IPv4Fields{
			TotalLen: uint16(size), ID: 1, DF: true, // DF, as Linux sends
			TTL: sp.TTL, Protocol: proto, Src: s, Dst: d,
		})
		pseudo = encap.PseudoHeader4(s, d, proto, len(l4))
	} else {
		s, d := sp.Src.As16(), sp.Dst.As16()
		encap.IPv6(pkt).Encode(&encap.IPv6Fields{
			PayloadLen: uint16(size - ipLen), NextHeader: proto, HopLimit: sp.TTL, Src: s, Dst: d,
		})
		pseudo = encap.PseudoHeader6(&s, &d, proto, len(l4))
	}
	sport, dport := sp.SrcPort, sp.DstPort
	if sport == 0 {
		sport = 40000
	}
	switch proto {
	case encap.ProtoTCP:
		binary.BigEndian.PutUint16(l4[encap.TCPSrcPortOffset:], sport)
		binary.BigEndian.PutUint16(l4[encap.TCPDstPortOffset:], dport)
		l4[encap.TCPDataOffOffset] = encap.TCPMinLen / 4 << 4
		l4[encap.TCPFlagsOffset] = encap.TCPFlagSYN
		binary.BigEndian.PutUint16(l4[encap.TCPWindowOffset:], 64240)
		binary.BigEndian.PutUint16(l4[encap.TCPChecksumOffset:], encap.Checksum(l4, pseudo))
	case encap.ProtoUDP:
		binary.BigEndian.PutUint16(l4[encap.UDPSrcPortOffset:], sport)
		binary.BigEndian.PutUint16(l4[encap.UDPDstPortOffset:], dport)
		binary.BigEndian.PutUint16(l4[encap.UDPLengthOffset:], uint16(len(l4)))
		binary.BigEndian.PutUint16(l4[encap.UDPChecksumOffset:], encap.Checksum(l4, pseudo))
	case encap.ProtoICMP:
		l4[0] = 8 // echo request
		binary.BigEndian.PutUint16(l4[2:], encap.Checksum(l4, 0))
	case encap.ProtoICMPv6:
		l4[0] = 128 // echo request
		binary.BigEndian.PutUint16(l4[2:], encap.Checksum(l4, pseudo))
	}
	return pkt
}
