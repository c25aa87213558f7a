package dataplane

import (
	"github.com/podfwd/podfwd/dataplane/offload"
	"github.com/podfwd/podfwd/encap"
)

// Simulate runs pkt through the engine's own forwarding loops in direction
// dir against the installed config, reporting every stage to t (t.Match is
// not called). pkt is an inner IP packet for Egress and a whole outer IP
// packet (the tunnel headers included, as a peer would send it) for
// Ingress; it is only read. The loops run over stand-in ports that carry
// the names and capabilities of the engine's ports and keep nothing: no
// port is touched and the engine's counters do not move. What the loops
// hand an underlay port is reported as a StageSend naming it (the live
// loops leave that to the port). Safe to call concurrently with forwarding
// and with itself; it allocates, so it is not for the hot path.
func (e *Engine) Simulate(dir Direction, pkt []byte, t Tracer) {
	e.simulate(dir, pkt, offload.VirtioNetHdr{}, t)
}

// simulate is Simulate of a packet that carries the virtio-net header gso,
// as a GSO super-packet or a packet with a partial checksum from the TUN.
func (e *Engine) simulate(dir Direction, pkt []byte, gso offload.VirtioNetHdr, t Tracer) {
	s, _ := e.sims.Get().(*simulator)
	if s == nil {
		s = newSimulator(e)
	}
	s.run(e, dir, pkt, gso, t)
	e.sims.Put(s)
}

// simulator is a shadow engine with the real engine's options but
// stand-in ports and its own counters, and one loop per direction, kept
// for reuse (the loops' buffers are large).
type simulator struct {
	sh      *Engine
	eg      *egressLoop
	in, in6 *ingressLoop
	tr      simTracer
	buf     []byte
	pkt     Packet
	one     [1]*Packet

	// from is the live engine's fib that mine was compiled from.
	from, mine *fib
}

func newSimulator(e *Engine) *simulator {
	s := &simulator{}
	o := e.opts
	o.Pod = s.port(o.Pod, false)
	o.Underlay = s.port(o.Underlay, true)
	if o.Underlay6 != nil {
		o.Underlay6 = s.port(o.Underlay6, true)
	}
	if o.Local != nil {
		o.Local = s.port(o.Local, false)
	}
	if d := o.PodDirect; d != nil {
		o.PodDirect = &simDirect{simPort: s.port(d, false), real: d}
	}
	if g := o.TunnelGSO; g != nil {
		o.TunnelGSO = &simTunnelGSO{simPort: s.port(g, true), real: g}
	}
	o.Poll = nil
	s.sh = &Engine{opts: o, split6: e.split6}
	s.sh.errLog.log = o.Logger
	s.sh.SetTracer(&s.tr)
	s.eg = newEgressLoop(s.sh, o.Pod)
	s.in = newIngressLoop(s.sh, o.Underlay)
	if o.Underlay6 != nil {
		s.in6 = newIngressLoop(s.sh, o.Underlay6)
	}
	s.one[0] = &s.pkt
	return s
}

func (s *simulator) port(p interface{ Name() string }, send bool) *simPort {
	return &simPort{name: p.Name(), send: send, tr: &s.tr}
}

// run forwards one packet as the real engine e would now: its config, and
// whether its tunnel GSO port still takes frames.
func (s *simulator) run(e *Engine, dir Direction, pkt []byte, gso offload.VirtioNetHdr, t Tracer) {
	s.tr.t = t
	defer func() { s.tr.t = nil }()
	f := s.own(e.fib.Load())
	s.sh.fib.Store(f)
	s.sh.tunnelGSOOff.Store(e.tunnelGSOOff.Load())
	if dir == Egress {
		s.load(pkt, 0)
		s.pkt.GSO = gso
		s.eg.forward(s.one[:])
		return
	}
	l := s.in
	if s.in6 != nil && s.sh.opts.UnderlayKind == UnderlayIP && len(pkt) >= encap.IPv4MinLen &&
		pkt[0]>>4 == 4 && encap.IPv4(pkt).Protocol() == encap.ProtoIPv6 {
		l = s.in6 // the kernel hands protocol 41 to the second raw socket
	}
	if !s.receive(f, pkt) {
		return
	}
	l.forward(s.one[:])
}

// load puts pkt into the simulator's packet behind Headroom+extra bytes.
func (s *simulator) load(pkt []byte, extra int) {
	need := max(Headroom+extra+len(pkt), s.sh.opts.BufSize)
	if len(s.buf) < need {
		s.buf = make([]byte, need)
	}
	s.pkt = Packet{Buf: s.buf}
	s.pkt.Reset(Headroom)
	s.pkt.SetLen(extra + copy(s.buf[Headroom+extra:], pkt))
}

// receive loads the outer packet pkt as the underlay port would hand it to
// the ingress loop: the UDP payload and its sender from a UDP socket, the
// whole IP packet and its source from a raw IP socket, a whole Ethernet
// frame from AF_XDP. A packet a UDP socket would never deliver is
// reported received and dropped with the reason, and receive returns
// false.
func (s *simulator) receive(f *fib, pkt []byte) bool {
	switch s.sh.opts.UnderlayKind {
	case UnderlayUDP:
		from, off, end, r := udpDelivery(f, pkt)
		if r != encap.DropNone {
			ev := TraceEvent{Dir: Ingress, Stage: StageReceive, Port: s.sh.opts.Underlay.Name(), Packet: pkt, Generation: generation(f)}
			s.tr.Record(&ev)
			s.tr.Record(&TraceEvent{Dir: Ingress, Stage: StageDrop, Reason: FromEncap(r), Packet: pkt})
			return false
		}
		s.load(pkt[off:end], 0)
		s.pkt.Addr = from
	case UnderlayIP:
		s.load(pkt, 0)
		if len(pkt) >= encap.IPv4MinLen && pkt[0]>>4 == 4 {
			s.pkt.Addr = netipPort0(encap.IPv4(pkt).Src())
		} else if len(pkt) >= encap.IPv6Len && pkt[0]>>4 == 6 {
			s.pkt.Addr = netipPort0(encap.IPv6(pkt).Src())
		}
	case UnderlayFrame:
		s.load(pkt, encap.EthernetLen)
		etherType := uint16(0) // neither: the loop drops it as not-ip
		if len(pkt) > 0 && pkt[0]>>4 == 4 {
			etherType = encap.EtherTypeIPv4
		} else if len(pkt) > 0 && pkt[0]>>4 == 6 {
			etherType = encap.EtherTypeIPv6
		}
		var to [6]byte
		if f != nil {
			to = f.cfg.LocalUnderlayMAC
		}
		encap.Ethernet(s.pkt.Bytes()).Encode(to, [6]byte{}, etherType)
	}
	return true
}

// simTracer hands every stage of the simulated packet to the caller's
// tracer.
type simTracer struct{ t Tracer }

func (s *simTracer) Match(Direction, []byte) bool { return true }
func (s *simTracer) Record(ev *TraceEvent)        { s.t.Record(ev) }

// own returns the simulation's own compilation of the live fib f: the same
// decisions, but next hops of its own, so that simulating does not advance
// the live peers' outer IPv4 Identification counters (encap.Outer). It is
// compiled again only when the engine's config changed.
func (s *simulator) own(f *fib) *fib {
	if f == nil {
		return nil
	}
	if f != s.from {
		mine, err := compile(f.cfg)
		if err != nil { // cannot happen: f was compiled from the same config
			mine = f
		}
		s.from, s.mine = f, mine
	}
	return s.mine
}
