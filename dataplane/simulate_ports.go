package dataplane

import (
	"net/netip"

	"github.com/podfwd/podfwd/encap"
)

// simPort stands in for one of the engine's ports in a simulation: the
// same name, one packet per batch, never read, and every write accepted
// and forgotten. Writes to an underlay port are reported as one StageSend
// per batch (the first packet's bytes and address, Segments the datagrams
// in the batch); writes to a pod-side port are not, because the ingress
// loop traces its deliveries itself and the egress loop its ICMP answers.
type simPort struct {
	name string
	send bool
	tr   *simTracer
}

func (p *simPort) Name() string                     { return p.name }
func (p *simPort) BatchSize() int                   { return 1 }
func (p *simPort) ReadBatch([]*Packet) (int, error) { return 0, ErrPortClosed }
func (p *simPort) Close() error                     { return nil }
func (p *simPort) WriteBatch(pkts []*Packet) (int, error) {
	if p.send && len(pkts) > 0 {
		segs := 0
		for _, q := range pkts {
			segs += max(q.Segments, 1)
		}
		q := pkts[0]
		p.tr.Record(&TraceEvent{Dir: Egress, Stage: StageSend, Port: p.name, Outer: q.Addr, Segments: segs, Packet: q.Bytes()})
	}
	return len(pkts), nil
}

// simDirect stands in for the direct pod port: it reaches what the real
// one reaches.
type simDirect struct {
	*simPort
	real DirectPort
}

func (d *simDirect) Reaches(dst netip.Addr) bool { return d.real.Reaches(dst) }

// simTunnelGSO stands in for the tunnel GSO port, with its MAC.
type simTunnelGSO struct {
	*simPort
	real TunnelGSOPort
}

func (g *simTunnelGSO) MAC() [6]byte { return g.real.MAC() }

// udpDelivery finds what a UDP socket bound to the tunnel port would
// return for the outer packet pkt: the sender and the payload
// pkt[off:end]. A packet it would not deliver (a bad outer header, not
// UDP, not to a tunnel port f accepts) gives the reason instead.
func udpDelivery(f *fib, pkt []byte) (from netip.AddrPort, off, end int, r encap.DropReason) {
	var src netip.Addr
	var proto uint8
	switch {
	case len(pkt) == 0:
		return from, 0, 0, encap.DropTruncated
	case pkt[0]>>4 == 4:
		ip := encap.IPv4(pkt)
		if r = ip.Check(); r != encap.DropNone {
			return from, 0, 0, r
		}
		if !ip.ChecksumValid() {
			return from, 0, 0, encap.DropBadIPChecksum
		}
		src, proto, off, end = ip.Src(), ip.Protocol(), ip.HeaderLen(), int(ip.TotalLen())
	case pkt[0]>>4 == 6:
		ip := encap.IPv6(pkt)
		if r = ip.Check(); r != encap.DropNone {
			return from, 0, 0, r
		}
		src, proto, off, end = ip.Src(), ip.NextHeader(), encap.IPv6Len, encap.IPv6Len+int(ip.PayloadLen())
	default:
		return from, 0, 0, encap.DropBadVersion
	}
	if proto != encap.ProtoUDP {
		return from, 0, 0, encap.DropNotTunnel
	}
	if end-off < encap.UDPLen {
		return from, 0, 0, encap.DropBadLength
	}
	udp := encap.UDP(pkt[off:])
	n := int(udp.Length())
	if n < encap.UDPLen || off+n > end {
		return from, 0, 0, encap.DropBadLength
	}
	end = off + n
	if dport := udp.DstPort(); f != nil && dport != f.decap.VXLANPort && dport != f.decap.GenevePort {
		return from, 0, 0, encap.DropNotTunnel
	}
	return netip.AddrPortFrom(src, udp.SrcPort()), off + encap.UDPLen, end, encap.DropNone
}

func netipPort0(a netip.Addr) netip.AddrPort { return netip.AddrPortFrom(a, 0) }
