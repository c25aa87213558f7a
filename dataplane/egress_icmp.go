package dataplane

import "github.com/podfwd/podfwd/encap"

// answer drops p for reason r and queues the ICMP error a tunnel endpoint
// owes its sender: time exceeded for ReasonTTLExceeded, fragmentation
// needed / packet too big carrying mtu for ReasonTooBig and
// ReasonPathTooBig. The error goes
// back out of the pod port after the batch.
func (l *egressLoop) answer(f *fib, p *Packet, tr Tracer, traced bool, r Reason, mtu int) {
	l.drop(tr, traced, p, r)
	if len(l.icmp) == len(l.icmpBuf) {
		return
	}
	pkt := p.Bytes()
	v6 := pkt[0]>>4 == 6
	src := f.icmpSrc4
	if v6 {
		src = f.icmpSrc6
	}
	if !src.IsValid() {
		return
	}
	q := l.icmpBuf[len(l.icmp)]
	q.Reset(Headroom)
	room := q.Buf[q.Start:]
	var n int
	switch {
	case r == ReasonTTLExceeded:
		n = encap.BuildTimeExceeded(room, pkt, src)
	case (r == ReasonTooBig || r == ReasonPathTooBig) && v6:
		n = encap.BuildPacketTooBig6(room, pkt, src, mtu)
	case r == ReasonTooBig || r == ReasonPathTooBig:
		n = encap.BuildFragNeeded4(room, pkt, src, mtu)
	}
	if n == 0 {
		return
	}
	q.SetLen(n)
	l.icmp = append(l.icmp, q)
	l.tally.icmp++
	if traced {
		tr.Record(&TraceEvent{Dir: Egress, Stage: StageICMP, Reason: r, Packet: q.Bytes()})
	}
}
