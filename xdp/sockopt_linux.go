package xdp

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// getsockoptRaw reads a socket option into the memory at p of size n. The
// x/sys/unix package has the AF_XDP structs but no getters for them.
func getsockoptRaw(fd, level, opt int, p unsafe.Pointer, n uintptr) error {
	size := uint32(n)
	_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt),
		uintptr(p), uintptr(unsafe.Pointer(&size)), 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// setsockoptRaw writes a socket option from the memory at p of size n.
func setsockoptRaw(fd, level, opt int, p unsafe.Pointer, n uintptr) error {
	_, _, errno := unix.Syscall6(unix.SYS_SETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt),
		uintptr(p), n, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// setsockoptInt sets an int-valued socket option (the ring sizes).
func setsockoptInt(fd, opt, v int) error {
	return unix.SetsockoptInt(fd, unix.SOL_XDP, opt, v)
}

// kick makes the kernel look at the rings of fd without blocking, using a
// raw syscall so that the call allocates nothing. op is SYS_SENDTO for the TX
// ring and SYS_RECVFROM for the fill ring.
func kick(fd int, op uintptr) unix.Errno {
	_, _, errno := unix.Syscall6(op, uintptr(fd), 0, 0, unix.MSG_DONTWAIT, 0, 0)
	return errno
}
