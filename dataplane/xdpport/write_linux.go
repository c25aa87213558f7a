package xdpport

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/xdp"
)

// ErrNoFrame is returned by WriteBatch when no UMEM frame is free for a
// copy even after reaping completions: the kernel has not sent enough yet.
var ErrNoFrame = errors.New("xdpport: no free UMEM frame to send from")

// ErrTooBig is returned by WriteBatch for a packet longer than a frame.
var ErrTooBig = errors.New("xdpport: packet larger than a UMEM frame")

// ErrTxRingFull is returned by WriteBatch when the TX ring stayed full.
var ErrTxRingFull = errors.New("xdpport: TX ring full")

// txRetries bounds how often one chunk is offered to a full TX ring; each
// retry reaps completions first. The kernel drains the ring synchronously in
// copy mode, so a full ring after that many tries means it is stuck.
const txRetries = 16

// WriteBatch sends each packet as one Ethernet frame, in order, and
// returns how many it queued for the kernel. A packet the reader lent out
// is sent in place from its own frame (headers prepended into its headroom
// included) and belongs to the port from then on; any other packet is
// copied into a free frame. It stops at the first packet it cannot send,
// with the reason. The kernel is kicked only when the TX ring asks for it.
func (p *Port) WriteBatch(pkts []*dataplane.Packet) (int, error) {
	p.calls.Add(1)
	defer p.calls.Add(-1)
	if p.closed.Load() {
		return 0, dataplane.ErrPortClosed
	}
	sent := 0
	for sent < len(pkts) {
		chunk := pkts[sent:min(len(pkts), sent+cap(p.tx))]
		k, err := p.writeChunk(chunk)
		sent += k
		if err != nil {
			p.sent.Add(uint64(sent))
			return sent, err
		}
	}
	p.sent.Add(uint64(sent))
	return sent, nil
}

// writeChunk builds the descriptors of up to cap(p.tx) packets and queues
// them; frames it took but could not queue go back to the free list.
func (p *Port) writeChunk(chunk []*dataplane.Packet) (int, error) {
	descs := p.tx[:0]
	var stop error
	for _, pk := range chunk {
		d, ok := p.inPlace(pk)
		if !ok {
			if d, stop = p.copyIn(pk); stop != nil {
				break
			}
		}
		descs = append(descs, d)
	}
	queued, err := p.transmit(descs)
	for _, d := range descs[queued:] {
		p.sock.FreeFrame(d.Addr)
	}
	// In copy mode the kick sent the chunk before it returned: reap it
	// now, so that frames received and sent in place reach the reader's
	// fill ring a batch earlier than the next write would take them.
	p.sock.Complete()
	if err == nil {
		err = stop
	}
	return queued, err
}

// inPlace returns the descriptor of pk when its bytes lie in a frame the
// reader lent out, and takes the frame over from the reader.
func (p *Port) inPlace(pk *dataplane.Packet) (xdp.Desc, bool) {
	if cap(pk.Buf) == 0 || pk.End <= pk.Start || pk.End > len(pk.Buf) {
		return xdp.Desc{}, false
	}
	at := uintptr(unsafe.Pointer(unsafe.SliceData(pk.Buf)))
	if at < p.umemBase || at >= p.umemBase+p.umemLen {
		return xdp.Desc{}, false
	}
	first := uint64(at-p.umemBase) + uint64(pk.Start)
	last := first + uint64(pk.End-pk.Start) - 1
	frame := first / p.frameSize
	if last/p.frameSize != frame || frame >= uint64(len(p.lent)) {
		return xdp.Desc{}, false
	}
	if !p.lent[frame].CompareAndSwap(frameLent, frameSent) {
		return xdp.Desc{}, false // not lent (given back already): copy it
	}
	return xdp.Desc{Addr: first, Len: uint32(pk.End - pk.Start)}, true
}

// copyIn copies pk into a free frame: the one copy on the path from the
// engine's own buffers (the TUN side) to the wire.
func (p *Port) copyIn(pk *dataplane.Packet) (xdp.Desc, error) {
	b := pk.Bytes()
	if len(b) == 0 {
		return xdp.Desc{}, errors.New("xdpport: empty packet")
	}
	if uint64(len(b)) > p.frameSize {
		return xdp.Desc{}, fmt.Errorf("%w: %d bytes, frame %d", ErrTooBig, len(b), p.frameSize)
	}
	addr, frame, ok := p.sock.AllocFrame()
	if !ok {
		return xdp.Desc{}, ErrNoFrame
	}
	return xdp.Desc{Addr: addr, Len: uint32(copy(frame, b))}, nil
}

// transmit queues descs on the TX ring, reaping completions and retrying
// a bounded number of times while the ring is full.
func (p *Port) transmit(descs []xdp.Desc) (int, error) {
	done := 0
	for try := 0; done < len(descs); try++ {
		n, err := p.sock.Transmit(descs[done:])
		done += n
		if err != nil {
			return done, err
		}
		if done == len(descs) {
			break
		}
		if try == txRetries {
			return done, ErrTxRingFull
		}
		if n == 0 {
			runtime.Gosched()
		}
	}
	return done, nil
}
