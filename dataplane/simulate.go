package dataplane

import (
	"encoding/binary"
	"github.com/podfwd/podfwd/dataplane/offload"
	"net/netip"

	"github.com/podfwd/podfwd/encap"
)

// Simulate runs the decisions the forwarding loops would take for pkt in
// direction dir against the installed config, reporting every stage to t
// (t.Match is not called), without touching any port or counter. pkt is an
// inner IP packet for Egress and a whole outer IP packet (the tunnel
// headers included, as a peer would send it) for Ingress. pkt is only read.
// Safe to call concurrently with forwarding. It mirrors egressLoop.one and
// ingressLoop.one; GSO splitting and GRO coalescing are not simulated.
func (e *Engine) Simulate(dir Direction, pkt []byte, t Tracer) {
	f := e.fib.Load()
	if dir == Egress {
		e.simulateEgress(f, pkt, t)
		return
	}
	e.simulateIngress(f, pkt, t)
}

func (e *Engine) simulateEgress(f *fib, pkt []byte, t Tracer) {
	t.Record(&TraceEvent{Dir: Egress, Stage: StageReceive, Port: e.opts.Pod.Name(), Packet: pkt, Generation: generation(f)})
	drop := func(r Reason) { t.Record(&TraceEvent{Dir: Egress, Stage: StageDrop, Reason: r, Packet: pkt}) }
	if f == nil {
		drop(ReasonNoConfig)
		return
	}
	var flow encap.Flow
	if r := encap.ParseInner(pkt, &flow); r != encap.DropNone {
		drop(FromEncap(r))
		return
	}
	t.Record(&TraceEvent{Dir: Egress, Stage: StageParse, Flow: flow, Packet: pkt})
	hop, plen, ok := f.route(flow.Dst)
	ev := TraceEvent{Dir: Egress, Stage: StageRoute, Local: ok && hop == hopLocal}
	if ok {
		ev.Prefix, _ = flow.Dst.Prefix(int(plen))
		if hop != hopLocal {
			ev.Peer, ev.Outer = f.hops[hop].peer.Name, f.hops[hop].dst
		}
	}
	t.Record(&ev)
	switch {
	case !ok:
		drop(ReasonNoRoute)
		return
	case hop == hopLocal:
		drop(ReasonLocalLoop)
		return
	case flow.TTL <= 1:
		drop(ReasonTTLExceeded)
		e.simulateICMP(f, pkt, t, ReasonTTLExceeded, 0)
		return
	case len(pkt) > f.tunnelMTU:
		drop(ReasonTooBig)
		if flow.Version == 6 || flow.DF {
			e.simulateICMP(f, pkt, t, ReasonTooBig, f.tunnelMTU)
		}
		return
	}
	nh := &f.hops[hop]
	if e.opts.UnderlayKind == UnderlayFrame && nh.peer.UnderlayMAC == ([6]byte{}) {
		drop(ReasonNeighbourUnresolved) // as wrap does: no next-hop MAC yet
		return
	}
	buf := make([]byte, Headroom+len(pkt))
	start, end := Headroom, len(buf)
	copy(buf[start:], pkt)
	// Frame io (AF_XDP) would prepend outer Ethernet, IP and UDP as well;
	// the simulation shows the tunnel payload, as for UDP sockets.
	if e.opts.UnderlayKind != UnderlayIP {
		s, r := encap.PrependTunnel(buf, start, end, &nh.params)
		if r != encap.DropNone {
			drop(FromEncap(r))
			return
		}
		start = s
	}
	t.Record(&TraceEvent{Dir: Egress, Stage: StageEncap, Kind: nh.params.Kind, VNI: nh.params.VNI,
		Peer: nh.peer.Name, Outer: nh.dst, Packet: buf[start:end]})
	port := e.underlayPort(flow.Version)
	t.Record(&TraceEvent{Dir: Egress, Stage: StageSend, Port: port.Name(), Outer: nh.dst, Packet: buf[start:end]})
}

// simulateICMP reports the ICMP error the egress loop would answer with.
func (e *Engine) simulateICMP(f *fib, pkt []byte, t Tracer, r Reason, mtu int) {
	src := f.icmpSrc4
	if pkt[0]>>4 == 6 {
		src = f.icmpSrc6
	}
	if !src.IsValid() {
		return
	}
	buf := make([]byte, 1500)
	var n int
	switch {
	case r == ReasonTTLExceeded:
		n = encap.BuildTimeExceeded(buf, pkt, src)
	case pkt[0]>>4 == 6:
		n = encap.BuildPacketTooBig6(buf, pkt, src, mtu)
	default:
		n = encap.BuildFragNeeded4(buf, pkt, src, mtu)
	}
	if n > 0 {
		t.Record(&TraceEvent{Dir: Egress, Stage: StageICMP, Reason: r, Packet: buf[:n]})
	}
}

func (e *Engine) simulateIngress(f *fib, pkt []byte, t Tracer) {
	port := e.opts.Underlay
	if e.opts.Underlay6 != nil && len(pkt) > 9 && pkt[0]>>4 == 4 && pkt[9] == encap.ProtoIPv6 {
		port = e.opts.Underlay6
	}
	var d encap.Decapped
	r := encap.DecapIPTo(&d, pkt, decapConfig(f))
	ev := TraceEvent{Dir: Ingress, Stage: StageReceive, Port: port.Name(), Packet: pkt, Generation: generation(f)}
	if d.OuterSrc.IsValid() {
		ev.Outer = netip.AddrPortFrom(d.OuterSrc, outerSrcPort(pkt))
	}
	t.Record(&ev)
	drop := func(b []byte, r Reason) { t.Record(&TraceEvent{Dir: Ingress, Stage: StageDrop, Reason: r, Packet: b}) }
	if f == nil {
		drop(pkt, ReasonNoConfig)
		return
	}
	// As the UDP io path does: the sender is checked before the tunnel
	// header, so junk from strangers is unknown-peer, not a parse error.
	hop, known := f.peerHop(d.OuterSrc)
	if e.opts.UnderlayKind == UnderlayUDP && d.OuterSrc.IsValid() && !known {
		drop(pkt, ReasonUnknownPeer)
		return
	}
	if r != encap.DropNone {
		drop(pkt, FromEncap(r))
		return
	}
	if !known {
		drop(pkt, ReasonUnknownPeer)
		return
	}
	inner := append([]byte(nil), pkt[d.InnerOff:d.InnerEnd]...)
	t.Record(&TraceEvent{Dir: Ingress, Stage: StageDecap, Kind: d.Kind, VNI: d.VNI, Peer: f.hops[hop].peer.Name, Packet: inner})
	var flow encap.Flow
	if r := encap.ParseInner(inner, &flow); r != encap.DropNone {
		drop(inner, FromEncap(r))
		return
	}
	t.Record(&TraceEvent{Dir: Ingress, Stage: StageParse, Flow: flow, Packet: inner})
	if srcHop, _, ok := f.route(flow.Src); (!ok || srcHop != hop) && !f.peerICMPError(hop, inner, &flow) {
		drop(inner, ReasonSpoofedSource)
		return
	}
	dstHop, plen, ok := f.route(flow.Dst)
	rev := TraceEvent{Dir: Ingress, Stage: StageRoute, Local: ok && dstHop == hopLocal}
	if ok {
		rev.Prefix, _ = flow.Dst.Prefix(int(plen))
	}
	t.Record(&rev)
	if !ok || dstHop != hopLocal {
		drop(inner, ReasonNotLocal)
		return
	}
	if flow.TotalLen > 0 && flow.TotalLen < len(inner) {
		inner = inner[:flow.TotalLen]
	}
	if d := e.opts.PodDirect; d != nil && flow.TTL > 1 && len(inner) <= f.tunnelMTU && d.Reaches(flow.Dst) {
		t.Record(&TraceEvent{Dir: Ingress, Stage: StageSend, Port: d.Name(), Packet: inner})
		return
	}
	if len(inner) > f.tunnelMTU && (!e.opts.PodOffloads || flow.Proto != 6) {
		drop(inner, ReasonOversizeInner)
		return
	}
	if offload.CheckL4(inner) == offload.L4Bad {
		drop(inner, ReasonBadInnerChecksum)
		return
	}
	t.Record(&TraceEvent{Dir: Ingress, Stage: StageSend, Port: e.opts.Pod.Name(), Packet: inner})
}

// decapConfig is the fib's decap config; with no fib, one that accepts
// nothing (the caller drops for no-config before using the result).
func decapConfig(f *fib) *encap.DecapConfig {
	if f == nil {
		return &encap.DecapConfig{}
	}
	return &f.decap
}

// outerSrcPort is the UDP source port of an outer IPv4 or IPv6 packet, or
// 0 (IPIP, or too short).
func outerSrcPort(pkt []byte) uint16 {
	hl, proto := encap.IPv6Len, uint8(0)
	switch {
	case len(pkt) >= encap.IPv4MinLen && pkt[0]>>4 == 4:
		hl, proto = int(pkt[0]&0x0f)*4, pkt[9]
	case len(pkt) >= encap.IPv6Len && pkt[0]>>4 == 6:
		proto = pkt[6]
	}
	if proto != encap.ProtoUDP || len(pkt) < hl+encap.UDPLen {
		return 0
	}
	return binary.BigEndian.Uint16(pkt[hl:])
}
