package dataplane

import (
	"context"
	"fmt"

	"github.com/podfwd/podfwd/dataplane/offload"
	"github.com/podfwd/podfwd/encap"
)

// maxGROSegments is the most datagrams one UDP GRO read can hold.
const maxGROSegments = 64

// ingressLoop moves packets from one underlay port to the pod side:
// validate the sender, decapsulate in place, check the inner addresses,
// deliver. Decapsulation only moves offsets; delivered packets are views
// into the receive buffers.
type ingressLoop struct {
	e     *Engine
	port  Port
	kind  UnderlayKind // what port carries: the engine's underlay kind, or ReassemblyKind
	batch []*Packet
	views []Packet
	out   []*Packet
	tally batchTally

	// srcRoutes and dstRoutes memoize one batch's IPv4 lookups of inner
	// sources (the spoofing check) and destinations.
	srcRoutes, dstRoutes routeMemo4
	peers                peerMemo

	// write is the list handed to the pod port after checksum checks and
	// coalescing; gro, groBufs and groViews exist when the pod port takes
	// super-packets.
	write    []*Packet
	gro      *offload.Coalescer
	inner    [][]byte
	groBufs  [][]byte
	groViews []Packet

	// direct holds the packets for pods the direct port reaches, as views
	// in directViews; they skip checksum checks and coalescing (the pod's
	// own stack verifies what arrives without offload flags).
	direct      []*Packet
	directViews []Packet

	// dropPartial is the batch's Config.DropPartialChecksums.
	dropPartial bool
}

// groBuffers is how many super-packets one delivery can build; when they
// run out, further segments are written one by one.
const groBuffers = 32

func newIngressLoop(e *Engine, port Port) *ingressLoop {
	n := port.BatchSize()
	if n < 1 {
		n = 1
	}
	kind := e.opts.UnderlayKind
	for _, r := range e.opts.Reassembly {
		if r == port {
			kind = e.opts.ReassemblyKind
		}
	}
	l := &ingressLoop{
		e:     e,
		port:  port,
		kind:  kind,
		batch: newBatch(n, e.opts.BufSize),
		views: make([]Packet, n*maxGROSegments),
		out:   make([]*Packet, 0, n*maxGROSegments),
		write: make([]*Packet, 0, n*maxGROSegments),
	}
	if e.opts.PodDirect != nil {
		l.direct = make([]*Packet, 0, n*maxGROSegments)
		l.directViews = make([]Packet, n*maxGROSegments)
	}
	if e.opts.PodOffloads {
		l.gro = offload.NewCoalescer(n * maxGROSegments)
		if e.opts.PodUDPOffloads {
			l.gro.MergeUDP()
		}
		l.inner = make([][]byte, 0, n*maxGROSegments)
		slab := make([]byte, groBuffers*offload.MaxCoalescedLen)
		l.groBufs = make([][]byte, groBuffers)
		for i := range l.groBufs {
			l.groBufs[i] = slab[i*offload.MaxCoalescedLen : (i+1)*offload.MaxCoalescedLen]
		}
		l.groViews = make([]Packet, groBuffers)
	}
	return l
}

func (l *ingressLoop) run(ctx context.Context) error {
	for ctx.Err() == nil {
		for _, p := range l.batch {
			p.Reset(Headroom)
		}
		n, err := l.port.ReadBatch(l.batch)
		if err != nil {
			l.e.Counters.Ingress.Rx.Errors.Add(1)
			return fmt.Errorf("dataplane: read %s: %w", l.port.Name(), err)
		}
		l.forward(l.batch[:n])
	}
	return nil
}

// forward processes one batch read from the underlay.
func (l *ingressLoop) forward(batch []*Packet) {
	f := l.e.fib.Load()
	var tr Tracer
	if box := l.e.tracer.Load(); box != nil {
		tr = box.t
	}
	l.dropPartial = false
	if f != nil {
		l.srcRoutes, l.dstRoutes = newRouteMemo4(f), newRouteMemo4(f)
		l.peers = peerMemo{f: f}
		l.dropPartial = f.cfg.DropPartialChecksums
	}
	l.out = l.out[:0]
	for _, p := range batch {
		size := p.Len()
		if p.Segments > 1 && p.SegmentSize > 0 {
			size = p.SegmentSize
		}
		if size <= 0 { // counted and traced: every datagram received is accounted for
			l.empty(f, p, tr)
			continue
		}
		for off := p.Start; off < p.End; off += size {
			if len(l.out) == cap(l.out) || (l.direct != nil && len(l.direct) == cap(l.direct)) {
				l.deliver()
			}
			l.one(f, p, off, min(off+size, p.End), tr)
		}
	}
	l.deliver()
	l.tally.flush(&l.e.Counters.Ingress)
}

// empty drops the zero-length datagram p.
func (l *ingressLoop) empty(f *fib, p *Packet, tr Tracer) {
	l.tally.rxPackets++
	traced := tr != nil && tr.Match(Ingress, nil)
	if traced {
		tr.Record(&TraceEvent{Dir: Ingress, Stage: StageReceive, Port: l.port.Name(), Outer: p.Addr, Generation: generation(f)})
	}
	l.drop(tr, traced, nil, ReasonEmpty)
}

// deliver checks, coalesces and writes the decapsulated packets in l.out
// to the pod port.
func (l *ingressLoop) deliver() {
	if len(l.direct) > 0 {
		l.writePod(l.e.opts.PodDirect, l.direct)
		l.direct = l.direct[:0]
	}
	if len(l.out) == 0 {
		return
	}
	l.write = l.write[:0]
	if l.gro != nil {
		l.coalesce()
	} else {
		for _, p := range l.out {
			l.checked(p)
		}
	}
	l.writePod(l.e.opts.Pod, l.write)
	l.out = l.out[:0]
}

// writePod hands pkts to a pod-side port and counts what it took.
func (l *ingressLoop) writePod(port Port, pkts []*Packet) {
	if len(pkts) == 0 {
		return
	}
	n, err := write(port, pkts, &l.e.podWriteMu, l.e.podWriteShared)
	for _, p := range pkts[:n] {
		l.tally.txPackets++
		l.tally.txBytes += uint64(p.Len())
	}
	if err != nil || n < len(pkts) {
		l.e.Counters.Ingress.Tx.Errors.Add(1)
		l.e.errLog.report(port.Name(), "write", err)
		l.tally.drops[ReasonSendFailed] += uint32(len(pkts) - n)
		l.tally.dropped = true
	}
}

// coalesce merges TCP segments of l.out into super-packets (the coalescer
// verifies their checksums) and queues everything for writing; packets it
// leaves alone get their own checksum check.
func (l *ingressLoop) coalesce() {
	l.inner = l.inner[:0]
	for _, p := range l.out {
		l.inner = append(l.inner, p.Bytes())
	}
	outs, err := l.gro.Coalesce(l.inner, l.groBufs)
	if err != nil { // more packets than the coalescer was sized for: cannot happen, but never lose them
		for _, p := range l.out {
			l.checked(p)
		}
		return
	}
	for _, o := range outs {
		if o.In >= 0 {
			if p := l.out[o.In]; o.Verified && !p.GSO.IsGSO() {
				p.GSO.Flags = offload.FlagDataValid // checked once, by the coalescer
				l.write = append(l.write, p)
			} else {
				l.checked(p)
			}
			continue
		}
		v := &l.groViews[o.Out]
		*v = Packet{Buf: l.groBufs[o.Out], Start: offload.VirtioNetHdrLen, End: o.Len}
		_ = v.GSO.Decode(v.Buf)
		l.tally.gsoSuper++
		l.tally.gsoSegs += uint64(o.Segments)
		l.write = append(l.write, v)
	}
}

// checked queues p for writing unless its L4 checksum is wrong.
func (l *ingressLoop) checked(p *Packet) {
	if p.GSO.IsGSO() { // a super-packet: the kernel computes its checksums
		l.write = append(l.write, p)
		return
	}
	switch offload.CheckL4(p.Bytes()) {
	case offload.L4Bad:
		l.tally.drop(ReasonBadInnerChecksum)
		return
	case offload.L4Partial:
		if !l.trustPartial() {
			return
		}
		fallthrough
	case offload.L4Valid:
		if l.e.opts.PodOffloads {
			p.GSO.Flags = offload.FlagDataValid
		}
	}
	l.write = append(l.write, p)
}

// trustPartial decides a packet whose inner checksum held only the
// pseudo-header sum (offload.L4Partial): counted and delivered, or dropped
// as bad-inner-checksum under Config.DropPartialChecksums.
func (l *ingressLoop) trustPartial() bool {
	if l.dropPartial {
		l.tally.drop(ReasonBadInnerChecksum)
		return false
	}
	l.tally.partial++
	return true
}

func (l *ingressLoop) drop(tr Tracer, traced bool, pkt []byte, r Reason) {
	l.tally.drop(r)
	if traced {
		tr.Record(&TraceEvent{Dir: Ingress, Stage: StageDrop, Reason: r, Packet: pkt})
	}
}

// one handles the datagram p.Buf[off:end] received from p.Addr.
func (l *ingressLoop) one(f *fib, p *Packet, off, end int, tr Tracer) {
	dgram := p.Buf[off:end]
	l.tally.rxPackets++
	l.tally.rxBytes += uint64(len(dgram))
	traced := tr != nil && tr.Match(Ingress, dgram)
	if traced {
		tr.Record(&TraceEvent{Dir: Ingress, Stage: StageReceive, Port: l.port.Name(), Packet: dgram, Outer: p.Addr, Generation: generation(f)})
	}
	if f == nil {
		l.drop(tr, traced, dgram, ReasonNoConfig)
		return
	}
	var (
		hop      uint32
		known    bool
		innerOff int
		vni      uint32
		outerSrc = p.Addr.Addr().Unmap()
	)
	if l.kind == UnderlayUDP {
		// Who sent it is checked before any parsing: junk from strangers
		// costs one map lookup.
		if hop, known = l.peers.peerHop(outerSrc); !known {
			l.drop(tr, traced, dgram, ReasonUnknownPeer)
			return
		}
		in, r := encap.DecapUDPPayload(dgram, f.cfg.Encap, f.cfg.VNI)
		if r != encap.DropNone {
			l.drop(tr, traced, dgram, FromEncap(r))
			return
		}
		innerOff, vni = in.Off, in.VNI
	} else {
		ipOff := 0
		if l.kind == UnderlayFrame {
			if ipOff = etherIPOffset(dgram); ipOff < 0 {
				l.drop(tr, traced, dgram, ReasonNotIP)
				return
			}
		}
		// DecapIPTo, not DecapIP: the returned struct (two netip.Addrs)
		// was copied for every packet.
		var d encap.Decapped
		if r := encap.DecapIPTo(&d, dgram[ipOff:], &f.decap); r != encap.DropNone {
			l.drop(tr, traced, dgram, FromEncap(r))
			return
		}
		outerSrc = d.OuterSrc
		if hop, known = l.peers.peerHop(outerSrc); !known {
			l.drop(tr, traced, dgram, ReasonUnknownPeer)
			return
		}
		innerOff, vni = ipOff+d.InnerOff, d.VNI
	}
	inner := dgram[innerOff:]
	if traced {
		tr.Record(&TraceEvent{Dir: Ingress, Stage: StageDecap, Kind: f.cfg.Encap, VNI: vni,
			Peer: f.hops[hop].peer.Name, Packet: inner})
	}
	var flow encap.Flow
	if r := encap.ParseInner(inner, &flow); r != encap.DropNone {
		l.drop(tr, traced, inner, FromEncap(r))
		return
	}
	if traced {
		tr.Record(&TraceEvent{Dir: Ingress, Stage: StageParse, Flow: flow, Packet: inner})
	}
	// The inner source must belong to the peer that sent it: nobody can
	// use us to inject packets in another node's name.
	if srcHop, _, ok := f.routeVia(&l.srcRoutes, flow.Src); (!ok || srcHop != hop) && !f.peerICMPError(hop, inner, &flow) {
		l.drop(tr, traced, inner, ReasonSpoofedSource)
		return
	}
	// And it must be for one of our pods: we never relay to a third node.
	dstHop, plen, ok := f.routeVia(&l.dstRoutes, flow.Dst)
	if traced {
		ev := TraceEvent{Dir: Ingress, Stage: StageRoute, Local: ok && dstHop == hopLocal}
		if ok {
			ev.Prefix, _ = flow.Dst.Prefix(int(plen))
		}
		tr.Record(&ev)
	}
	if !ok || dstHop != hopLocal {
		l.drop(tr, traced, inner, ReasonNotLocal)
		return
	}
	if flow.TotalLen > 0 && flow.TotalLen < len(inner) {
		inner = inner[:flow.TotalLen] // strip Ethernet padding
	}
	// The checksum check runs at delivery, batched with coalescing; a
	// traced packet is checked here as well, so that the trace shows the
	// drop on the packet's own record (tracing is rare: the cost is fine).
	if traced {
		// CheckL4 completes a partial checksum in place, so the delivery
		// check sees it valid: its policy is applied (and counted) here.
		switch offload.CheckL4(inner) {
		case offload.L4Bad:
			l.drop(tr, traced, inner, ReasonBadInnerChecksum)
			return
		case offload.L4Partial:
			if l.dropPartial {
				l.drop(tr, traced, inner, ReasonBadInnerChecksum)
				return
			}
			l.tally.partial++
		}
	}
	if l.direct != nil && l.toDirect(p, off+innerOff, inner, &flow, f.tunnelMTU, tr, traced) {
		return
	}
	v := &l.views[len(l.out)]
	*v = Packet{Buf: p.Buf, Start: off + innerOff, End: off + innerOff + len(inner)}
	if len(inner) > f.tunnelMTU {
		r := ReasonOversizeInner
		if l.e.opts.PodOffloads {
			var partial bool
			r, partial = markSuperPacket(v, inner, &flow, f.tunnelMTU, l.dropPartial)
			if partial {
				l.tally.partial++
			}
		}
		if r != ReasonNone {
			l.drop(tr, traced, inner, r)
			return
		}
		l.tally.wholeGSO++
	}
	l.tally.tunnel++
	l.out = append(l.out, v)
	if traced {
		tr.Record(&TraceEvent{Dir: Ingress, Stage: StageSend, Port: l.e.opts.Pod.Name(), Packet: inner})
	}
}

// toDirect queues the inner packet at p.Buf[start:] for the direct pod port
// when that port reaches its destination. A packet whose TTL would expire
// on this node's hop, or one too big for a frame, takes the kernel's path
// through the TUN instead, where the kernel answers or the engine
// segments it.
func (l *ingressLoop) toDirect(p *Packet, start int, inner []byte, flow *encap.Flow, mtu int, tr Tracer, traced bool) bool {
	d := l.e.opts.PodDirect
	if flow.TTL <= 1 || len(inner) > mtu || !d.Reaches(flow.Dst) {
		return false
	}
	v := &l.directViews[len(l.direct)]
	*v = Packet{Buf: p.Buf, Start: start, End: start + len(inner)}
	l.tally.tunnel++
	l.direct = append(l.direct, v)
	if traced {
		tr.Record(&TraceEvent{Dir: Ingress, Stage: StageSend, Port: d.Name(), Packet: inner})
	}
	return true
}

// etherIPOffset returns where the IP header of an Ethernet frame starts,
// or -1 when the frame does not carry IPv4 or IPv6.
func etherIPOffset(frame []byte) int {
	eth := encap.Ethernet(frame)
	if !eth.Valid() {
		return -1
	}
	switch eth.EtherType() {
	case encap.EtherTypeIPv4, encap.EtherTypeIPv6:
		return encap.EthernetLen
	}
	return -1
}
