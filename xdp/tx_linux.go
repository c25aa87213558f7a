package xdp

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// ErrInvalidDesc is returned by Transmit for a descriptor that is empty or
// does not lie inside one UMEM frame; the kernel would drop it and keep
// its frame, so it is refused before it reaches the ring.
var ErrInvalidDesc = errors.New("xdp: descriptor outside one UMEM frame")

// AllocFrame takes a frame off the transmitting side's free list for a
// locally built packet. It returns the frame's base address and the whole
// frame; the caller writes the packet at some offset off and transmits
// Desc{Addr: addr + off, Len}. ok is false when no frame is free even after
// reaping the completion ring. Transmitting side only.
func (s *Socket) AllocFrame() (addr uint64, frame []byte, ok bool) {
	if len(s.txFree) == 0 {
		s.Complete()
		if len(s.txFree) == 0 {
			return 0, nil, false
		}
	}
	last := len(s.txFree) - 1
	addr = s.txFree[last]
	s.txFree = s.txFree[:last]
	return addr, s.umem[addr : addr+s.frameSize : addr+s.frameSize], true
}

// FreeFrame returns a frame from AllocFrame that will not be sent.
// Transmitting side only.
func (s *Socket) FreeFrame(addr uint64) {
	if addr < uint64(len(s.umem)) && len(s.txFree) < cap(s.txFree) {
		s.txFree = append(s.txFree, addr&^(s.frameSize-1))
	}
}

// Transmit queues up to len(descs) packets on the TX ring and returns how
// many it queued; the frames of descs[:n] belong to the kernel until the
// completion ring returns them. A descriptor may point anywhere inside a
// frame the caller owns: a received frame rewritten in place, or grown into
// its headroom with Prepend, goes back out as is. Queueing stops at the
// first invalid descriptor, with ErrInvalidDesc. The kernel is woken only
// when it flagged the TX ring with need-wakeup. Transmitting side only.
func (s *Socket) Transmit(descs []Desc) (int, error) {
	if s.fd < 0 {
		return 0, ErrSocketClosed
	}
	s.Complete()
	n := s.tx.freeSlots(uint32(len(descs)))
	var err error
	for i := uint32(0); i < n; i++ {
		d := descs[i]
		if d.Len == 0 || !s.validDesc(d) {
			n, err = i, ErrInvalidDesc
			break
		}
		s.tx.descs[(s.tx.local+i)&s.tx.mask] = unix.XDPDesc{Addr: d.Addr, Len: d.Len}
	}
	if n > 0 {
		s.tx.publish(n)
		s.txPosted += int(n)
	}
	if s.txPosted > 0 && s.tx.needWakeup() {
		if werr := s.wakeTx(); werr != nil {
			return int(n), werr
		}
	}
	return int(n), err
}

// wakeTx asks the kernel to send what is on the TX ring. In copy mode the
// kernel sends at most a small batch (32) per call and says EAGAIN when more
// is left, so it is called again, a bounded number of times.
func (s *Socket) wakeTx() error {
	for range int(s.tx.size/32) + 2 {
		switch errno := kick(s.fd, unix.SYS_SENDTO); errno {
		case 0, unix.EBUSY, unix.ENOBUFS, unix.EINTR:
			return nil
		case unix.EAGAIN:
			continue
		default:
			return fmt.Errorf("xdp: TX wakeup: %w", errno)
		}
	}
	return nil
}

// Complete reaps the completion ring and returns how many frames it got
// back. The transmitting side keeps up to its share of the UMEM on its free
// list; frames beyond that (received frames that were sent) go to the
// receiving side, whose next Refill posts them to the fill ring.
// Transmitting side only.
func (s *Socket) Complete() int {
	if s.fd < 0 {
		return 0
	}
	n := s.comp.available(s.comp.size)
	surplus := s.surplus[:0]
	for i := uint32(0); i < n; i++ {
		addr := s.comp.addrs[(s.comp.local+i)&s.comp.mask] &^ (s.frameSize - 1)
		if len(s.txFree) < s.txKeep {
			s.txFree = append(s.txFree, addr)
		} else {
			surplus = append(surplus, addr)
		}
	}
	if n > 0 {
		s.comp.release(n)
		s.txPosted -= int(n)
	}
	if len(surplus) > 0 {
		// The recycle ring holds every frame, so push cannot fall short;
		// if it ever did, the frames stay on this side rather than leak.
		k := s.recycle.push(surplus)
		s.txFree = append(s.txFree, surplus[k:]...)
	}
	return int(n)
}
