package xdp

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// ErrSocketClosed is returned by calls on a closed Socket.
var ErrSocketClosed = errors.New("xdp: socket closed")

// Receive takes up to len(descs) received packets off the RX ring without
// blocking and returns how many it wrote to descs. The frames now belong to
// the caller until it passes them to Release or Transmit. When nothing is
// ready and the kernel flagged the fill ring with need-wakeup, Receive wakes
// it. Use Wait to block.
func (s *Socket) Receive(descs []Desc) (int, error) {
	if s.fd < 0 {
		return 0, ErrSocketClosed
	}
	n := s.rx.available(uint32(len(descs)))
	for i := uint32(0); i < n; i++ {
		d := &s.rx.descs[(s.rx.local+i)&s.rx.mask]
		descs[i] = Desc{Addr: d.Addr, Len: d.Len}
	}
	if n > 0 {
		s.rx.release(n)
		s.fillPosted -= int(n)
		return int(n), nil
	}
	if s.fill.needWakeup() {
		if err := s.wakeRx(); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// wakeRx tells the kernel that the fill ring has frames again.
func (s *Socket) wakeRx() error {
	switch errno := kick(s.fd, unix.SYS_RECVFROM); errno {
	case 0, unix.EAGAIN, unix.EBUSY, unix.ENOBUFS, unix.EINTR:
		return nil
	default:
		return fmt.Errorf("xdp: fill ring wakeup: %w", errno)
	}
}

// Frame returns the bytes of d inside the UMEM, capped at the end of d's
// frame so that an append cannot spill into the next frame. It returns nil
// for a descriptor that does not lie inside one frame of this UMEM. The
// slice is valid while the caller owns the frame.
func (s *Socket) Frame(d Desc) []byte {
	base := d.Addr &^ (s.frameSize - 1)
	end := d.Addr + uint64(d.Len)
	if base >= uint64(len(s.umem)) || end > base+s.frameSize {
		return nil
	}
	return s.umem[d.Addr : end : base+s.frameSize]
}

// Headroom returns how many bytes lie in d's frame in front of d.Addr: room
// for headers prepended in place.
func (s *Socket) Headroom(d Desc) int {
	return int(d.Addr & (s.frameSize - 1))
}

// Prepend returns d grown by n bytes at its front (for headers written in
// place before the packet) and true, or d and false when the frame has less
// than n bytes of headroom.
func (s *Socket) Prepend(d Desc, n int) (Desc, bool) {
	if n < 0 || n > s.Headroom(d) {
		return d, false
	}
	return Desc{Addr: d.Addr - uint64(n), Len: d.Len + uint32(n)}, true
}

// Release gives the frames of descs back (to the free list, and from there
// to the fill ring as far as it has room). The caller must own them and
// must not use them afterwards.
func (s *Socket) Release(descs []Desc) {
	for _, d := range descs {
		s.pushFree(d.Addr)
	}
	s.Refill()
}

// pushFree puts the frame holding addr on the free list. An address outside
// the UMEM, or more frames than the UMEM has (a frame given back twice), is
// a caller bug; it is ignored rather than trusted. Duplicates below that
// bound are not detected: doing so would cost a bitmap write per frame.
func (s *Socket) pushFree(addr uint64) {
	if addr >= uint64(len(s.umem)) || len(s.free) == cap(s.free) {
		return
	}
	s.free = append(s.free, addr&^(s.frameSize-1))
}

// Refill moves frames from the free list to the fill ring, as many as the
// ring has room for, and returns how many it moved. It wakes the kernel
// when it asked for that.
func (s *Socket) Refill() int {
	if s.fd < 0 {
		return 0
	}
	n := s.fill.freeSlots(uint32(len(s.free)))
	for i := uint32(0); i < n; i++ {
		last := len(s.free) - 1
		s.fill.addrs[(s.fill.local+i)&s.fill.mask] = s.free[last]
		s.free = s.free[:last]
	}
	if n > 0 {
		s.fill.publish(n)
		s.fillPosted += int(n)
		if s.fill.needWakeup() {
			_ = s.wakeRx()
		}
	}
	return int(n)
}

// AllocFrame takes a frame off the free list for a locally built packet. It
// returns the frame's base address and the whole frame; the caller writes
// the packet at some offset off and transmits Desc{Addr: addr + off, Len}.
// ok is false when no frame is free (reap completions with Transmit or
// Complete first).
func (s *Socket) AllocFrame() (addr uint64, frame []byte, ok bool) {
	if len(s.free) == 0 {
		s.Complete()
		if len(s.free) == 0 {
			return 0, nil, false
		}
	}
	last := len(s.free) - 1
	addr = s.free[last]
	s.free = s.free[:last]
	return addr, s.umem[addr : addr+s.frameSize : addr+s.frameSize], true
}

// FreeFrame returns a frame from AllocFrame or Receive that will not be
// sent, to the free list.
func (s *Socket) FreeFrame(addr uint64) { s.pushFree(addr) }

// Transmit queues up to len(descs) packets on the TX ring and returns how
// many it queued; the frames of descs[:n] belong to the kernel until the
// completion ring returns them to the free list. A descriptor may point
// anywhere inside a frame the caller owns: a received frame rewritten in
// place goes back out as is. The kernel is woken only when it flagged the TX
// ring with need-wakeup.
func (s *Socket) Transmit(descs []Desc) (int, error) {
	if s.fd < 0 {
		return 0, ErrSocketClosed
	}
	s.Complete()
	n := s.tx.freeSlots(uint32(len(descs)))
	for i := uint32(0); i < n; i++ {
		d := descs[i]
		s.tx.descs[(s.tx.local+i)&s.tx.mask] = unix.XDPDesc{Addr: d.Addr, Len: d.Len}
	}
	if n > 0 {
		s.tx.publish(n)
		s.txPosted += int(n)
	}
	if s.tx.needWakeup() && s.txPosted > 0 {
		if err := s.wakeTx(); err != nil {
			return int(n), err
		}
	}
	return int(n), nil
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

// Complete moves the frames the kernel finished sending from the
// completion ring to the free list and returns how many.
func (s *Socket) Complete() int {
	if s.fd < 0 {
		return 0
	}
	n := s.comp.available(s.comp.size)
	for i := uint32(0); i < n; i++ {
		s.pushFree(s.comp.addrs[(s.comp.local+i)&s.comp.mask])
	}
	if n > 0 {
		s.comp.release(n)
		s.txPosted -= int(n)
	}
	return int(n)
}

// Wait blocks until the RX ring has packets, timeout passes (negative:
// forever) or a signal interrupts, and reports whether packets are ready.
func (s *Socket) Wait(timeout time.Duration) (bool, error) {
	if s.fd < 0 {
		return false, ErrSocketClosed
	}
	ms := -1
	if timeout >= 0 {
		ms = int(timeout / time.Millisecond)
	}
	n, err := unix.Poll(s.pollfd[:], ms)
	if err != nil {
		if errors.Is(err, unix.EINTR) {
			return false, nil
		}
		return false, fmt.Errorf("xdp: poll: %w", err)
	}
	return n > 0 && s.pollfd[0].Revents&unix.POLLIN != 0, nil
}

// FrameCounts tells where the UMEM's frames are: on the free list, posted
// to the fill ring, posted to the TX ring and not yet completed, and held by
// the caller (received or allocated and not yet released, freed or sent).
// The four add up to the frame count; tests use it to prove no frame leaks.
type FrameCounts struct {
	Free, Fill, TX, Held int
}

// Frames returns the current FrameCounts.
func (s *Socket) Frames() FrameCounts {
	c := FrameCounts{Free: len(s.free), Fill: s.fillPosted, TX: s.txPosted}
	c.Held = s.numFrames - c.Free - c.Fill - c.TX
	return c
}
