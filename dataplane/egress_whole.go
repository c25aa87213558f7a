package dataplane

import (
	"encoding/binary"
	"errors"
	"syscall"

	"github.com/podfwd/podfwd/dataplane/offload"
	"github.com/podfwd/podfwd/encap"
)

// sendWhole sends the GSO super-packet p through the tunnel GSO port as one
// frame and reports whether it did; on false p is unchanged and the caller
// splits it. The payload is never touched: every header is written into
// p's headroom, and the inner TCP checksum keeps the pseudo-header sum the
// pod's kernel left for whoever segments (NEEDS_CSUM), so each segment's
// checksum is computed by the kernel that cuts it — or by nobody, when the
// packet stays whole up to the receiving pod's stack, which trusts a
// partial checksum from a local GSO packet.
func (l *egressLoop) sendWhole(f *fib, nh *nextHop, p *Packet, tr Tracer, traced bool) bool {
	e := l.e
	port := e.opts.TunnelGSO
	if port == nil || e.tunnelGSOOff.Load() || e.opts.UnderlayKind != UnderlayUDP || !nh.outer.Dst.Is4() {
		return false
	}
	in := p.GSO
	switch in.GSOType &^ offload.GSOECN {
	case offload.GSOTCPv4, offload.GSOTCPv6:
	default:
		return false // UDP super-packets: the receiving side could not tell their datagram boundaries
	}
	inner := p.Bytes()
	hdrLen, ok := l3l4HeaderLen(inner, in.GSOType&^offload.GSOECN)
	if !ok || in.Flags&offload.FlagNeedsCsum == 0 || int(in.CsumStart) != ipHeaderLen(inner) || in.CsumOffset != 16 ||
		in.GSOSize == 0 || hdrLen+int(in.GSOSize) > f.innerMTU(nh) {
		return false // the split path checks and counts the odd ones
	}
	start, r := encap.PrependTunnel(p.Buf, p.Start, p.End, &nh.params)
	if r != encap.DropNone {
		return false
	}
	udpStart := start - encap.UDPLen
	if start, r = encap.PrependOuter(p.Buf, start, p.End, &nh.params, &nh.outer, inner, encap.FlowHash(inner)); r != encap.DropNone {
		return false // e.g. over 64 KiB with the outer headers
	}
	if start, r = encap.PrependEthernet(p.Buf, start, port.MAC(), f.cfg.LocalUnderlayMAC, encap.EtherTypeIPv4); r != encap.DropNone ||
		start < offload.VirtioNetHdrTunnelLen {
		return false
	}
	innerOff := uint16(p.Start - start)
	p.GSO = offload.VirtioNetHdr{
		Flags:         offload.FlagNeedsCsum,
		GSOType:       in.GSOType | offload.GSOUDPTunnelIPv4,
		HdrLen:        innerOff + uint16(hdrLen),
		GSOSize:       in.GSOSize,
		CsumStart:     innerOff + in.CsumStart,
		CsumOffset:    in.CsumOffset,
		OuterTHOffset: uint16(udpStart - start),
		InnerNHOffset: innerOff,
	}
	innerStart := p.Start
	p.Start = start
	l.one1[0] = p
	// Only the TUN's egress loop writes here (tun io has no direct pod
	// port), so no lock.
	n, err := port.WriteBatch(l.one1[:])
	if n != 1 {
		// Put the packet back as it came for the split path. A refused
		// header (EINVAL) means this kernel takes no tunnel GSO after all:
		// stop trying. Anything else is counted and this one is split.
		p.Start, p.GSO = innerStart, in
		e.Counters.Egress.Tx.Errors.Add(1)
		if errors.Is(err, syscall.EINVAL) && e.tunnelGSOOff.CompareAndSwap(false, true) {
			e.opts.Logger.Warn("the kernel refused a UDP-tunnel GSO frame; splitting super-packets from now on",
				"port", port.Name(), "err", err)
		} else {
			e.errLog.report(port.Name(), "write", err)
		}
		return false
	}
	segs := (len(inner) - hdrLen + int(in.GSOSize) - 1) / int(in.GSOSize)
	l.tally.wholeGSO++
	l.tally.wholeSegs += uint64(segs)
	l.tally.tunnel += uint64(segs)
	l.tally.txPackets += uint64(segs)
	l.tally.txBytes += uint64(p.Len())
	if traced {
		// The tunnel payload, as on the socket path: a trace's capture
		// adds the outer IP and UDP headers to it.
		payload := udpStart + encap.UDPLen
		tr.Record(&TraceEvent{Dir: Egress, Stage: StageEncap, Kind: nh.params.Kind, VNI: nh.params.VNI,
			Peer: nh.peer.Name, Outer: nh.dst, Segments: segs, SrcPort: binary.BigEndian.Uint16(p.Buf[udpStart:]),
			Packet: p.Buf[payload:p.End]})
	}
	return true
}

// ipHeaderLen returns the IP header length of pkt, whose version
// l3l4HeaderLen already checked: IPv6 super-packets from a TUN carry no
// extension headers.
func ipHeaderLen(pkt []byte) int {
	if pkt[0]>>4 == 4 {
		return int(pkt[0]&0x0f) * 4
	}
	return 40
}
