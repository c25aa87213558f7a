package trace

import (
	"encoding/binary"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/encap"
)

// Hint tells the dissector what tunnels the node speaks, so that a packet
// the engine sees can be split into outer and inner headers. The zero value
// guesses VXLAN or Geneve from the tunnel header and knows the IANA ports
// and flannel's 8472.
type Hint struct {
	Kind encap.Kind // the node's tunnel format
	Port uint16     // its UDP port; 0: the format's default
	// Frames says ingress packets are whole Ethernet frames (xdp io).
	Frames bool
}

// HintFor returns the hint of a dataplane config (nil gives the zero hint).
func HintFor(cfg *dataplane.Config) Hint {
	if cfg == nil {
		return Hint{}
	}
	return Hint{Kind: cfg.Encap, Port: cfg.Port}
}

// view is what a filter looks at: up to two IP layers (outer, inner),
// parsed straight into place, and the tunnel's VNI. It lives on the stack
// of Match; only the first n layers are ever written or read.
type view struct {
	n      int
	layers [2]layer
	hasVNI bool
	vni    uint32
}

// parse parses the IP packet pkt into the next layer.
func (v *view) parse(pkt []byte) (*layer, bool) {
	if v.n == len(v.layers) {
		return nil, false
	}
	l := &v.layers[v.n]
	if !parseLayer(pkt, l) {
		return nil, false
	}
	v.n++
	return l, true
}

// dissect fills v from pkt as the engine sees it in direction dir: an
// inner IP packet on egress; on ingress either an outer IP packet (raw
// socket and AF_XDP io) or a UDP tunnel payload (UDP socket io), told apart
// by the first nibble (a VXLAN or Geneve header never starts with 4 or 6).
func (h *Hint) dissect(dir dataplane.Direction, pkt []byte, v *view) {
	if len(pkt) == 0 {
		return
	}
	if h.Frames && dir == dataplane.Ingress {
		ip, ok := etherPayload(pkt)
		if !ok {
			return
		}
		pkt = ip
	}
	if dir == dataplane.Egress || pkt[0]>>4 == 4 || pkt[0]>>4 == 6 {
		l, ok := v.parse(pkt)
		if !ok || dir == dataplane.Egress {
			return
		}
		hl := l.hdrLen
		switch {
		case l.proto == encap.ProtoIPIP || l.proto == encap.ProtoIPv6:
			v.parse(pkt[hl:])
		case l.proto == encap.ProtoUDP && h.isTunnelPort(l.dport) && len(pkt) >= hl+encap.UDPLen:
			h.payload(pkt[hl+encap.UDPLen:], h.kindForPort(l.dport), v)
		}
		return
	}
	h.payload(pkt, h.Kind, v)
}

// payload dissects a VXLAN or Geneve header and the inner packet after it.
func (h *Hint) payload(pkt []byte, kind encap.Kind, v *view) {
	if len(pkt) < 8 {
		return
	}
	if kind != encap.KindVXLAN && kind != encap.KindGeneve {
		kind = encap.KindGeneve
		if pkt[0] == 0x08 { // VXLAN: only the I flag set
			kind = encap.KindVXLAN
		}
	}
	// Both headers carry the VNI in bytes 4..6; take it as the expected
	// one so that a packet with a foreign VNI is still dissected.
	vni := binary.BigEndian.Uint32(pkt[4:8]) >> 8
	in, r := encap.DecapUDPPayload(pkt, kind, vni)
	if r != encap.DropNone {
		return
	}
	v.hasVNI, v.vni = true, vni
	v.parse(pkt[in.Off:])
}

// etherPayload returns the IP packet in an Ethernet frame (one VLAN tag
// allowed), or false when the frame carries no IP.
func etherPayload(frame []byte) ([]byte, bool) {
	off := encap.EthernetLen
	if len(frame) < off {
		return nil, false
	}
	et := encap.Ethernet(frame).EtherType()
	if et == encap.EtherTypeVLAN && len(frame) >= off+4 {
		et, off = binary.BigEndian.Uint16(frame[encap.EthernetLen+2:]), off+4 // the tag's TCI, then the EtherType
	}
	if (et != encap.EtherTypeIPv4 && et != encap.EtherTypeIPv6) || len(frame) == off {
		return nil, false
	}
	return frame[off:], true
}

func (h *Hint) isTunnelPort(p uint16) bool {
	if h.Port != 0 && p == h.Port {
		return true
	}
	return p == encap.DefaultVXLANPort || p == encap.DefaultGenevePort || p == 8472
}

func (h *Hint) kindForPort(p uint16) encap.Kind {
	switch {
	case h.Port != 0 && p == h.Port:
		return h.Kind
	case p == encap.DefaultGenevePort:
		return encap.KindGeneve
	}
	return encap.KindVXLAN
}

// match evaluates n against v.
func (n *node) match(v *view) bool {
	switch n.kind {
	case nodeAll:
		return true
	case nodeNone:
		return false
	case nodeAnd:
		return n.left.match(v) && n.right.match(v)
	case nodeOr:
		return n.left.match(v) || n.right.match(v)
	case nodeNot:
		return !n.left.match(v)
	case nodeVNI:
		return v.hasVNI && v.vni == n.num
	}
	for i := 0; i < v.n; i++ {
		if n.matchLayer(&v.layers[i]) {
			return true
		}
	}
	return false
}

func (n *node) matchLayer(l *layer) bool {
	switch n.kind {
	case nodeHost, nodeNet:
		return l.ver == n.ver && ((n.side != dstSide && l.src.masked(n.mask) == n.val) ||
			(n.side != srcSide && l.dst.masked(n.mask) == n.val))
	case nodePort:
		if !hasPorts(l.proto) {
			return false
		}
		p := uint16(n.num)
		return (n.side != dstSide && l.sport == p) || (n.side != srcSide && l.dport == p)
	case nodeProto:
		return uint32(l.proto) == n.num || uint32(l.proto) == n.num2
	case nodeVersion:
		return uint32(l.ver) == n.num
	}
	return false
}

func hasPorts(proto uint8) bool { return proto == 6 || proto == 17 || proto == 132 }

// Match reports whether pkt, seen by the engine in direction dir, passes
// the filter. It allocates nothing and only reads pkt.
func (f *Filter) Match(h *Hint, dir dataplane.Direction, pkt []byte) bool {
	c := &f.byDir[dir&1]
	switch c.root.kind {
	case nodeAll:
		return true
	case nodeNone:
		return false
	}
	var v view
	h.dissect(dir, pkt, &v)
	return c.root.match(&v)
}
