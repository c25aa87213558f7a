package xdp

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// setup registers the UMEM, sizes and maps the four rings, splits the
// frames between the receiving and the transmitting side and fills the
// fill ring, all before the bind.
func (s *Socket) setup(cfg SocketConfig) error {
	umem, err := unix.Mmap(-1, 0, cfg.NumFrames*cfg.FrameSize, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("xdp: mmap UMEM: %w", err)
	}
	s.umem = umem
	reg := unix.XDPUmemReg{
		Addr:     uint64(uintptr(unsafe.Pointer(&umem[0]))),
		Len:      uint64(len(umem)),
		Size:     uint32(cfg.FrameSize),
		Headroom: uint32(cfg.Headroom),
	}
	if err := setsockoptRaw(s.fd, unix.SOL_XDP, unix.XDP_UMEM_REG, unsafe.Pointer(&reg), unsafe.Sizeof(reg)); err != nil {
		return fmt.Errorf("xdp: XDP_UMEM_REG: %w", err)
	}
	for _, o := range []struct{ opt, size int }{
		{unix.XDP_UMEM_FILL_RING, cfg.FillSize},
		{unix.XDP_UMEM_COMPLETION_RING, cfg.CompletionSize},
		{unix.XDP_RX_RING, cfg.RxSize},
		{unix.XDP_TX_RING, cfg.TxSize},
	} {
		if err := setsockoptInt(s.fd, o.opt, o.size); err != nil {
			return fmt.Errorf("xdp: ring size option %d = %d: %w", o.opt, o.size, err)
		}
	}
	// In copy mode one TX wake-up sends at most a budget of packets (32
	// by default) and asks for another with EAGAIN; a budget the size of
	// the TX ring sends a whole batch per system call. Kernels before 6.17
	// lack the option, and only cost the extra wake-ups; budgets below 32
	// are refused.
	if cfg.TxSize >= 32 {
		_ = setsockoptInt(s.fd, unix.XDP_MAX_TX_SKB_BUDGET, cfg.TxSize)
	}
	var off unix.XDPMmapOffsets
	if err := getsockoptRaw(s.fd, unix.SOL_XDP, unix.XDP_MMAP_OFFSETS, unsafe.Pointer(&off), unsafe.Sizeof(off)); err != nil {
		return fmt.Errorf("xdp: XDP_MMAP_OFFSETS: %w", err)
	}
	if s.fill, err = mapAddrRing(s.fd, unix.XDP_UMEM_PGOFF_FILL_RING, off.Fr, uint32(cfg.FillSize)); err != nil {
		return err
	}
	if s.comp, err = mapAddrRing(s.fd, unix.XDP_UMEM_PGOFF_COMPLETION_RING, off.Cr, uint32(cfg.CompletionSize)); err != nil {
		return err
	}
	if s.rx, err = mapDescRing(s.fd, unix.XDP_PGOFF_RX_RING, off.Rx, uint32(cfg.RxSize)); err != nil {
		return err
	}
	if s.tx, err = mapDescRing(s.fd, unix.XDP_PGOFF_TX_RING, off.Tx, uint32(cfg.TxSize)); err != nil {
		return err
	}
	// The first FillSize frames go to the fill ring, the rest to the
	// transmitting side.
	s.rxFree = make([]uint64, 0, cfg.NumFrames)
	s.txFree = make([]uint64, 0, cfg.NumFrames)
	s.surplus = make([]uint64, 0, cfg.CompletionSize)
	s.recycle = newRecycleRing(cfg.NumFrames)
	s.txKeep = cfg.NumFrames - cfg.FillSize
	for i := cfg.NumFrames - 1; i >= 0; i-- {
		if i < cfg.FillSize {
			s.rxFree = append(s.rxFree, uint64(i)*s.frameSize)
		} else {
			s.txFree = append(s.txFree, uint64(i)*s.frameSize)
		}
	}
	// The kernel drops whatever arrives while the fill ring is empty, so
	// it is filled before the bind makes the socket live.
	s.Refill()
	if s.wakeFD, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		return fmt.Errorf("xdp: eventfd: %w", err)
	}
	s.pollfd[0] = unix.PollFd{Fd: int32(s.fd), Events: unix.POLLIN}
	s.pollfd[1] = unix.PollFd{Fd: int32(s.wakeFD), Events: unix.POLLIN}
	return nil
}
