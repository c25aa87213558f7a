package dataplane

import "encoding/binary"

// AnyPasses reports whether Pass passes any packet of batch: when none
// does, the egress loop leaves the tracer out of the whole batch, and a
// tracer matching nothing costs it this one tight loop.
func (g *TraceGate) AnyPasses(batch []*Packet) bool {
	switch {
	case g.all:
		return true
	case g.addr4:
		return g.anyAddr4(batch)
	}
	return g.anyPass(batch)
}

func (g *TraceGate) anyPass(batch []*Packet) bool {
	for _, p := range batch {
		if g.Pass(p.Bytes()) {
			return true
		}
	}
	return false
}

// anyAddr4 is AnyPasses of a gate with only IPv4 address tests, on a
// batch of IPv4 packets: two loads per packet and the compares, nothing
// called (a call would make the loop keep its state on the stack). The
// first packet of another kind hands the rest to anyPass.
func (g *TraceGate) anyAddr4(batch []*Packet) bool {
	switch n := len(g.addrs4); {
	case n == 1:
		return g.anyAddr4One(batch)
	case n == 2:
		return g.anyAddr4Two(batch)
	}
	tests := g.addrs4
	for i, p := range batch {
		h := p.Buf[p.Start:p.End]
		if len(h) < 20 || h[0]>>4 != 4 {
			return g.anyPass(batch[i:])
		}
		s, d := binary.NativeEndian.Uint32(h[12:]), binary.NativeEndian.Uint32(h[16:])
		for j := range tests {
			if tests[j].holds(s, d) {
				return true
			}
		}
	}
	return false
}

// anyAddr4Two is anyAddr4 of two tests ("host 10.0.0.1 or net
// 10.2.0.0/16"), kept in registers.
func (g *TraceGate) anyAddr4Two(batch []*Packet) bool {
	t0, t1 := g.addrs4[0], g.addrs4[1]
	for i, p := range batch {
		h := p.Buf[p.Start:p.End]
		if len(h) < 20 || h[0]>>4 != 4 {
			return g.anyPass(batch[i:])
		}
		s, d := binary.NativeEndian.Uint32(h[12:]), binary.NativeEndian.Uint32(h[16:])
		if t0.holds(s, d) || t1.holds(s, d) {
			return true
		}
	}
	return false
}

// anyAddr4One is anyAddr4 of a single test ("host 10.0.0.1", "dst net
// 10.1.0.0/16"), kept in registers.
func (g *TraceGate) anyAddr4One(batch []*Packet) bool {
	t := g.addrs4[0]
	for i, p := range batch {
		h := p.Buf[p.Start:p.End]
		if len(h) < 20 || h[0]>>4 != 4 {
			return g.anyPass(batch[i:])
		}
		if binary.NativeEndian.Uint32(h[12:])&t.srcMask == t.src || binary.NativeEndian.Uint32(h[16:])&t.dstMask == t.dst {
			return true
		}
	}
	return false
}
