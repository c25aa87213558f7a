package xdpport

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/podfwd/podfwd/encap"
	"github.com/podfwd/podfwd/internal/testenv"
	"github.com/podfwd/podfwd/xdp"
)

// link is two namespaces joined by a veth pair (testenv.VethPair): "A"
// is the peer that sends and receives with ordinary sockets, "B" the node
// that runs the Port. Removed in t.Cleanup.
type link struct{ *testenv.VethPair }

func newLink(t testing.TB) *link {
	t.Helper()
	return &link{testenv.NewVethPair(t, "p", [2]byte{198, 19})}
}

// openPort opens a Port on the node side that takes UDP to port on the
// node's address.
func (l *link) openPort(t testing.TB, port uint16, opts Options) *Port {
	t.Helper()
	opts.Redirect = redirectTo(l.AddrB, port)
	var p *Port
	testenv.InNetns(t, l.HB, func() (err error) {
		p, err = Open(l.IdxB, 0, opts)
		return err
	})
	t.Cleanup(func() { p.Free() })
	return p
}

// udpOn opens a UDP socket on the peer (or node) side.
func (l *link) udpOn(t testing.TB, onPeer bool, port uint16) *net.UDPConn {
	t.Helper()
	h, a := l.HB, l.AddrB
	if onPeer {
		h, a = l.HA, l.AddrA
	}
	var c *net.UDPConn
	testenv.InNetns(t, h, func() (err error) {
		c, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, port)))
		return err
	})
	t.Cleanup(func() { c.Close() })
	return c
}

// udpFrame builds an Ethernet/IPv4/UDP frame with valid checksums.
func udpFrame(srcMAC, dstMAC net.HardwareAddr, src, dst netip.AddrPort, payload []byte) []byte {
	f := make([]byte, 14+20+8+len(payload))
	copy(f[0:6], dstMAC)
	copy(f[6:12], srcMAC)
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(ip[2:], uint16(20+8+len(payload)))
	s4, d4 := src.Addr().As4(), dst.Addr().As4()
	copy(ip[12:], s4[:])
	copy(ip[16:], d4[:])
	binary.BigEndian.PutUint16(ip[10:], encap.Checksum(ip[:20], 0))
	udp := ip[20:]
	binary.BigEndian.PutUint16(udp[0:], src.Port())
	binary.BigEndian.PutUint16(udp[2:], dst.Port())
	binary.BigEndian.PutUint16(udp[4:], uint16(8+len(payload)))
	copy(udp[8:], payload)
	return f
}

// readFrom reads one datagram within 2 s.
func readFrom(t testing.TB, c *net.UDPConn) ([]byte, netip.AddrPort) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 4096)
	n, from, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return buf[:n], from
}

func redirectTo(addr netip.Addr, port uint16) xdp.RedirectConfig {
	return xdp.RedirectConfig{LocalIPv4: addr, UDPPorts: []uint16{port}}
}
