package linuxio

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// DefaultSocketBuffer is the receive and send buffer the tunnel sockets ask
// for: a burst of GSO trains or a stalled reader must not overflow the
// kernel's default (about 200 KiB), or TCP inside the tunnel sees loss.
const DefaultSocketBuffer = 8 << 20

// setSocketBuffers sets SO_RCVBUF and SO_SNDBUF to n bytes. As root it uses
// the FORCE variants, which are not capped by net.core.[rw]mem_max; without
// the privilege it falls back to the capped ones. Best effort: a smaller
// buffer only costs performance.
func setSocketBuffers(rc syscall.RawConn, n int) {
	_ = rc.Control(func(fd uintptr) {
		for _, opt := range [][2]int{{unix.SO_RCVBUFFORCE, unix.SO_RCVBUF}, {unix.SO_SNDBUFFORCE, unix.SO_SNDBUF}} {
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, opt[0], n) != nil {
				_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, opt[1], n)
			}
		}
	})
}
