package linuxio

import (
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// rawConn is a syscall.RawConn over a non-blocking descriptor that Go's
// netpoller never sees. Registered with the netpoller, every packet that
// arrives on or leaves a descriptor wakes the runtime's epoll (it is
// edge-triggered on both directions) even when no goroutine waits: with a
// polling thread that never parks on the netpoller that is pure cost, a
// wasted wake-up of another core per packet. rawConn waits, when it must,
// in poll(2) on the calling thread instead.
//
// Close does not interrupt a wait in progress; a waiter notices within
// closeCheck. The dataplane's polling thread never waits here for reads.
type rawConn struct {
	fd     int
	closed atomic.Bool
}

// closeCheck is how long a blocked Read or Write waits before it looks
// whether the descriptor was closed.
const closeCheck = 100 // milliseconds

func (c *rawConn) Control(f func(fd uintptr)) error {
	if c.closed.Load() {
		return os.ErrClosed
	}
	f(uintptr(c.fd))
	return nil
}

func (c *rawConn) Read(f func(fd uintptr) bool) error  { return c.wait(f, unix.POLLIN) }
func (c *rawConn) Write(f func(fd uintptr) bool) error { return c.wait(f, unix.POLLOUT) }

func (c *rawConn) wait(f func(fd uintptr) bool, events int16) error {
	for {
		if c.closed.Load() {
			return os.ErrClosed
		}
		if f(uintptr(c.fd)) {
			return nil
		}
		pfd := [1]unix.PollFd{{Fd: int32(c.fd), Events: events}}
		if _, err := unix.Poll(pfd[:], closeCheck); err != nil && err != unix.EINTR {
			return os.NewSyscallError("poll", err)
		}
	}
}

// Close closes the descriptor once.
func (c *rawConn) Close() error {
	if c.closed.Swap(true) {
		return os.ErrClosed
	}
	return unix.Close(c.fd)
}
