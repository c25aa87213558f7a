package linuxio

import (
	"fmt"
	"os"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/dataplane/offload"
	"golang.org/x/sys/unix"
)

// buildClosures makes the RawConn callbacks once, so ReadBatch and
// WriteBatch allocate nothing per call.
func (t *TUN) buildClosures() {
	t.readFn = func(fd uintptr) bool {
		for t.rxN < len(t.rxPkts) {
			p := t.rxPkts[t.rxN]
			n, err := unix.Read(int(fd), p.Buf[p.Start-t.hdrLen:])
			switch {
			case err == unix.EINTR:
				continue
			case err == unix.EAGAIN:
				// The batch is what was ready; with nothing yet, park.
				return t.rxN > 0
			case err != nil:
				t.rxErrno, _ = err.(unix.Errno)
				if t.rxErrno == 0 {
					t.rxErrno = unix.EIO
				}
				return true
			case n < t.hdrLen:
				continue // cannot happen with a vnet header; skip, keep the buffer
			}
			if t.hdrLen > 0 {
				if p.GSO.Decode(p.Buf[p.Start-t.hdrLen:]) != nil {
					continue
				}
			}
			p.SetLen(n - t.hdrLen)
			t.rxN++
		}
		return true
	}
	t.tryFn = func(fd uintptr) bool {
		t.readFn(fd)
		return true
	}
	t.writeFn = func(fd uintptr) bool {
		return writeEach(fd, t.txPkts, t.hdrLen, &t.txN, &t.txErrno)
	}
}

// writeEach writes pkts[*n:] to fd one write each, every packet with the
// hdrLen bytes of virtio-net header in front of its Start, advancing *n.
// It is a RawConn callback: false means wait until writable (EAGAIN);
// true means done, or stopped at pkts[*n] with *errno set.
func writeEach(fd uintptr, pkts []*dataplane.Packet, hdrLen int, n *int, errno *unix.Errno) bool {
	for *n < len(pkts) {
		p := pkts[*n]
		_, err := unix.Write(int(fd), p.Buf[p.Start-hdrLen:p.End])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return false
		case err != nil:
			*errno, _ = err.(unix.Errno)
			if *errno == 0 {
				*errno = unix.EIO
			}
			return true
		}
		*n++
	}
	return true
}

// ReadBatch implements dataplane.Port. A TUN read returns one packet, so a
// batch is the first packet (waited for) plus every packet already queued,
// up to BatchSize. Each packet lands at its Start; with offloads its
// virtio_net_hdr is read into the headroom just before and decoded into
// GSO. Addr and Segments are not set.
func (t *TUN) ReadBatch(pkts []*dataplane.Packet) (int, error) { return t.read(pkts, t.readFn) }

// TryReadBatch is ReadBatch without waiting: 0 and no error when nothing
// is queued (dataplane.TryReader).
func (t *TUN) TryReadBatch(pkts []*dataplane.Packet) (int, error) { return t.read(pkts, t.tryFn) }

// FD returns the device's descriptor for an epoll set (dataplane poll
// mode); valid until Close.
func (t *TUN) FD() int {
	fd := -1
	_ = t.rc.Control(func(f uintptr) { fd = int(f) })
	return fd
}

func (t *TUN) read(pkts []*dataplane.Packet, fn func(fd uintptr) bool) (int, error) {
	want := min(len(pkts), t.batch)
	if want == 0 {
		return 0, nil
	}
	for i, p := range pkts[:want] {
		if p.Start < t.hdrLen {
			return 0, fmt.Errorf("tun %s: packet %d: %w", t.name, i, ErrNoHeadroom)
		}
		if room := len(p.Buf) - p.Start; room < t.minRoom {
			return 0, fmt.Errorf("tun %s: packet %d has %d bytes after Start, needs %d: %w",
				t.name, i, room, t.minRoom, ErrShortBuffer)
		}
		if t.hdrLen == 0 {
			p.GSO = offload.VirtioNetHdr{}
		}
	}
	t.rxPkts, t.rxN, t.rxErrno = pkts[:want], 0, 0
	err := t.rc.Read(fn)
	t.rxPkts = nil
	if err != nil {
		return 0, t.ioError("tun read", err)
	}
	if t.rxN == 0 && t.rxErrno != 0 {
		return 0, os.NewSyscallError("read", t.rxErrno)
	}
	return t.rxN, nil // an error after some packets repeats on the next call
}

// WriteBatch implements dataplane.Port with one write per packet. With
// offloads, GSO is encoded into the offload.VirtioNetHdrLen bytes in front
// of Start (Start itself does not move); the zero GSO sends an ordinary
// packet. On error pkts[n] is the packet that failed.
func (t *TUN) WriteBatch(pkts []*dataplane.Packet) (int, error) {
	if t.hdrLen > 0 {
		for i, p := range pkts {
			if p.Start < t.hdrLen {
				return 0, fmt.Errorf("tun %s: packet %d: %w", t.name, i, ErrNoHeadroom)
			}
			_ = p.GSO.Encode(p.Buf[p.Start-t.hdrLen : p.Start])
		}
	}
	t.txPkts, t.txN, t.txErrno = pkts, 0, 0
	err := t.rc.Write(t.writeFn)
	t.txPkts = nil
	if err != nil {
		return t.txN, t.ioError("tun write", err)
	}
	if t.txErrno != 0 {
		return t.txN, os.NewSyscallError("write", t.txErrno)
	}
	return t.txN, nil
}

// ioError wraps a RawConn error. os.File's RawConn reports a closed file
// with the poller's internal "use of closed file" error rather than
// os.ErrClosed, so Close's own flag decides.
func (t *TUN) ioError(op string, err error) error {
	if t.closed.Load() {
		return &closedError{op: op, err: os.ErrClosed}
	}
	return portError(op, err)
}
