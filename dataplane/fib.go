package dataplane

import (
	"fmt"
	"net/netip"

	"github.com/podfwd/podfwd/encap"
	"github.com/podfwd/podfwd/lpm"
)

// hopLocal is the next-hop index of every local pod CIDR; peers follow.
const hopLocal = 0

// nextHop is where a route sends a packet: to the local pods (index 0) or
// to one peer through the tunnel.
type nextHop struct {
	peer      *Peer
	params    encap.Params
	dst       netip.AddrPort // peer's underlay address and tunnel port
	tunHdrLen int            // bytes PrependTunnel writes (0 for IPIP)
	outer     encap.Outer    // outer addresses, for whole frames
	frameLen  int            // bytes of outer Ethernet + IP (+ UDP) for whole frames

	tmpl *encap.Template // params and outer laid out once, for whole frames
	pmtu *PathMTU        // the peer's learned path MTU, or nil
}

// fib is a Config compiled for the hot path: LPM tables from destination to
// next-hop index, the next hops, and the peers by underlay address. It is
// immutable; the engine swaps whole fibs atomically.
type fib struct {
	cfg       *Config
	v4        *lpm.Table4
	v6        *lpm.Table6
	hops      []nextHop
	peers4    map[uint32]uint32   // IPv4 peer underlay address -> next-hop index
	peers6    map[[16]byte]uint32 // IPv6 peer underlay address -> next-hop index
	decap     encap.DecapConfig
	tunnelMTU int
	overhead  int // bytes the tunnel adds in front of an inner packet, outer IP included
	icmpSrc4  netip.Addr
	icmpSrc6  netip.Addr
}

// compile validates cfg and builds its fib.
func compile(cfg *Config) (*fib, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	f := &fib{
		cfg:       cfg,
		v4:        lpm.NewTable4(),
		v6:        lpm.NewTable6(),
		hops:      make([]nextHop, 1, 1+len(cfg.Peers)),
		peers4:    make(map[uint32]uint32, len(cfg.Peers)),
		peers6:    make(map[[16]byte]uint32),
		tunnelMTU: cfg.TunnelMTU(),
		overhead:  cfg.underlayMTU() - cfg.TunnelMTU(),
		icmpSrc4:  cfg.ICMPSource4,
		icmpSrc6:  cfg.ICMPSource6,
	}
	var b4, b6 lpm.Batch
	for _, p := range cfg.LocalPodCIDRs {
		addRoute(&b4, &b6, p, hopLocal)
		if p.Addr().Is4() && !f.icmpSrc4.IsValid() {
			f.icmpSrc4 = p.Masked().Addr().Next()
		}
		if p.Addr().Is6() && !f.icmpSrc6.IsValid() {
			f.icmpSrc6 = p.Masked().Addr().Next()
		}
	}
	port := cfg.Port
	if port == 0 {
		port = defaultPort(cfg.Encap)
	}
	for i := range cfg.Peers {
		peer := &cfg.Peers[i]
		idx := uint32(len(f.hops))
		params := cfg.tunnelParams(*peer)
		f.hops = append(f.hops, nextHop{
			peer:      peer,
			params:    params,
			dst:       netip.AddrPortFrom(peer.Underlay, port),
			tunHdrLen: tunnelHeaderLen(&params),
			outer:     encap.Outer{Src: cfg.LocalUnderlay, Dst: peer.Underlay},
			frameLen:  outerFrameLen(cfg),
			pmtu:      peer.PathMTU,
		})
		if peer.Underlay.Is4() {
			f.peers4[be32(peer.Underlay.As4())] = idx
		} else if peer.Underlay.Zone() == "" { // a zoned address never equals a received one
			f.peers6[peer.Underlay.As16()] = idx
		}
		for _, p := range peer.PodCIDRs {
			addRoute(&b4, &b6, p, idx)
		}
	}
	for i := range f.hops[1:] { // after the appends: a template keeps &outer
		h := &f.hops[1+i]
		h.tmpl = encap.NewTemplate(&h.params, &h.outer)
	}
	if err := f.v4.Apply(&b4); err != nil {
		return nil, fmt.Errorf("%w: ipv4 routes: %w", ErrInvalidConfig, err)
	}
	if err := f.v6.Apply(&b6); err != nil {
		return nil, fmt.Errorf("%w: ipv6 routes: %w", ErrInvalidConfig, err)
	}
	f.decap = encap.DecapConfig{ExpectVNI: cfg.VNI, AcceptIPIP: cfg.Encap == encap.KindIPIP}
	switch cfg.Encap {
	case encap.KindVXLAN:
		f.decap.VXLANPort = port
	case encap.KindGeneve:
		f.decap.GenevePort = port
	}
	return f, nil
}

func addRoute(b4, b6 *lpm.Batch, p netip.Prefix, hop uint32) {
	if p.Addr().Is4() {
		b4.Insert(p, hop)
	} else {
		b6.Insert(p, hop)
	}
}

// peerHop returns the next-hop index of the peer whose underlay address
// is a, and whether a is one. The keys are plain integers and arrays: a
// netip.Addr key goes through the generic map hash (24 bytes with a
// pointer), which was a tenth of the receive path's time per packet.
func (f *fib) peerHop(a netip.Addr) (hop uint32, ok bool) {
	if a.Is4() {
		hop, ok = f.peers4[be32(a.As4())]
		return hop, ok
	}
	if a.Zone() != "" {
		return 0, false
	}
	hop, ok = f.peers6[a.As16()]
	return hop, ok
}

// route looks up the next hop for dst; ok is false when nothing matches.
func (f *fib) route(dst netip.Addr) (hop uint32, prefixLen uint8, ok bool) {
	if dst.Is4() {
		return f.v4.Lookup(be32(dst.As4()))
	}
	a := dst.As16()
	return f.v6.Lookup(&a)
}

// peerMemo answers one batch's peerHop calls, remembering the last
// underlay address and its answer: a batch read from the underlay mostly
// comes from one or few peers. Start each batch with a fresh memo, as for
// routeMemo4.
type peerMemo struct {
	f     *fib
	addr  netip.Addr
	hop   uint32
	ok    bool
	valid bool
}

// peerHop is fib.peerHop, memoized.
func (m *peerMemo) peerHop(a netip.Addr) (hop uint32, ok bool) {
	if !m.valid || m.addr != a {
		m.hop, m.ok = m.f.peerHop(a)
		m.addr, m.valid = a, true
	}
	return m.hop, m.ok
}

// routeMemo4 answers the IPv4 lookups of one batch on one table version,
// remembering the last address looked up and its answer. The packets of a
// batch come mostly from few flows (a busy TCP stream fills whole
// batches), so most lookups are a compare; a miss costs that compare more
// than a plain lookup. Start each batch with a fresh memo: it must never
// outlive the fib it was made from.
type routeMemo4 struct {
	v     lpm.View4
	addr  uint32
	hop   uint32
	plen  uint8
	ok    bool
	valid bool
}

func newRouteMemo4(f *fib) routeMemo4 { return routeMemo4{v: f.v4.View()} }

// lookup is lpm.View4.Lookup, memoized.
func (m *routeMemo4) lookup(addr uint32) (hop uint32, prefixLen uint8, ok bool) {
	if !m.valid || m.addr != addr {
		m.hop, m.plen, m.ok = m.v.Lookup(addr)
		m.addr, m.valid = addr, true
	}
	return m.hop, m.plen, m.ok
}

// routeVia is f.route with IPv4 lookups answered by m.
func (f *fib) routeVia(m *routeMemo4, dst netip.Addr) (hop uint32, prefixLen uint8, ok bool) {
	if dst.Is4() {
		return m.lookup(be32(dst.As4()))
	}
	return f.route(dst)
}

func be32(a [4]byte) uint32 {
	return uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
}

// defaultPort is the UDP port of a tunnel kind when the config names none.
func defaultPort(k encap.Kind) uint16 {
	switch k {
	case encap.KindVXLAN:
		return encap.DefaultVXLANPort
	case encap.KindGeneve:
		return encap.DefaultGenevePort
	}
	return 0
}

// tunnelHeaderLen is how many bytes PrependTunnel writes for p: what a UDP
// socket io path sends in front of the inner IP packet.
func tunnelHeaderLen(p *encap.Params) int {
	switch p.Kind {
	case encap.KindVXLAN:
		return encap.EthernetLen + encap.VXLANLen
	case encap.KindGeneve:
		n := encap.GeneveMinLen + len(p.GeneveOptions)
		if !p.GeneveIP {
			n += encap.EthernetLen
		}
		return n
	}
	return 0
}

// outerFrameLen is what a whole frame adds in front of the tunnel header:
// outer Ethernet, IPv4 or IPv6, and UDP unless the encap is IPIP.
func outerFrameLen(cfg *Config) int {
	n := encap.EthernetLen + encap.IPv4MinLen
	if cfg.LocalUnderlay.Is6() {
		n = encap.EthernetLen + encap.IPv6Len
	}
	if cfg.Encap != encap.KindIPIP {
		n += encap.UDPLen
	}
	return n
}
