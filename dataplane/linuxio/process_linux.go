package linuxio

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/dataplane/offload"
	"github.com/songgao/water"
)

// ProcessTUN is the udp-process baseline's TUN side, as flannel's udp
// backend does it: opened with songgao/water, no virtio-net header, no
// offloads, one read() per ReadBatch and one write() per packet. Its
// BatchSize is 1. The fd is on the netpoller (water opens it non-blocking),
// so Close wakes a blocked reader.
type ProcessTUN struct {
	ifce *water.Interface
}

var _ dataplane.Port = (*ProcessTUN)(nil)

// OpenProcessTUN creates the TUN device name in the calling thread's
// network namespace, not persistent.
func OpenProcessTUN(name string) (*ProcessTUN, error) {
	cfg := water.Config{DeviceType: water.TUN}
	cfg.Name = name
	ifce, err := water.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("linuxio: open tun %q: %w", name, err)
	}
	return &ProcessTUN{ifce: ifce}, nil
}

// Name implements dataplane.Port: the interface name.
func (t *ProcessTUN) Name() string { return t.ifce.Name() }

// BatchSize implements dataplane.Port: always 1.
func (t *ProcessTUN) BatchSize() int { return 1 }

// ReadBatch implements dataplane.Port with exactly one read() into
// pkts[0] at its Start.
func (t *ProcessTUN) ReadBatch(pkts []*dataplane.Packet) (int, error) {
	if len(pkts) == 0 {
		return 0, nil
	}
	p := pkts[0]
	n, err := t.ifce.Read(p.Buf[p.Start:])
	if err != nil {
		return 0, portError("tun read", err)
	}
	p.SetLen(n)
	p.GSO = offload.VirtioNetHdr{}
	return 1, nil
}

// WriteBatch implements dataplane.Port with one write() per packet; on
// error pkts[n] is the packet that failed.
func (t *ProcessTUN) WriteBatch(pkts []*dataplane.Packet) (int, error) {
	for i, p := range pkts {
		if _, err := t.ifce.Write(p.Bytes()); err != nil {
			return i, portError("tun write", err)
		}
	}
	return len(pkts), nil
}

// Close closes the fd, which removes the device.
func (t *ProcessTUN) Close() error { return t.ifce.Close() }

// ProcessUDP is the udp-process baseline's underlay side: a plain UDP
// socket with one recvfrom() per ReadBatch and one sendto() per datagram,
// no GSO, no GRO, BatchSize 1. A packet with Segments > 1 is sent as one
// sendto() per SegmentSize slice. Families follow ListenUDP.
type ProcessUDP struct {
	conn *net.UDPConn
	name string
}

var _ dataplane.Port = (*ProcessUDP)(nil)

// ListenProcessUDP opens the baseline UDP socket bound to laddr.
func ListenProcessUDP(laddr netip.AddrPort) (*ProcessUDP, error) {
	if !laddr.IsValid() {
		return nil, fmt.Errorf("linuxio: listen udp %v: %w", laddr, ErrNoAddr)
	}
	network := "udp4"
	if laddr.Addr().Is6() && !laddr.Addr().Is4In6() {
		network = "udp6"
		if laddr.Addr().IsUnspecified() {
			network = "udp"
		}
	}
	conn, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(laddr))
	if err != nil {
		return nil, fmt.Errorf("linuxio: listen udp %v: %w", laddr, err)
	}
	return &ProcessUDP{conn: conn, name: "udp-process:" + conn.LocalAddr().String()}, nil
}

// Name implements dataplane.Port.
func (u *ProcessUDP) Name() string { return u.name }

// BatchSize implements dataplane.Port: always 1.
func (u *ProcessUDP) BatchSize() int { return 1 }

// LocalAddr returns the address the socket is bound to.
func (u *ProcessUDP) LocalAddr() netip.AddrPort {
	return u.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// ReadBatch implements dataplane.Port with exactly one recvfrom() into
// pkts[0] at its Start; a datagram longer than the room is cut short.
func (u *ProcessUDP) ReadBatch(pkts []*dataplane.Packet) (int, error) {
	if len(pkts) == 0 {
		return 0, nil
	}
	p := pkts[0]
	n, from, err := u.conn.ReadFromUDPAddrPort(p.Buf[p.Start:])
	if err != nil {
		return 0, portError("recvfrom", err)
	}
	p.SetLen(n)
	p.Addr = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	p.Segments, p.SegmentSize = 1, n
	p.GSO = offload.VirtioNetHdr{}
	return 1, nil
}

// WriteBatch implements dataplane.Port with one sendto() per datagram; on
// error pkts[n] is the packet that failed.
func (u *ProcessUDP) WriteBatch(pkts []*dataplane.Packet) (int, error) {
	for i, p := range pkts {
		if !p.Addr.IsValid() {
			return i, fmt.Errorf("%s: packet %d: %w", u.name, i, ErrNoAddr)
		}
		data := p.Bytes()
		step := len(data)
		if p.Segments > 1 {
			if p.SegmentSize <= 0 {
				return i, fmt.Errorf("%s: packet %d: %w", u.name, i, ErrBadSegments)
			}
			step = p.SegmentSize
		}
		for off := 0; ; off += step {
			end := min(off+step, len(data))
			if _, err := u.conn.WriteToUDPAddrPort(data[off:end], p.Addr); err != nil {
				return i, portError("sendto", err)
			}
			if end >= len(data) {
				break
			}
		}
	}
	return len(pkts), nil
}

// Close closes the socket; a blocked ReadBatch returns an error matching
// both dataplane.ErrPortClosed and net.ErrClosed.
func (u *ProcessUDP) Close() error { return u.conn.Close() }
