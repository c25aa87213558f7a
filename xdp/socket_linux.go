package xdp

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Desc names a packet in the UMEM: the address of its first byte and its
// length. In the kernel's aligned mode the frame that holds a packet starts
// at Addr rounded down to the frame size; a packet never crosses a frame.
type Desc struct {
	Addr uint64
	Len  uint32
}

// ErrQueueBusy is wrapped when the queue already has an AF_XDP socket (one
// socket per interface and queue).
var ErrQueueBusy = errors.New("xdp: queue already bound by another AF_XDP socket")

// ErrZeroCopyUnsupported is wrapped when BindZeroCopy was asked for on a
// driver without AF_XDP zero-copy.
var ErrZeroCopyUnsupported = errors.New("xdp: zero-copy not supported on this interface")

// Socket is one AF_XDP socket with its own UMEM, bound to one queue of one
// interface. It has a receiving side (Receive, Release, Refill, Wait) and a
// transmitting side (AllocFrame, FreeFrame, Transmit, Complete): one
// goroutine may run each side at the same time, without locks, as a
// dataplane port's reader and writer do. A frame received on one side and
// sent on the other must be handed over by the caller. Stats and the
// accessors are safe anytime before Close; Close must not run concurrently
// with anything else.
type Socket struct {
	fd        int
	ifindex   int
	queue     int
	zeroCopy  bool
	umem      []byte
	frameSize uint64
	numFrames int

	fill addrRing
	comp addrRing
	rx   descRing
	tx   descRing

	// rxFree and txFree hold the base addresses of frames nobody uses,
	// each owned by one side; recycle carries frames from the
	// transmitting side to the receiving side. txKeep is how many frames
	// the transmitting side keeps for AllocFrame before it passes the
	// rest on; surplus is its scratch space for that.
	rxFree  []uint64
	txFree  []uint64
	txKeep  int
	recycle *recycleRing
	surplus []uint64
	// fillPosted and txPosted count frames the kernel holds through the
	// fill and TX rings, so that FrameCounts can prove none was lost.
	fillPosted int
	txPosted   int

	// pollfd polls the socket and wakeFD, an eventfd that Wake writes to
	// end a Wait early (a dataplane stopping its reader).
	pollfd  [2]unix.PollFd
	wakeFD  int
	counter [8]byte
}

// Open creates an AF_XDP socket for queue of the interface ifindex (in the
// network namespace of the calling thread), registers its UMEM, maps its
// rings, posts cfg.FillSize frames to the fill ring and binds. The bind mode
// in effect is reported by ZeroCopy.
func Open(ifindex, queue int, cfg SocketConfig) (*Socket, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_XDP, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("xdp: socket(AF_XDP): %w", err)
	}
	s := &Socket{fd: fd, wakeFD: -1, ifindex: ifindex, queue: queue, frameSize: uint64(cfg.FrameSize),
		numFrames: cfg.NumFrames}
	if err := s.setup(cfg); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.bind(cfg.Mode); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// bind binds the socket with XDP_USE_NEED_WAKEUP. With BindAuto no copy
// flag is passed, which makes the kernel try zero-copy and fall back to
// copy mode itself (a failed bind cannot be retried on the same socket once
// the UMEM is attached to a queue, so trying both in user space would need
// two sockets and two UMEMs). XDP_OPTIONS then tells which mode won.
func (s *Socket) bind(mode BindMode) error {
	flags := uint16(unix.XDP_USE_NEED_WAKEUP)
	switch mode {
	case BindCopy:
		flags |= unix.XDP_COPY
	case BindZeroCopy:
		flags |= unix.XDP_ZEROCOPY
	}
	sa := &unix.SockaddrXDP{Flags: flags, Ifindex: uint32(s.ifindex), QueueID: uint32(s.queue)}
	if err := unix.Bind(s.fd, sa); err != nil {
		switch {
		case errors.Is(err, unix.EBUSY):
			return fmt.Errorf("%w: ifindex %d queue %d: %w", ErrQueueBusy, s.ifindex, s.queue, err)
		case mode == BindZeroCopy && (errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EINVAL)):
			return fmt.Errorf("%w: ifindex %d: %w", ErrZeroCopyUnsupported, s.ifindex, err)
		}
		return fmt.Errorf("xdp: bind ifindex %d queue %d (%s): %w", s.ifindex, s.queue, mode, err)
	}
	var opts struct{ flags uint32 }
	if err := getsockoptRaw(s.fd, unix.SOL_XDP, unix.XDP_OPTIONS, unsafe.Pointer(&opts), unsafe.Sizeof(opts)); err != nil {
		return fmt.Errorf("xdp: XDP_OPTIONS: %w", err)
	}
	s.zeroCopy = opts.flags&unix.XDP_OPTIONS_ZEROCOPY != 0
	return nil
}

// FD returns the socket's file descriptor, for an XSKMAP entry or a poller.
func (s *Socket) FD() int { return s.fd }

// ZeroCopy reports whether the bind ended in zero-copy mode (false: copy).
func (s *Socket) ZeroCopy() bool { return s.zeroCopy }

// Ifindex returns the interface index the socket is bound to.
func (s *Socket) Ifindex() int { return s.ifindex }

// Queue returns the receive queue the socket is bound to.
func (s *Socket) Queue() int { return s.queue }

// FrameSize returns the UMEM frame size in bytes.
func (s *Socket) FrameSize() int { return int(s.frameSize) }

// Close unbinds the socket and unmaps its rings and UMEM. Every Desc and
// Frame slice handed out before becomes invalid. Close is idempotent.
func (s *Socket) Close() error {
	if s.fd < 0 {
		return nil
	}
	err := unix.Close(s.fd)
	s.fd = -1
	if s.wakeFD >= 0 {
		_ = unix.Close(s.wakeFD)
		s.wakeFD = -1
	}
	s.fill.unmap()
	s.comp.unmap()
	s.rx.unmap()
	s.tx.unmap()
	if s.umem != nil {
		_ = unix.Munmap(s.umem)
		s.umem = nil
	}
	return err
}
