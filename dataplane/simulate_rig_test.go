package dataplane

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/podfwd/podfwd/dataplane/offload"
	"github.com/podfwd/podfwd/encap"
)

// simRig is an engine over in-memory ports, for running one packet through
// the live loops and through Simulate.
type simRig struct {
	e        *Engine
	underlay []*MemPort // ports toward the peers
	podSide  []*MemPort // TUN, Local, direct pod port
	tap      *fakeTunnelGSO
}

func rigOf(e *Engine) *simRig {
	r := &simRig{e: e}
	for _, p := range []Port{e.opts.Underlay, e.opts.Underlay6} {
		if m, ok := p.(*MemPort); ok {
			r.underlay = append(r.underlay, m)
		}
	}
	for _, p := range []Port{e.opts.Pod, e.opts.Local} {
		if m, ok := p.(*MemPort); ok {
			r.podSide = append(r.podSide, m)
		}
	}
	if d, ok := e.opts.PodDirect.(*memDirect); ok {
		r.podSide = append(r.podSide, d.MemPort)
	}
	r.tap, _ = e.opts.TunnelGSO.(*fakeTunnelGSO)
	return r
}

// eventLog is a Tracer that keeps a copy of every event.
type eventLog struct{ evs []TraceEvent }

func (l *eventLog) Match(Direction, []byte) bool { return true }
func (l *eventLog) Record(ev *TraceEvent) {
	c := *ev
	c.Packet = bytes.Clone(ev.Packet)
	l.evs = append(l.evs, c)
}

// counts is every counter of e, to see that a simulation moves none.
func counts(e *Engine) []uint64 {
	var out []uint64
	for _, d := range []*DirectionCounters{&e.Counters.Egress, &e.Counters.Ingress} {
		for _, pc := range []*PortCounters{&d.Rx, &d.Tx} {
			out = append(out, pc.Packets.Load(), pc.Bytes.Load(), pc.Batches.Load(), pc.Errors.Load())
		}
		for i := range d.Drops {
			out = append(out, d.Drops[i].Load())
		}
		out = append(out, d.Tunnel.Load(), d.ICMPSent.Load(), d.GSOSuper.Load(), d.GSOSegs.Load(), d.WholeGSO.Load())
	}
	return out
}

// written empties every port of the rig and reports what the loops wrote,
// as verdict words: sent:PORT×N (datagrams or frames), and icmp for what
// an egress loop wrote to the pod side.
func (r *simRig) written(dir Direction) []string {
	var v []string
	for _, m := range r.underlay {
		if w, _ := m.Written(); len(w) > 0 {
			v = append(v, fmt.Sprintf("sent:%s×%d", m.Name(), len(w)))
		}
	}
	if r.tap != nil && len(r.tap.frames) > 0 {
		v = append(v, fmt.Sprintf("sent:%s×%d", r.tap.Name(), len(r.tap.frames)))
		r.tap.frames = nil
	}
	for _, m := range r.podSide {
		if w, _ := m.Written(); len(w) > 0 {
			if dir == Egress {
				v = append(v, "icmp")
				continue
			}
			v = append(v, fmt.Sprintf("sent:%s×%d", m.Name(), len(w)))
		}
	}
	return v
}

// live runs the packet through the engine's own loop as its port would
// hand it over, and returns the verdict (from the ports and the drop
// counters, not from the trace) and the traced events.
func (r *simRig) live(t *testing.T, dir Direction, pkt []byte, gso offload.VirtioNetHdr) ([]string, []TraceEvent) {
	t.Helper()
	e := r.e
	var before [NumReasons]uint64
	for i := range before {
		before[i] = e.Counters.Drops(Reason(i))
	}
	tr := &eventLog{}
	e.SetTracer(tr)
	defer e.SetTracer(nil)
	var l interface{ forward([]*Packet) }
	var p *Packet
	if dir == Egress {
		eg := newEgressLoop(e, e.opts.Pod)
		l, p = eg, eg.batch[0]
		p.Reset(Headroom)
		p.SetLen(copy(p.Buf[p.Start:], pkt))
		p.GSO = gso
	} else {
		port := e.opts.Underlay
		data, from := portView(t, e, pkt)
		if e.opts.Underlay6 != nil && pkt[9] == encap.ProtoIPv6 {
			port = e.opts.Underlay6
		}
		in := newIngressLoop(e, port)
		l, p = in, in.batch[0]
		p.Reset(Headroom)
		p.SetLen(copy(p.Buf[p.Start:], data))
		p.Addr = from
	}
	l.forward([]*Packet{p})
	v := r.written(dir)
	for i := 0; i < NumReasons; i++ {
		if e.Counters.Drops(Reason(i)) > before[i] {
			v = append(v, "drop:"+Reason(i).String())
		}
	}
	slices.Sort(v)
	return v, tr.evs
}

// portView is what the engine's underlay port returns for the outer IP
// packet pkt: the UDP payload and sender from a UDP socket, the whole
// packet and source from a raw socket, a frame (to our MAC, from a zero
// MAC) from AF_XDP. Written independently of the simulator's version.
func portView(t *testing.T, e *Engine, pkt []byte) ([]byte, netip.AddrPort) {
	t.Helper()
	src := netip.AddrFrom4([4]byte(pkt[12:16]))
	switch e.opts.UnderlayKind {
	case UnderlayUDP:
		hl := int(pkt[0]&0x0f) * 4
		return pkt[hl+8:], netip.AddrPortFrom(src, uint16(pkt[hl])<<8|uint16(pkt[hl+1]))
	case UnderlayIP:
		return pkt, netip.AddrPortFrom(src, 0)
	}
	frame := make([]byte, 14, 14+len(pkt))
	if f := e.fib.Load(); f != nil {
		copy(frame, f.cfg.LocalUnderlayMAC[:])
	}
	if pkt[0]>>4 == 4 {
		frame[12], frame[13] = 0x08, 0x00
	}
	return append(frame, pkt...), netip.AddrPort{}
}

// simulated runs the packet through Simulate and returns the verdict (from
// the trace) and the events, without the send stage the stand-in underlay
// port adds (the live loop leaves that to the port, whose writes the live
// verdict counts instead).
func (r *simRig) simulated(dir Direction, pkt []byte, gso offload.VirtioNetHdr) ([]string, []TraceEvent) {
	tr := &eventLog{}
	r.e.simulate(dir, pkt, gso, tr)
	var v []string
	var evs []TraceEvent
	for _, ev := range tr.evs {
		switch ev.Stage {
		case StageDrop:
			v = append(v, "drop:"+ev.Reason.String())
		case StageICMP:
			v = append(v, "icmp")
		case StageSend:
			v = append(v, fmt.Sprintf("sent:%s×%d", ev.Port, max(ev.Segments, 1)))
			if dir == Egress {
				continue
			}
		}
		evs = append(evs, ev)
	}
	slices.Sort(v)
	return v, evs
}

// outer4 is an IPv4 packet from src to our underlay address carrying
// payload as protocol proto; for UDP, payload is a tunnel payload to port
// dport from source port 33333. Built by gopacket.
func outer4(t *testing.T, src netip.Addr, proto layers.IPProtocol, dport layers.UDPPort, payload []byte) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: net.IP(src.AsSlice()), DstIP: net.IP(ourUnderlay.AsSlice()), Flags: layers.IPv4DontFragment}
	ls := []gopacket.SerializableLayer{ip}
	if proto == layers.IPProtocolUDP {
		udp := &layers.UDP{SrcPort: 33333, DstPort: dport}
		_ = udp.SetNetworkLayerForChecksum(ip)
		ls = append(ls, udp)
	}
	if err := gopacket.SerializeLayers(buf, opts, append(ls, gopacket.Payload(payload))...); err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(buf.Bytes())
}
