package dataplane

import (
	"encoding/binary"

	"github.com/podfwd/podfwd/encap"
)

// fragment splits the IPv4 packet p, which allows fragmentation, into
// fragments of at most mtu bytes (RFC 791 section 3.2), each laid out in
// gsoBuf behind room for the tunnel and frame headers, wraps them and
// sends them, for the underlays where no kernel fragments the outer packet
// (see pathFit). The receiving pod reassembles; podfwd's ingress passes
// inner fragments as they are. A packet with IP options is dropped rather
// than fragmented: which options each fragment copies is RFC 791's per
// option rule, and pods do not send them. Counted as a split, as
// segment's super-packets are: one packet read, n sent.
func (l *egressLoop) fragment(f *fib, nh *nextHop, p *Packet, mtu int, tr Tracer, traced bool) {
	pkt := p.Bytes()
	ip := encap.IPv4(pkt)
	if ip.HeaderLen() != encap.IPv4MinLen || int(ip.TotalLen()) != len(pkt) || mtu < encap.IPv4MinLen+8 {
		l.drop(tr, traced, p, ReasonPathTooBig)
		return
	}
	const hdr = encap.IPv4MinLen
	chunk := (mtu - hdr) &^ 7 // every fragment but the last carries a multiple of 8 bytes
	payload := pkt[hdr:]
	n := (len(payload) + chunk - 1) / chunk
	room := nh.tunHdrLen + nh.frameLen
	stride := room + hdr + chunk
	if n > maxGSOSegments || n*stride > len(l.gsoBuf) {
		l.drop(tr, traced, p, ReasonSegmentFailed)
		return
	}
	flags := binary.BigEndian.Uint16(pkt[encap.IPv4FlagsFragOffset:])
	first := flags & encap.IPv4FragOffsetMask // p may itself be a fragment
	lastMF := flags & encap.IPv4FlagMF
	out := l.gsoOut[:0]
	for i := 0; i < n; i++ {
		part := payload[i*chunk : min((i+1)*chunk, len(payload))]
		b := l.gsoBuf[i*stride : (i+1)*stride]
		h := b[room : room+hdr]
		copy(h, pkt[:hdr])
		copy(b[room+hdr:], part)
		mf := uint16(encap.IPv4FlagMF)
		if i == n-1 {
			mf = lastMF
		}
		binary.BigEndian.PutUint16(h[encap.IPv4TotalLenOffset:], uint16(hdr+len(part)))
		binary.BigEndian.PutUint16(h[encap.IPv4FlagsFragOffset:], flags&^(encap.IPv4FlagMF|encap.IPv4FragOffsetMask)|mf|(first+uint16(i*chunk/8)))
		binary.BigEndian.PutUint16(h[encap.IPv4ChecksumOffset:], 0)
		binary.BigEndian.PutUint16(h[encap.IPv4ChecksumOffset:], encap.Checksum(h, 0))
		start, r := l.wrap(f, nh, b, room, room+hdr+len(part))
		if r == ReasonNone && start != 0 {
			r = ReasonNoHeadroom // the headers did not fill the room exactly
		}
		if r != ReasonNone {
			l.drop(tr, traced, p, r)
			return
		}
		v := &l.gsoViews[i]
		*v = Packet{Buf: l.gsoBuf, Start: i * stride, End: i*stride + room + hdr + len(part), Addr: nh.dst}
		out = append(out, v)
	}
	l.tally.gsoSuper++
	l.tally.gsoSegs += uint64(n)
	l.tally.tunnel += uint64(n)
	if traced {
		tr.Record(&TraceEvent{Dir: Egress, Stage: StageSegment, Segments: n, Packet: pkt})
		tr.Record(&TraceEvent{Dir: Egress, Stage: StageEncap, Kind: nh.params.Kind, VNI: nh.params.VNI,
			Peer: nh.peer.Name, Outer: nh.dst, Segments: n, Packet: l.gsoBuf[:room+hdr+chunk]})
	}
	l.send(l.e.underlayPort(4), out)
}
