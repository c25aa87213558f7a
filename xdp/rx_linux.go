package xdp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// ErrSocketClosed is returned by calls on a closed Socket.
var ErrSocketClosed = errors.New("xdp: socket closed")

// Receive takes up to len(descs) received packets off the RX ring without
// blocking and returns how many it wrote to descs. The frames now belong to
// the caller until it passes them to Release (or, on the transmitting
// goroutine, to Transmit). When nothing is ready and the kernel flagged the
// fill ring with need-wakeup, Receive wakes it. Use Wait to block.
// Receiving side only.
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

// Release gives the frames of descs back to the receiving side's free list
// and from there to the fill ring, as far as it has room. The caller must
// own them and must not use them afterwards. Receiving side only.
func (s *Socket) Release(descs []Desc) {
	for _, d := range descs {
		if d.Addr < uint64(len(s.umem)) && len(s.rxFree) < cap(s.rxFree) {
			s.rxFree = append(s.rxFree, d.Addr&^(s.frameSize-1))
		}
	}
	s.Refill()
}

// Refill moves frames to the fill ring, as many as it has room for: first
// those the transmitting side handed back, then the receiving side's free
// list. It returns how many it moved and wakes the kernel when it asked for
// that. Receiving side only.
func (s *Socket) Refill() int {
	if s.fd < 0 {
		return 0
	}
	k := s.recycle.pop(s.rxFree[len(s.rxFree):cap(s.rxFree)])
	s.rxFree = s.rxFree[:len(s.rxFree)+k]
	n := s.fill.freeSlots(uint32(len(s.rxFree)))
	for i := uint32(0); i < n; i++ {
		last := len(s.rxFree) - 1
		s.fill.addrs[(s.fill.local+i)&s.fill.mask] = s.rxFree[last]
		s.rxFree = s.rxFree[:last]
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

// Wait blocks until the RX ring has packets, timeout passes (negative:
// forever), Wake is called or a signal interrupts, and reports whether
// packets are ready.
// In copy mode a poll also makes the kernel send what waits on the TX ring.
// Receiving side only.
func (s *Socket) Wait(timeout time.Duration) (bool, error) {
	if s.fd < 0 {
		return false, ErrSocketClosed
	}
	ms := -1
	if timeout >= 0 {
		// Round up, so that a short timeout waits instead of spinning.
		ms = int((timeout + time.Millisecond - 1) / time.Millisecond)
	}
	n, err := unix.Poll(s.pollfd[:], ms)
	if err != nil {
		if errors.Is(err, unix.EINTR) {
			return false, nil
		}
		return false, fmt.Errorf("xdp: poll: %w", err)
	}
	if n > 0 && s.pollfd[1].Revents&unix.POLLIN != 0 {
		// Drain the eventfd so that the next Wait blocks again.
		_, _ = unix.Read(s.wakeFD, s.counter[:])
	}
	return n > 0 && s.pollfd[0].Revents&unix.POLLIN != 0, nil
}

// Wake makes a Wait that blocks now, or the next one, return at once. It is
// safe from any goroutine until Close, for stopping a blocked reader before
// closing the socket.
func (s *Socket) Wake() error {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	if _, err := unix.Write(s.wakeFD, one[:]); err != nil && !errors.Is(err, unix.EAGAIN) {
		return fmt.Errorf("xdp: wake: %w", err)
	}
	return nil
}
