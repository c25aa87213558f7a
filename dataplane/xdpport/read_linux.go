package xdpport

import (
	"net/netip"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/dataplane/offload"
)

// ReadBatch gives back the frames of the previous batch, then blocks until
// at least one frame arrives and lends up to len(pkts) of them: each
// packet's Buf becomes the whole UMEM frame, with the received Ethernet
// frame at Buf[Start:End] and the frame's headroom in front of it. The
// packets stay valid until the next ReadBatch or Close. It returns
// dataplane.ErrPortClosed once the port is closed.
func (p *Port) ReadBatch(pkts []*dataplane.Packet) (int, error) {
	p.calls.Add(1)
	if p.closed.Load() {
		return p.readClosed()
	}
	p.giveBack()
	for {
		k, err := p.tryRead(pkts)
		if err != nil {
			p.calls.Add(-1)
			return 0, err
		}
		if k > 0 {
			p.calls.Add(-1)
			return k, nil
		}
		if _, err := p.sock.Wait(-1); err != nil {
			p.calls.Add(-1)
			return 0, err
		}
		if p.closed.Load() {
			return p.readClosed()
		}
	}
}

// tryRead lends up to len(pkts) (at most the batch size) received frames
// without blocking and returns how many; 0 when the RX ring is empty. The
// caller gave back the previous batch first. Reader side only.
func (p *Port) tryRead(pkts []*dataplane.Packet) (int, error) {
	n, err := p.sock.Receive(p.rx[:min(len(pkts), len(p.rx))])
	if err != nil {
		return 0, err
	}
	if n == 0 {
		// The caller may wait next: post what the writer recycled since
		// giveBack, so that the kernel has frames to receive into.
		p.sock.Refill()
	}
	k := p.lend(pkts, n)
	if k > 0 {
		p.holding.Store(true)
		p.received.Add(uint64(k))
	}
	return k, nil
}

// lend points pkts at the n descriptors in p.rx and records them as held.
// A descriptor outside the UMEM (never seen: the kernel validates them)
// names no frame of ours, so it is skipped.
func (p *Port) lend(pkts []*dataplane.Packet, n int) int {
	k := 0
	for _, d := range p.rx[:n] {
		frame, off := p.sock.WholeFrame(d)
		if frame == nil {
			continue
		}
		pk := pkts[k]
		pk.Buf, pk.Start, pk.End = frame, off, off+int(d.Len)
		pk.GSO = offload.VirtioNetHdr{}
		pk.Addr = netip.AddrPort{}
		pk.Segments, pk.SegmentSize = 0, 0
		p.lent[d.Addr/p.frameSize].Store(frameLent)
		p.held = append(p.held, d)
		k++
	}
	return k
}

// giveBack releases the frames lent in the previous batch to the fill ring,
// except those the writer took to send in place: the completion ring
// returns those to the transmitting side, which hands them on through the
// socket's recycle ring, so the fill ring is topped up from there too
// (without that, a reader whose batches all go back out in place would
// empty the fill ring within a few batches and wait forever).
func (p *Port) giveBack() {
	if len(p.held) == 0 {
		p.sock.Refill()
		return
	}
	rel := p.release[:0]
	for _, d := range p.held {
		if p.lent[d.Addr/p.frameSize].Swap(frameIdle) != frameSent {
			rel = append(rel, d)
		}
	}
	p.held = p.held[:0]
	p.holding.Store(false)
	if len(rel) > 0 {
		p.sock.Release(rel) // and Refill
	} else {
		p.sock.Refill()
	}
}

// readClosed ends a ReadBatch on a closed port: the caller is done with
// its last batch, so the port can now be freed if Close had to leave it.
func (p *Port) readClosed() (int, error) {
	p.holding.Store(false)
	p.calls.Add(-1)
	_ = p.Close()
	return 0, dataplane.ErrPortClosed
}
