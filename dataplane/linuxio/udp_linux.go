package linuxio

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"

	"github.com/podfwd/podfwd/dataplane"
	"golang.org/x/sys/unix"
)

// UDPPort is a batched UDP socket implementing dataplane.Port: ReadBatch is
// one recvmmsg, WriteBatch as few sendmmsg calls as the batch needs, and
// neither allocates. Received packets carry their source in Addr, written
// ones are sent to Addr.
//
// The socket family follows laddr: an IPv4 address gives an IPv4 socket;
// an IPv6 address gives an IPv6-only socket, except the unspecified [::]
// which gives a dual-stack socket that sends to and reports IPv4 peers as
// plain IPv4 addresses. With GRO on, every packet handed to ReadBatch needs
// MaxGROSize bytes after its Start; otherwise ReadBatch fails with
// ErrShortBuffer. Datagrams larger than the room are dropped and counted
// (Truncated).
type UDPPort struct {
	*batchPort
	conn  *net.UDPConn // nil with UDPOptions.Raw
	raw   *rawConn
	laddr netip.AddrPort
	batch int
}

var _ dataplane.Port = (*UDPPort)(nil)

// ListenUDP opens a UDP port bound to laddr (port 0 picks one).
func ListenUDP(laddr netip.AddrPort, opts UDPOptions) (*UDPPort, error) {
	if !laddr.IsValid() {
		return nil, fmt.Errorf("linuxio: listen udp %v: %w", laddr, ErrNoAddr)
	}
	batch := opts.BatchSize
	if batch <= 0 {
		batch = DefaultBatchSize
	}
	network, family := "udp4", unix.AF_INET
	if laddr.Addr().Is6() && !laddr.Addr().Is4In6() {
		network, family = "udp6", unix.AF_INET6
		if laddr.Addr().IsUnspecified() {
			network = "udp" // Go leaves IPV6_V6ONLY off for the wildcard: dual-stack
		}
	} else {
		laddr = netip.AddrPortFrom(laddr.Addr().Unmap(), laddr.Port())
	}
	var (
		conn *net.UDPConn
		raw  *rawConn
		rc   syscall.RawConn
	)
	if opts.Raw {
		var err error
		if raw, err = rawUDPSocket(family, laddr); err != nil {
			return nil, fmt.Errorf("linuxio: listen udp %v: %w", laddr, err)
		}
		rc = raw
	} else {
		var lc net.ListenConfig
		pc, err := lc.ListenPacket(context.Background(), network, laddr.String())
		if err != nil {
			return nil, fmt.Errorf("linuxio: listen udp %v: %w", laddr, err)
		}
		conn = pc.(*net.UDPConn)
		if rc, err = conn.SyscallConn(); err != nil {
			conn.Close()
			return nil, fmt.Errorf("linuxio: listen udp %v: %w", laddr, err)
		}
	}
	if opts.SocketBuffer == 0 {
		opts.SocketBuffer = DefaultSocketBuffer
	}
	if opts.SocketBuffer > 0 {
		setSocketBuffers(rc, opts.SocketBuffer)
	}
	gso := !opts.DisableGSO && udpGSOSupported(rc)
	gro := !opts.DisableGRO && enableUDPGRO(rc) == nil
	rxCtrl := 0
	if gro {
		rxCtrl = groCmsgSpace
	}
	c := newMmsgConn(rc, batch, rxCtrl, segmentCmsgSpace)
	name := "udp:" + localAddr(conn, raw).String()
	u := &UDPPort{batchPort: newBatchPort(name, family, c, batch, opts.Logger), conn: conn, raw: raw, batch: batch}
	u.gro = gro
	u.gso.Store(gso)
	return u, nil
}

// udpGSOSupported asks the kernel whether it knows UDP_SEGMENT: reading
// the option fails with ENOPROTOOPT on kernels without UDP GSO.
func udpGSOSupported(rc syscall.RawConn) bool {
	var err error
	cerr := rc.Control(func(fd uintptr) {
		_, err = unix.GetsockoptInt(int(fd), unix.SOL_UDP, unix.UDP_SEGMENT)
	})
	return cerr == nil && err == nil
}

func enableUDPGRO(rc syscall.RawConn) error {
	var err error
	if cerr := rc.Control(func(fd uintptr) {
		err = unix.SetsockoptInt(int(fd), unix.SOL_UDP, unix.UDP_GRO, 1)
	}); cerr != nil {
		return cerr
	}
	return err
}

// Name implements dataplane.Port: "udp:" and the bound address.
func (u *UDPPort) Name() string { return u.name }

// BatchSize implements dataplane.Port: the most messages one call moves.
func (u *UDPPort) BatchSize() int { return u.batch }

// LocalAddr returns the address the socket is bound to.
func (u *UDPPort) LocalAddr() netip.AddrPort { return localAddr(u.conn, u.raw) }

// localAddr is the bound address of conn, or of raw when conn is nil.
func localAddr(conn *net.UDPConn, raw *rawConn) netip.AddrPort {
	if conn != nil {
		return conn.LocalAddr().(*net.UDPAddr).AddrPort()
	}
	var a netip.AddrPort
	_ = raw.Control(func(fd uintptr) {
		if sa, err := unix.Getsockname(int(fd)); err == nil {
			a = addrPortOf(sa)
		}
	})
	return a
}

// Offloads reports the UDP offloads in effect now.
func (u *UDPPort) Offloads() UDPOffloads {
	return UDPOffloads{GSO: u.gso.Load(), GRO: u.gro}
}

// ReadBatch implements dataplane.Port with one recvmmsg; see UDPPort for
// the buffer room it needs. It may reorder the pointers in pkts when it
// drops a truncated datagram.
func (u *UDPPort) ReadBatch(pkts []*dataplane.Packet) (int, error) { return u.readBatch(pkts) }

// TryReadBatch is ReadBatch without waiting: 0 and no error when nothing
// is queued (dataplane.TryReader).
func (u *UDPPort) TryReadBatch(pkts []*dataplane.Packet) (int, error) { return u.tryReadBatch(pkts) }

// FD returns the socket's descriptor for an epoll set (dataplane poll
// mode); valid until Close.
func (u *UDPPort) FD() int { return u.c.fd() }

// WriteBatch implements dataplane.Port. A packet with Segments > 1 holds
// datagrams of SegmentSize bytes back to back and is sent with UDP GSO
// when on (at most 64 segments of at most 65535 bytes each per train).
// On error it returns n < len(pkts) and pkts[n] is the packet that failed.
func (u *UDPPort) WriteBatch(pkts []*dataplane.Packet) (int, error) { return u.writeBatch(pkts) }

// Close closes the socket; a blocked ReadBatch returns an error matching
// both dataplane.ErrPortClosed and net.ErrClosed.
func (u *UDPPort) Close() error {
	if u.raw != nil {
		if err := u.raw.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			return err
		}
		return nil
	}
	if err := u.conn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}
