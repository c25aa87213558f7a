package xdpport

import (
	"net/netip"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/encap"
	"github.com/podfwd/podfwd/xdp"
)

// WriteBatch delivers each IP packet to its pod: copied into a free frame
// of the pod veth's socket behind the Ethernet header the pod expects,
// with the node's hop taken off its TTL, one TX ring kick per socket and
// batch. It returns how many it delivered; a packet it cannot deliver (the
// pod left, no free frame, TX ring full) is skipped and counted, and the
// call then returns ErrPodUnreachable or the first other error.
func (ps *PodSet) WriteBatch(pkts []*dataplane.Packet) (int, error) {
	ps.writerEpoch.Add(1) // odd: inside
	defer ps.writerEpoch.Add(1)
	ps.calls.Add(1)
	defer ps.calls.Add(-1)
	if ps.closed.Load() {
		return 0, dataplane.ErrPortClosed
	}
	st := ps.state.Load()
	var firstErr error
	failed := 0
	fail := func(n int, err error) {
		failed += n
		ps.undelivered.Add(uint64(n))
		if firstErr == nil {
			firstErr = err
		}
	}
	for _, p := range pkts {
		dst, ok := ipDestination(p.Bytes())
		d, found := st.routes[dst]
		if !ok || !found {
			fail(1, ErrPodUnreachable)
			continue
		}
		desc, err := d.frame(p.Bytes())
		if err != nil {
			fail(1, err)
			continue
		}
		if len(d.sock.pending) == 0 {
			ps.touched = append(ps.touched, d.sock)
		}
		d.sock.pending = append(d.sock.pending, desc)
		if len(d.sock.pending) == cap(d.sock.pending) {
			if n, err := ps.flush(d.sock); err != nil {
				fail(n, err)
			}
		}
	}
	for _, s := range ps.touched {
		if n, err := ps.flush(s); err != nil {
			fail(n, err)
		}
	}
	ps.touched = ps.touched[:0]
	return len(pkts) - failed, firstErr
}

// frame copies pkt into a free frame of the pod's socket behind an
// Ethernet header and returns its descriptor.
func (d *podDest) frame(pkt []byte) (xdp.Desc, error) {
	addr, frame, ok := d.sock.sock.AllocFrame()
	if !ok {
		return xdp.Desc{}, ErrNoFrame
	}
	if encap.EthernetLen+len(pkt) > len(frame) {
		d.sock.sock.FreeFrame(addr)
		return xdp.Desc{}, ErrTooBig
	}
	n := copy(frame[encap.EthernetLen:], pkt)
	start, ok := ipToPodFrame(frame, encap.EthernetLen, encap.EthernetLen+n, d.podMAC, d.gwAddr)
	if !ok || start != 0 {
		d.sock.sock.FreeFrame(addr)
		return xdp.Desc{}, ErrPodUnreachable
	}
	return xdp.Desc{Addr: addr, Len: uint32(encap.EthernetLen + n)}, nil
}

// flush queues s's pending frames on its TX ring and returns how many it
// had to drop.
func (ps *PodSet) flush(s *podSocket) (int, error) {
	var err error
	queued := 0
	for try := 0; queued < len(s.pending) && try <= txRetries; try++ {
		var n int
		n, err = s.sock.Transmit(s.pending[queued:])
		queued += n
		if err != nil {
			break
		}
	}
	dropped := len(s.pending) - queued
	for _, d := range s.pending[queued:] {
		s.sock.FreeFrame(d.Addr)
	}
	if err == nil && dropped > 0 {
		err = ErrTxRingFull
	}
	s.pending = s.pending[:0]
	return dropped, err
}

// ipDestination reads an IP packet's destination address.
func ipDestination(pkt []byte) (netip.Addr, bool) {
	if len(pkt) == 0 {
		return netip.Addr{}, false
	}
	switch pkt[0] >> 4 {
	case 4:
		if len(pkt) >= encap.IPv4MinLen {
			return netip.AddrFrom4([4]byte(pkt[encap.IPv4DstOffset : encap.IPv4DstOffset+4])), true
		}
	case 6:
		if len(pkt) >= encap.IPv6Len {
			return netip.AddrFrom16([16]byte(pkt[encap.IPv6DstOffset : encap.IPv6DstOffset+16])), true
		}
	}
	return netip.Addr{}, false
}
