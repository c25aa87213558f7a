package linuxio

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"github.com/podfwd/podfwd/dataplane"
	"golang.org/x/sys/unix"
)

// RawIPPort is a raw IPv4 socket for one IP protocol (IPIP), batched with
// recvmmsg/sendmmsg like UDPPort. ReadBatch returns each whole outer IPv4
// packet at the packet's Start (the dataplane decapsulates) with the outer
// source in Addr (port 0). WriteBatch sends p.Bytes() as the payload of a
// kernel-built outer IPv4 header (no IP_HDRINCL) to Addr; a packet with
// Segments > 1 becomes one outer packet per SegmentSize slice.
type RawIPPort struct {
	*batchPort
	conn  *net.IPConn // nil when raw
	raw   *rawConn
	batch int
}

var _ dataplane.Port = (*RawIPPort)(nil)

// ListenIPIP opens a raw IPv4 socket for protocol proto (ProtoIPIP or
// ProtoIPv6in4) bound to the local IPv4 address (unspecified: any). IPv6
// outer headers are not supported: an IPv6 raw socket never shows them.
func ListenIPIP(local netip.Addr, proto int) (*RawIPPort, error) {
	return openIPIP(local, proto, false)
}

// ListenIPIPRaw is ListenIPIP with the socket outside Go's netpoller (see
// rawConn), for the dataplane's polling thread.
func ListenIPIPRaw(local netip.Addr, proto int) (*RawIPPort, error) {
	return openIPIP(local, proto, true)
}

func openIPIP(local netip.Addr, proto int, raw bool) (*RawIPPort, error) {
	local = local.Unmap()
	if !local.Is4() {
		return nil, fmt.Errorf("linuxio: listen ip4:%d %v: outer IPv6 unsupported: %w", proto, local, ErrNoAddr)
	}
	if proto <= 0 || proto > 255 {
		return nil, fmt.Errorf("linuxio: listen ip4:%d: protocol out of range: %w", proto, unix.EINVAL)
	}
	network := fmt.Sprintf("ip4:%d", proto)
	var (
		conn *net.IPConn
		rawc *rawConn
		rc   syscall.RawConn
	)
	if raw {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
		if err == nil {
			if err = unix.Bind(fd, &unix.SockaddrInet4{Addr: local.As4()}); err != nil {
				unix.Close(fd)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("linuxio: listen %s %v: %w", network, local, err)
		}
		rawc = &rawConn{fd: fd}
		rc = rawc
	} else {
		var lc net.ListenConfig
		pc, err := lc.ListenPacket(context.Background(), network, local.String())
		if err != nil {
			return nil, fmt.Errorf("linuxio: listen %s %v: %w", network, local, err)
		}
		conn = pc.(*net.IPConn)
		if rc, err = conn.SyscallConn(); err != nil {
			conn.Close()
			return nil, fmt.Errorf("linuxio: listen %s %v: %w", network, local, err)
		}
	}
	setSocketBuffers(rc, DefaultSocketBuffer)
	c := newMmsgConn(rc, DefaultBatchSize, 0, 0)
	name := fmt.Sprintf("ip4:%d:%v", proto, local)
	return &RawIPPort{batchPort: newBatchPort(name, unix.AF_INET, c, DefaultBatchSize, nil), conn: conn, raw: rawc, batch: DefaultBatchSize}, nil
}

// Name implements dataplane.Port: "ip4:<proto>:<local address>".
func (r *RawIPPort) Name() string { return r.name }

// BatchSize implements dataplane.Port.
func (r *RawIPPort) BatchSize() int { return r.batch }

// ReadBatch implements dataplane.Port with one recvmmsg. It may reorder
// the pointers in pkts when it drops a truncated packet.
func (r *RawIPPort) ReadBatch(pkts []*dataplane.Packet) (int, error) { return r.readBatch(pkts) }

// TryReadBatch is ReadBatch without waiting (dataplane.TryReader).
func (r *RawIPPort) TryReadBatch(pkts []*dataplane.Packet) (int, error) { return r.tryReadBatch(pkts) }

// FD returns the socket's descriptor for an epoll set; valid until Close.
func (r *RawIPPort) FD() int { return r.c.fd() }

// WriteBatch implements dataplane.Port; on error it returns n < len(pkts)
// and pkts[n] is the packet that failed.
func (r *RawIPPort) WriteBatch(pkts []*dataplane.Packet) (int, error) { return r.writeBatch(pkts) }

// Close closes the socket; a blocked ReadBatch returns an error matching
// both dataplane.ErrPortClosed and net.ErrClosed.
func (r *RawIPPort) Close() error {
	if r.raw != nil {
		return r.raw.Close()
	}
	return r.conn.Close()
}
