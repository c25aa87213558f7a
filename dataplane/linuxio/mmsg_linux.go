package linuxio

import (
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// msgBatch is a preallocated array of kernel message headers for
// recvmmsg/sendmmsg, each with one iovec, one sockaddr slot and an optional
// control buffer. Filling it per call touches memory but allocates nothing.
type msgBatch struct {
	hdrs      []unix.Mmsghdr
	iovs      []unix.Iovec
	names     []unix.RawSockaddrInet6
	ctrl      []byte
	ctrlSpace int
}

func newMsgBatch(n, ctrlSpace int) msgBatch {
	// Control buffers must be aligned for struct cmsghdr: back them with
	// uint64s; every ctrlSpace from unix.CmsgSpace is a multiple of 8.
	words := make([]uint64, (n*ctrlSpace+7)/8+1)
	ctrl := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), n*ctrlSpace)
	return msgBatch{
		hdrs:      make([]unix.Mmsghdr, n),
		iovs:      make([]unix.Iovec, n),
		names:     make([]unix.RawSockaddrInet6, n),
		ctrl:      ctrl,
		ctrlSpace: ctrlSpace,
	}
}

// control returns message i's control buffer (empty when there is none).
func (b *msgBatch) control(i int) []byte {
	return b.ctrl[i*b.ctrlSpace : (i+1)*b.ctrlSpace]
}

func (b *msgBatch) setIov(i int, buf []byte) { setIov(&b.iovs[i], buf) }

func setIov(iov *unix.Iovec, buf []byte) {
	iov.Base = nil
	if len(buf) > 0 {
		iov.Base = &buf[0]
	}
	iov.SetLen(len(buf))
}

// prepRecv points message i at buf and resets the lengths the kernel
// overwrites on every call.
func (b *msgBatch) prepRecv(i int, buf []byte) {
	b.setIov(i, buf)
	h := &b.hdrs[i].Hdr
	h.Name = (*byte)(unsafe.Pointer(&b.names[i]))
	h.Namelen = unix.SizeofSockaddrInet6
	h.Iov = &b.iovs[i]
	h.SetIovlen(1)
	h.Control = nil
	h.SetControllen(0)
	if b.ctrlSpace > 0 {
		h.Control = &b.ctrl[i*b.ctrlSpace]
		h.SetControllen(b.ctrlSpace)
	}
	h.Flags = 0
	b.hdrs[i].Len = 0
}

// prepSend points message i at buf, with the destination already encoded
// in names[i] (nameLen bytes) and ctrlLen bytes of control(i) in use.
func (b *msgBatch) prepSend(i int, buf []byte, nameLen uint32, ctrlLen int) {
	b.setIov(i, buf)
	h := &b.hdrs[i].Hdr
	h.Name = (*byte)(unsafe.Pointer(&b.names[i]))
	h.Namelen = nameLen
	h.Iov = &b.iovs[i]
	h.SetIovlen(1)
	h.Control = nil
	h.SetControllen(0)
	if ctrlLen > 0 {
		h.Control = &b.ctrl[i*b.ctrlSpace]
		h.SetControllen(ctrlLen)
	}
	h.Flags = 0
}

// prepSendIovs is prepSend for a message gathered from several buffers:
// iovs, which the caller fills and keeps alive until the send returns.
func (b *msgBatch) prepSendIovs(i int, iovs []unix.Iovec, nameLen uint32, ctrlLen int) {
	b.prepSend(i, nil, nameLen, ctrlLen)
	h := &b.hdrs[i].Hdr
	h.Iov = &iovs[0]
	h.SetIovlen(len(iovs))
}

// name returns the source address bytes the kernel wrote for message i.
func (b *msgBatch) name(i int) []byte {
	return sockaddrBytes(&b.names[i])[:min(int(b.hdrs[i].Hdr.Namelen), unix.SizeofSockaddrInet6)]
}

// receivedControl returns the control bytes the kernel wrote for message i.
func (b *msgBatch) receivedControl(i int) []byte {
	return b.control(i)[:min(int(b.hdrs[i].Hdr.Controllen), b.ctrlSpace)]
}

// sendmmsgFunc is the shape of the sendmmsg system call; tests replace it
// to inject kernel errors.
type sendmmsgFunc func(fd uintptr, hdrs []unix.Mmsghdr) (int, unix.Errno)

func sendmmsg(fd uintptr, hdrs []unix.Mmsghdr) (int, unix.Errno) {
	n, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&hdrs[0])), uintptr(len(hdrs)), 0, 0, 0)
	return int(n), e
}

func recvmmsg(fd uintptr, hdrs []unix.Mmsghdr) (int, unix.Errno) {
	n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&hdrs[0])), uintptr(len(hdrs)), 0, 0, 0)
	return int(n), e
}

// mmsgConn drives recvmmsg/sendmmsg on a non-blocking socket through the
// netpoller. The closures handed to RawConn are built once, so a call
// allocates nothing; one reader and one writer may run at the same time
// because each side has its own batch and state.
type mmsgConn struct {
	rc     syscall.RawConn
	rx, tx msgBatch

	recvFn  func(fd uintptr) bool
	tryFn   func(fd uintptr) bool // recvFn that never parks: for tryRecv
	rxWant  int
	rxGot   int
	rxErrno unix.Errno

	sendFn   func(fd uintptr) bool
	sendmmsg sendmmsgFunc
	txNext   int
	txEnd    int
	txErrno  unix.Errno
}

func newMmsgConn(rc syscall.RawConn, batch, rxCtrl, txCtrl int) *mmsgConn {
	c := &mmsgConn{
		rc:       rc,
		rx:       newMsgBatch(batch, rxCtrl),
		tx:       newMsgBatch(batch, txCtrl),
		sendmmsg: sendmmsg,
	}
	c.recvFn = func(fd uintptr) bool {
		for {
			n, e := recvmmsg(fd, c.rx.hdrs[:c.rxWant])
			switch e {
			case 0:
				c.rxGot = n
				return true
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				return false // nothing yet: park on the poller
			}
			c.rxErrno = e
			return true
		}
	}
	c.tryFn = func(fd uintptr) bool {
		c.recvFn(fd)
		return true
	}
	c.sendFn = func(fd uintptr) bool {
		for c.txNext < c.txEnd {
			n, e := c.sendmmsg(fd, c.tx.hdrs[c.txNext:c.txEnd])
			switch e {
			case 0:
				c.txNext += n
				continue
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				return false // socket buffer full: wait until writable
			}
			c.txErrno = e
			return true
		}
		return true
	}
	return c
}

// recv runs recvmmsg over rx.hdrs[:want], blocking the goroutine until at
// least one message arrives, and returns how many did.
func (c *mmsgConn) recv(want int) (int, error) {
	c.rxWant, c.rxGot, c.rxErrno = want, 0, 0
	if err := c.rc.Read(c.recvFn); err != nil {
		return 0, portError("recvmmsg", err)
	}
	if c.rxErrno != 0 {
		return 0, os.NewSyscallError("recvmmsg", c.rxErrno)
	}
	return c.rxGot, nil
}

// tryRecv is recv without waiting: 0 and no error when nothing is queued.
func (c *mmsgConn) tryRecv(want int) (int, error) {
	c.rxWant, c.rxGot, c.rxErrno = want, 0, 0
	if err := c.rc.Read(c.tryFn); err != nil {
		return 0, portError("recvmmsg", err)
	}
	if c.rxErrno != 0 {
		return 0, os.NewSyscallError("recvmmsg", c.rxErrno)
	}
	return c.rxGot, nil
}

// fd returns the socket's file descriptor, for an epoll set; it stays
// valid until the port is closed.
func (c *mmsgConn) fd() int {
	fd := -1
	_ = c.rc.Control(func(f uintptr) { fd = int(f) })
	return fd
}

// send runs sendmmsg over tx.hdrs[:n] until all are sent or one fails, and
// returns how many were sent; on error, message [sent] is the one that
// failed.
func (c *mmsgConn) send(n int) (int, error) {
	c.txNext, c.txEnd, c.txErrno = 0, n, 0
	if err := c.rc.Write(c.sendFn); err != nil {
		return c.txNext, portError("sendmmsg", err)
	}
	if c.txErrno != 0 {
		return c.txNext, os.NewSyscallError("sendmmsg", c.txErrno)
	}
	return c.txNext, nil
}
