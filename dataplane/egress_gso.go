package dataplane

import (
	"github.com/podfwd/podfwd/dataplane/offload"
	"github.com/podfwd/podfwd/encap"
)

// segment splits the GSO super-packet p into MSS-sized segments laid out
// in gsoBuf at a fixed stride, prepends the tunnel headers of nh in front
// of each, and sends them: as UDP GSO trains when the underlay supports it,
// one packet per segment otherwise. The payload is copied once (into the
// segments); headers are written in place.
func (l *egressLoop) segment(f *fib, nh *nextHop, p *Packet, tr Tracer, traced bool) {
	pkt := p.Bytes()
	hdrLen, ok := l3l4HeaderLen(pkt, p.GSO.GSOType&^offload.GSOECN)
	mss := int(p.GSO.GSOSize)
	if !ok || mss == 0 || len(pkt) <= hdrLen {
		l.drop(tr, traced, p, ReasonSegmentFailed)
		return
	}
	v6 := pkt[0]>>4 == 6
	v, mtu := l.pathFit(f, nh, hdrLen+mss, v6, !v6 && innerDF(pkt))
	switch v {
	case pathAnswer:
		l.answer(f, p, tr, traced, f.tooBigReason(hdrLen+mss), mtu)
		return
	case pathDrop, pathFragment:
		// Segments of a super-packet without DF are not fragmented
		// again: pods' kernels build those only with path MTU discovery
		// switched off (IP_PMTUDISC_DONT, UDP GSO), which the
		// kernel's own tunnels would fragment on the outer side.
		l.drop(tr, traced, p, f.tooBigReason(hdrLen+mss))
		return
	}
	nseg := (len(pkt) - hdrLen + mss - 1) / mss
	frame := l.e.opts.UnderlayKind == UnderlayFrame
	room := nh.tunHdrLen // bytes in front of each segment
	if frame {
		room += nh.frameLen
	}
	stride := room + hdrLen + mss
	if nseg > maxGSOSegments || nseg*stride > len(l.gsoBuf) {
		l.drop(tr, traced, p, ReasonSegmentFailed)
		return
	}
	for i := 0; i < nseg; i++ {
		l.gsoOuts[i] = l.gsoBuf[i*stride : (i+1)*stride]
	}
	n, err := offload.Segment(pkt, &p.GSO, l.gsoOuts[:nseg], room, l.gsoSizes)
	if err != nil || n == 0 {
		l.drop(tr, traced, p, ReasonSegmentFailed)
		return
	}
	if traced {
		tr.Record(&TraceEvent{Dir: Egress, Stage: StageSegment, Segments: n, Packet: pkt})
	}
	udp := l.e.opts.UnderlayKind == UnderlayUDP
	if udp || frame {
		for i := 0; i < n; i++ {
			start, r := l.wrap(f, nh, l.gsoOuts[i], room, room+l.gsoSizes[i])
			if r == ReasonNone && start != 0 {
				r = ReasonNoHeadroom // the headers did not fill the room exactly
			}
			if r != ReasonNone {
				l.drop(tr, traced, p, r)
				return
			}
		}
	}
	// Counted only once every segment is wrapped: a super-packet dropped
	// above is one dropped packet, not n segments, in the conservation
	// equation.
	l.tally.gsoSuper++
	l.tally.gsoSegs += uint64(n)
	l.tally.tunnel += uint64(n)
	if traced {
		tr.Record(&TraceEvent{Dir: Egress, Stage: StageEncap, Kind: nh.params.Kind, VNI: nh.params.VNI,
			Peer: nh.peer.Name, Outer: nh.dst, Segments: n, Packet: l.gsoOuts[0][:room+l.gsoSizes[0]]})
	}

	out := l.gsoOut[:0]
	// A train's segments may not exceed the path MTU the kernel knows
	// (it refuses the whole send): segments that pass only to be
	// fragmented (IPv4 without DF) leave one by one.
	if udp && l.e.opts.UDPGSO && hdrLen+mss <= mtu {
		k := maxUDPGSOBytes / stride
		if k > UDPGSOMaxSegments {
			k = UDPGSOMaxSegments
		}
		for g := 0; g < n; g += k {
			cnt := min(k, n-g)
			v := &l.gsoViews[len(out)]
			*v = Packet{Buf: l.gsoBuf, Start: g * stride, End: (g+cnt-1)*stride + nh.tunHdrLen + l.gsoSizes[g+cnt-1], Addr: nh.dst}
			if cnt > 1 {
				v.Segments, v.SegmentSize = cnt, stride
			}
			out = append(out, v)
		}
	} else {
		for i := 0; i < n; i++ {
			v := &l.gsoViews[i]
			*v = Packet{Buf: l.gsoBuf, Start: i * stride, End: i*stride + room + l.gsoSizes[i], Addr: nh.dst}
			out = append(out, v)
		}
	}
	l.send(l.e.underlayPort(pkt[0]>>4), out)
}

// l3l4HeaderLen returns the length of the IP and TCP/UDP headers of a GSO
// super-packet, read from the packet itself rather than trusting hdr_len.
func l3l4HeaderLen(pkt []byte, gsoType uint8) (int, bool) {
	if len(pkt) < encap.IPv4MinLen {
		return 0, false
	}
	var l3 int
	switch pkt[0] >> 4 {
	case 4:
		l3 = int(pkt[0]&0x0f) * 4
		if l3 < encap.IPv4MinLen {
			return 0, false
		}
	case 6:
		l3 = encap.IPv6Len // extension headers are not offloaded by TUN
	default:
		return 0, false
	}
	switch gsoType {
	case offload.GSOTCPv4, offload.GSOTCPv6:
		if len(pkt) < l3+encap.TCPMinLen {
			return 0, false
		}
		tcp := encap.TCP(pkt[l3:]).HeaderLen()
		if tcp < encap.TCPMinLen || len(pkt) < l3+tcp {
			return 0, false
		}
		return l3 + tcp, true
	case offload.GSOUDPL4:
		if len(pkt) < l3+encap.UDPLen {
			return 0, false
		}
		return l3 + encap.UDPLen, true
	}
	return 0, false
}
