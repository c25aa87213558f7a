package dataplane

import (
	"context"
	"fmt"

	"github.com/podfwd/podfwd/dataplane/offload"
	"github.com/podfwd/podfwd/encap"
)

// maxGSOSegments bounds the segments of one super-packet. A 64 KiB packet
// with the smallest sane MSS (536) has 123; anything beyond is refused.
const maxGSOSegments = 256

// maxUDPGSOBytes bounds one UDP GSO send's payload, as the kernel does
// (64 KiB).
const maxUDPGSOBytes = 65000

// UDPGSOMaxSegments is the most segments one UDP_SEGMENT send may carry on
// every kernel with UDP GSO (UDP_MAX_SEGMENTS, raised to 128 only later):
// the engine builds trains no longer, and a port splits longer ones.
const UDPGSOMaxSegments = 64

// egressLoop moves packets from the pod port to the underlay: parse, route,
// segment, encapsulate, send. All its buffers are allocated once.
type egressLoop struct {
	e        *Engine
	port     Port // the pod-side port this loop reads
	batch    []*Packet
	pending  []*Packet // packets ready for the underlay, in order
	pending6 []*Packet // IPIP with IPv6 inner: the protocol-41 port
	icmp     []*Packet // ICMP errors back to the pod side
	icmpBuf  []*Packet
	tally    batchTally

	// GSO: one super-packet at a time is split into gsoBuf as a train of
	// equal-stride datagrams; gsoViews are Packets pointing into it.
	gsoBuf   []byte
	gsoOuts  [][]byte
	gsoSizes []int
	gsoViews []Packet
	gsoOut   []*Packet

	one1 [1]*Packet // a one-packet batch for sendWhole, kept to avoid allocating
}

// newEgressLoop reads port: the TUN device, or the direct pod port (whose
// loop runs beside the TUN's; both share the egress counters).
func newEgressLoop(e *Engine, port Port) *egressLoop {
	n := port.BatchSize()
	if n < 1 {
		n = 1
	}
	l := &egressLoop{
		e:        e,
		port:     port,
		batch:    newBatch(n, e.opts.BufSize),
		pending:  make([]*Packet, 0, n),
		pending6: make([]*Packet, 0, n),
		icmp:     make([]*Packet, 0, n),
		icmpBuf:  newBatch(n, Headroom+1500),
		gsoBuf:   make([]byte, 128*1024+maxGSOSegments*400),
		gsoOuts:  make([][]byte, maxGSOSegments),
		gsoSizes: make([]int, maxGSOSegments),
		gsoViews: make([]Packet, maxGSOSegments),
		gsoOut:   make([]*Packet, 0, maxGSOSegments),
	}
	return l
}

func (l *egressLoop) run(ctx context.Context) error {
	e := l.e
	for ctx.Err() == nil {
		for _, p := range l.batch {
			p.Reset(Headroom)
		}
		n, err := l.port.ReadBatch(l.batch)
		if err != nil {
			e.Counters.Egress.Rx.Errors.Add(1)
			return fmt.Errorf("dataplane: read %s: %w", l.port.Name(), err)
		}
		l.forward(l.batch[:n])
	}
	return nil
}

// forward processes one batch read from the pod side.
func (l *egressLoop) forward(batch []*Packet) {
	e := l.e
	f := e.fib.Load()
	var tr Tracer
	var gate *TraceGate
	if box := e.tracer.Load(); box != nil && box.gate.AnyPasses(batch) {
		tr, gate = box.t, &box.gate
	}
	l.pending = l.pending[:0]
	l.pending6 = l.pending6[:0]
	l.icmp = l.icmp[:0]
	for _, p := range batch {
		l.tally.rxPackets++
		l.tally.rxBytes += uint64(p.Len())
		traced := tr != nil && gate.Pass(p.Bytes()) && tr.Match(Egress, p.Bytes())
		if traced {
			tr.Record(&TraceEvent{Dir: Egress, Stage: StageReceive, Port: l.port.Name(), Packet: p.Bytes(), Generation: generation(f)})
		}
		if f == nil {
			l.drop(tr, traced, p, ReasonNoConfig)
			continue
		}
		l.one(f, p, tr, traced)
	}
	l.flush()
	if len(l.icmp) > 0 {
		local := e.opts.Local
		if local == nil {
			local = e.opts.Pod
		}
		if _, err := local.WriteBatch(l.icmp); err != nil {
			e.Counters.Egress.Tx.Errors.Add(1)
		}
	}
	l.tally.flush(&e.Counters.Egress)
}

func generation(f *fib) uint64 {
	if f == nil {
		return 0
	}
	return f.cfg.Generation
}

func (l *egressLoop) drop(tr Tracer, traced bool, p *Packet, r Reason) {
	l.tally.drop(r)
	if traced {
		tr.Record(&TraceEvent{Dir: Egress, Stage: StageDrop, Reason: r, Packet: p.Bytes()})
	}
}

// one handles one packet from the pod side.
func (l *egressLoop) one(f *fib, p *Packet, tr Tracer, traced bool) {
	pkt := p.Bytes()
	var flow encap.Flow
	if r := encap.ParseInner(pkt, &flow); r != encap.DropNone {
		l.drop(tr, traced, p, FromEncap(r))
		return
	}
	if traced {
		tr.Record(&TraceEvent{Dir: Egress, Stage: StageParse, Flow: flow, Packet: pkt})
	}
	hop, plen, ok := f.route(flow.Dst)
	if traced {
		ev := TraceEvent{Dir: Egress, Stage: StageRoute, Local: ok && hop == hopLocal}
		if ok {
			ev.Prefix, _ = flow.Dst.Prefix(int(plen))
			if hop != hopLocal {
				ev.Peer = f.hops[hop].peer.Name
				ev.Outer = f.hops[hop].dst
			}
		}
		tr.Record(&ev)
	}
	if !ok {
		l.drop(tr, traced, p, ReasonNoRoute)
		return
	}
	if hop == hopLocal {
		l.drop(tr, traced, p, ReasonLocalLoop)
		return
	}
	// The kernel decremented the TTL on its way to the TUN; a packet left
	// with TTL 1 is the next node's to expire, as with the kernel's own
	// tunnels (traceroute then shows that node). Only a TTL already at 0
	// (a raw sender's) is answered here.
	if flow.TTL == 0 {
		l.answer(f, p, tr, traced, ReasonTTLExceeded, 0)
		return
	}
	nh := &f.hops[hop]
	if p.GSO.IsGSO() {
		l.flush()
		if !l.sendWhole(f, nh, p, tr, traced) {
			l.segment(f, nh, p, tr, traced)
		}
		return
	}
	switch v, mtu := l.pathFit(f, nh, len(pkt), flow.Version == 6, flow.DF); v {
	case pathAnswer:
		l.answer(f, p, tr, traced, f.tooBigReason(len(pkt)), mtu)
		return
	case pathDrop:
		l.drop(tr, traced, p, f.tooBigReason(len(pkt)))
		return
	case pathFragment:
		// Each fragment carries part of the L4 payload: the checksum
		// must be whole before the split.
		if p.GSO.Flags&offload.FlagNeedsCsum != 0 {
			if err := offload.CompleteChecksum(pkt, &p.GSO); err != nil {
				l.drop(tr, traced, p, ReasonSegmentFailed)
				return
			}
		}
		l.flush()
		l.fragment(f, nh, p, mtu, tr, traced)
		return
	}
	if p.GSO.Flags&offload.FlagNeedsCsum != 0 {
		if err := offload.CompleteChecksum(pkt, &p.GSO); err != nil {
			l.drop(tr, traced, p, ReasonSegmentFailed)
			return
		}
	}
	if !l.encapsulate(f, nh, p, tr, traced) {
		return
	}
	if l.e.underlay6(flow.Version) {
		l.pending6 = append(l.pending6, p)
	} else {
		l.pending = append(l.pending, p)
	}
}

// encapsulate prepends the tunnel headers of nh to p and addresses it.
func (l *egressLoop) encapsulate(f *fib, nh *nextHop, p *Packet, tr Tracer, traced bool) bool {
	start, r := l.wrap(f, nh, p.Buf, p.Start, p.End)
	if r != ReasonNone {
		l.drop(tr, traced, p, r)
		return false
	}
	p.Start = start
	p.Addr = nh.dst
	p.GSO = offload.VirtioNetHdr{}
	l.tally.tunnel++
	if traced {
		tr.Record(&TraceEvent{Dir: Egress, Stage: StageEncap, Kind: nh.params.Kind, VNI: nh.params.VNI,
			Peer: nh.peer.Name, Outer: nh.dst, Packet: p.Bytes()})
	}
	return true
}

// wrap writes everything the underlay port needs in front of the inner
// packet buf[start:end]: the tunnel header for a UDP socket, nothing for a
// raw IPIP socket, and for whole frames also the outer IP (and UDP) and
// Ethernet headers. It returns the new start, or the reason to drop.
func (l *egressLoop) wrap(f *fib, nh *nextHop, buf []byte, start, end int) (int, Reason) {
	kind := l.e.opts.UnderlayKind
	if kind == UnderlayIP {
		return start, ReasonNone
	}
	if kind == UnderlayFrame && nh.peer.UnderlayMAC == ([6]byte{}) {
		// The next hop's Ethernet address is not known (yet): a frame to
		// the zero MAC would go nowhere.
		return start, ReasonNeighbourUnresolved
	}
	if kind != UnderlayFrame {
		start, r := encap.PrependTunnel(buf, start, end, &nh.params)
		return start, FromEncap(r)
	}
	// Every inner checksum is complete by now (partial ones from the TUN
	// are completed before, segments get theirs from offload.Segment, pod
	// frames from xdpport), so an IPv6 outer UDP checksum can be derived
	// from it.
	start, r := nh.tmpl.Encap(buf, start, end, encap.FlowHash(buf[start:end]), encap.InnerCsumComplete)
	if r != encap.DropNone {
		return start, FromEncap(r)
	}
	etherType := uint16(encap.EtherTypeIPv4)
	if nh.outer.Dst.Is6() {
		etherType = encap.EtherTypeIPv6
	}
	start, r = encap.PrependEthernet(buf, start, nh.peer.UnderlayMAC, f.cfg.LocalUnderlayMAC, etherType)
	return start, FromEncap(r)
}

// underlay6 reports whether an encapsulated packet whose inner IP version
// is version leaves through Underlay6 rather than Underlay: IPIP with an
// IPv6 inner packet (protocol 41) when the engine has that port. Every
// egress path takes its underlay port from here.
func (e *Engine) underlay6(version uint8) bool {
	return version == 6 && e.split6
}

// underlayPort is the port underlay6 chooses.
func (e *Engine) underlayPort(version uint8) Port {
	if e.underlay6(version) {
		return e.opts.Underlay6
	}
	return e.opts.Underlay
}

// flush sends the pending packets to the underlay.
func (l *egressLoop) flush() {
	l.send(l.e.opts.Underlay, l.pending)
	l.pending = l.pending[:0]
	if len(l.pending6) > 0 {
		l.send(l.e.opts.Underlay6, l.pending6)
		l.pending6 = l.pending6[:0]
	}
}

func (l *egressLoop) send(port Port, pkts []*Packet) {
	if len(pkts) == 0 {
		return
	}
	n, err := write(port, pkts, &l.e.underlayWriteMu, l.e.underlayWriteShared)
	for _, p := range pkts[:n] {
		segs := uint64(1)
		if p.Segments > 1 {
			segs = uint64(p.Segments)
		}
		l.tally.txPackets += segs
		l.tally.txBytes += uint64(p.Len())
	}
	if err != nil || n < len(pkts) {
		l.e.Counters.Egress.Tx.Errors.Add(1)
		l.e.errLog.report(port.Name(), "write", err)
		for _, p := range pkts[n:] { // a refused train loses every segment it carried
			l.tally.drops[ReasonSendFailed] += uint32(max(p.Segments, 1))
		}
		l.tally.dropped = true
	}
}
