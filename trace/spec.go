package trace

import (
	"fmt"
	"net/netip"
	"strconv"
)

// Spec describes a what-if packet: `src 10.244.1.5 dst 10.244.2.7 tcp dport 80`.
// Words: src/dst [host] ADDR, tcp|udp|icmp, sport N, dport N (port N is
// dport), ttl N, size N (inner IP bytes), egress|ingress (default: ingress
// when dst is a local pod and src is not, else egress), from ADDR (outer
// source of an ingress packet; default the peer owning src), vni N (of an
// ingress packet; default the node's).
type Spec struct {
	Src, Dst         netip.Addr
	Proto            uint8 // 1 (ICMP echo, ICMPv6 for IPv6), 6 or 17; default 1
	SrcPort, DstPort uint16
	TTL              uint8 // default 64
	Size             int   // default: headers plus 64 bytes of payload
	Dir              string
	From             netip.Addr
	VNI              uint32
	HasVNI           bool
}

// ParseSpec parses a what-if packet description. Errors wrap ErrFilter.
func ParseSpec(s string) (Spec, error) {
	toks, err := tokenize(s)
	if err != nil {
		return Spec{}, err
	}
	sp := Spec{Proto: 1, TTL: 64}
	p := &parser{toks: toks}
	num := func(max uint64, what string) (uint64, error) {
		t := p.next()
		v, err := strconv.ParseUint(t, 10, 32)
		if err != nil || v > max {
			return 0, p.errorf("%q is not a %s (0..%d)", t, what, max)
		}
		return v, nil
	}
	addr := func() (netip.Addr, error) {
		t := p.next()
		if t == "host" {
			t = p.next()
		}
		a, err := netip.ParseAddr(t)
		if err != nil || a.Zone() != "" {
			return netip.Addr{}, p.errorf("%q is not an IP address", t)
		}
		return a.Unmap(), nil
	}
	for p.pos < len(p.toks) {
		var v uint64
		switch t := p.next(); t {
		case "and":
		case "src":
			sp.Src, err = addr()
		case "dst":
			sp.Dst, err = addr()
		case "from":
			sp.From, err = addr()
		case "tcp":
			sp.Proto = 6
		case "udp":
			sp.Proto = 17
		case "icmp", "icmp6":
			sp.Proto = 1
		case "sport":
			v, err = num(65535, "port")
			sp.SrcPort = uint16(v)
		case "dport", "port":
			v, err = num(65535, "port")
			sp.DstPort = uint16(v)
		case "ttl":
			v, err = num(255, "TTL")
			sp.TTL = uint8(v)
		case "size":
			v, err = num(65535, "size")
			sp.Size = int(v)
		case "vni":
			v, err = num(1<<24-1, "VNI")
			sp.VNI, sp.HasVNI = uint32(v), true
		case "egress", "ingress":
			sp.Dir = t
		default:
			return Spec{}, p.errorf("unknown word %q in a what-if packet", t)
		}
		if err != nil {
			return Spec{}, err
		}
	}
	if !sp.Src.IsValid() || !sp.Dst.IsValid() {
		return Spec{}, fmt.Errorf("%w: a what-if packet needs src and dst addresses", ErrFilter)
	}
	if sp.Src.Is4() != sp.Dst.Is4() {
		return Spec{}, fmt.Errorf("%w: src %s and dst %s are not the same IP family", ErrFilter, sp.Src, sp.Dst)
	}
	if sp.Proto == 1 && (sp.SrcPort != 0 || sp.DstPort != 0) {
		sp.Proto = 6 // ports named without a protocol: TCP, as a user would mean
	}
	return sp, nil
}
