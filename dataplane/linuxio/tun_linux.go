package linuxio

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/dataplane/offload"
	"golang.org/x/sys/unix"
)

// TUN is a Linux TUN device (IFF_TUN|IFF_NO_PI) implementing
// dataplane.Port. Its fd is non-blocking and parked on Go's netpoller, so a
// blocked ReadBatch holds a goroutine, not a thread, and Close wakes it.
//
// The device is not persistent: it disappears when Close closes the fd.
// With offloads, each packet needs offload.VirtioNetHdrLen bytes of
// headroom in front of Start, where ReadBatch receives the header (decoded
// into GSO) and WriteBatch encodes it from GSO, and MaxTUNPacketSize bytes
// after Start for a super-packet (ReadBatch fails with ErrShortBuffer
// otherwise). Without offloads the room after Start must hold the MTU; a
// longer packet is cut short by the kernel.
type TUN struct {
	name     string
	file     *os.File
	raw      *rawConn // instead of file with TUNOptions.Raw
	rc       syscall.RawConn
	offloads TUNOffloads
	hdrLen   int
	minRoom  int // bytes ReadBatch needs after Start
	batch    int
	closed   atomic.Bool

	readFn  func(fd uintptr) bool
	tryFn   func(fd uintptr) bool // readFn that never parks: for TryReadBatch
	rxPkts  []*dataplane.Packet
	rxN     int
	rxErrno unix.Errno

	writeFn func(fd uintptr) bool
	txPkts  []*dataplane.Packet
	txN     int
	txErrno unix.Errno
}

var _ dataplane.Port = (*TUN)(nil)

// OpenTUN creates the TUN device name ("" or a pattern like "tun%d" lets
// the kernel choose) in the calling thread's network namespace.
func OpenTUN(name string, opts TUNOptions) (*TUN, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("linuxio: open /dev/net/tun: %w", err)
	}
	t, err := setupTUN(fd, name, opts)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	if opts.Raw {
		t.raw = &rawConn{fd: fd}
		t.rc = t.raw
		t.buildClosures()
		return t, nil
	}
	// os.NewFile sees the fd is non-blocking and registers it with the
	// netpoller; from here on the file owns the fd.
	t.file = os.NewFile(uintptr(fd), "/dev/net/tun")
	if t.rc, err = t.file.SyscallConn(); err != nil {
		t.file.Close()
		return nil, fmt.Errorf("linuxio: tun %s: %w", t.name, err)
	}
	t.buildClosures()
	return t, nil
}

func setupTUN(fd int, name string, opts TUNOptions) (*TUN, error) {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return nil, fmt.Errorf("linuxio: tun name %q: %w", name, err)
	}
	flags := uint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if opts.Offloads {
		flags |= unix.IFF_VNET_HDR
	}
	ifr.SetUint16(flags)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		return nil, fmt.Errorf("linuxio: TUNSETIFF %q: %w", name, err)
	}
	t := &TUN{name: ifr.Name(), batch: opts.BatchSize, minRoom: 1}
	if t.batch <= 0 {
		t.batch = DefaultBatchSize
	}
	if !opts.Offloads {
		return t, nil
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TUNSETVNETHDRSZ, offload.VirtioNetHdrLen); err != nil {
		return nil, fmt.Errorf("linuxio: TUNSETVNETHDRSZ on %s: %w", t.name, err)
	}
	t.hdrLen = offload.VirtioNetHdrLen
	t.minRoom = MaxTUNPacketSize
	t.offloads.VnetHdr = true
	base := unix.TUN_F_CSUM | unix.TUN_F_TSO4 | unix.TUN_F_TSO6
	if !opts.DisableUSO {
		// Kernels before 6.2 reject unknown offload bits with EINVAL.
		err := unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, base|unix.TUN_F_USO4|unix.TUN_F_USO6)
		if err == nil {
			t.offloads = TUNOffloads{VnetHdr: true, Csum: true, TSO4: true, TSO6: true, USO4: true, USO6: true}
			return t, nil
		}
		if !errors.Is(err, unix.EINVAL) {
			return nil, fmt.Errorf("linuxio: TUNSETOFFLOAD on %s: %w", t.name, err)
		}
	}
	if err := unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, base); err != nil {
		return nil, fmt.Errorf("linuxio: TUNSETOFFLOAD on %s: %w", t.name, err)
	}
	t.offloads = TUNOffloads{VnetHdr: true, Csum: true, TSO4: true, TSO6: true}
	return t, nil
}

// Name implements dataplane.Port: the interface name.
func (t *TUN) Name() string { return t.name }

// BatchSize implements dataplane.Port.
func (t *TUN) BatchSize() int { return t.batch }

// Offloads reports the offloads in effect, for the daemon's startup log.
func (t *TUN) Offloads() TUNOffloads { return t.offloads }

// Close closes the fd, which removes the device; a blocked ReadBatch
// returns an error matching both dataplane.ErrPortClosed and os.ErrClosed.
func (t *TUN) Close() error {
	t.closed.Store(true)
	if t.raw != nil {
		return t.raw.Close()
	}
	return t.file.Close()
}
