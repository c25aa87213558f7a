package linuxio

import (
	"encoding/binary"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Offsets inside struct sockaddr_in / sockaddr_in6 (see <netinet/in.h>).
// The family is in host order; port and addresses in network order.
const (
	saFamily   = 0
	saPort     = 2
	sa4Addr    = 4
	sa6Addr    = 8
	sa4MinSize = sa4Addr + 4
	sa6MinSize = sa6Addr + 16
)

// sockaddrBytes views a sockaddr slot as the bytes the kernel fills.
func sockaddrBytes(sa *unix.RawSockaddrInet6) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(sa)), unix.SizeofSockaddrInet6)
}

// putSockaddr encodes ap into sa for a socket of the given family and
// returns the length to pass to the kernel. An IPv4 address on an AF_INET6
// (dual-stack) socket is written v4-mapped. It reports false for an invalid
// address or an IPv6 address on an AF_INET socket. Zones are not carried.
func putSockaddr(sa *unix.RawSockaddrInet6, family int, ap netip.AddrPort) (uint32, bool) {
	if !ap.IsValid() {
		return 0, false
	}
	b := sockaddrBytes(sa)
	clear(b)
	binary.BigEndian.PutUint16(b[saPort:], ap.Port())
	addr := ap.Addr()
	switch family {
	case unix.AF_INET:
		addr = addr.Unmap()
		if !addr.Is4() {
			return 0, false
		}
		binary.NativeEndian.PutUint16(b[saFamily:], unix.AF_INET)
		a4 := addr.As4()
		copy(b[sa4Addr:], a4[:])
		return unix.SizeofSockaddrInet4, true
	case unix.AF_INET6:
		binary.NativeEndian.PutUint16(b[saFamily:], unix.AF_INET6)
		a16 := addr.As16() // IPv4 comes out v4-mapped
		copy(b[sa6Addr:], a16[:])
		return unix.SizeofSockaddrInet6, true
	}
	return 0, false
}

// parseSockaddr decodes a sockaddr_in or sockaddr_in6 the kernel returned.
// V4-mapped IPv6 addresses (dual-stack sockets) come back as IPv4; the IPv6
// scope id is dropped (a zone would allocate). It reports false for
// anything else, including a truncated buffer.
func parseSockaddr(b []byte) (netip.AddrPort, bool) {
	if len(b) < saPort+2 {
		return netip.AddrPort{}, false
	}
	port := binary.BigEndian.Uint16(b[saPort:])
	switch binary.NativeEndian.Uint16(b[saFamily:]) {
	case unix.AF_INET:
		if len(b) < sa4MinSize {
			return netip.AddrPort{}, false
		}
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[sa4Addr:sa4MinSize])), port), true
	case unix.AF_INET6:
		if len(b) < sa6MinSize {
			return netip.AddrPort{}, false
		}
		a := netip.AddrFrom16([16]byte(b[sa6Addr:sa6MinSize])).Unmap()
		return netip.AddrPortFrom(a, port), true
	}
	return netip.AddrPort{}, false
}
