package linuxio

import (
	"net/netip"

	"golang.org/x/sys/unix"
)

// rawUDPSocket opens a non-blocking UDP socket bound to laddr outside Go's
// netpoller, with the family rules of ListenUDP: IPv6-only unless laddr is
// the IPv6 wildcard, which also takes IPv4.
func rawUDPSocket(family int, laddr netip.AddrPort) (*rawConn, error) {
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, err
	}
	var sa unix.Sockaddr
	if family == unix.AF_INET6 {
		v6only := 1
		if laddr.Addr().IsUnspecified() {
			v6only = 0
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v6only); err != nil {
			unix.Close(fd)
			return nil, err
		}
		sa = &unix.SockaddrInet6{Port: int(laddr.Port()), Addr: laddr.Addr().As16()}
	} else {
		sa = &unix.SockaddrInet4{Port: int(laddr.Port()), Addr: laddr.Addr().As4()}
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &rawConn{fd: fd}, nil
}

// addrPortOf converts a socket address from getsockname.
func addrPortOf(sa unix.Sockaddr) netip.AddrPort {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port))
	}
	return netip.AddrPort{}
}
