package xdpport

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/podfwd/podfwd/encap"
	"github.com/podfwd/podfwd/internal/testenv"
	"github.com/podfwd/podfwd/xdp"
	"github.com/vishvananda/netns"
)

// link is two namespaces joined by a veth pair: "peer" sends and receives
// with ordinary sockets, "node" runs the Port. Removed in t.Cleanup.
type link struct {
	peerNS, nodeNS     string
	hPeer, hNode       netns.NsHandle
	peerIf, nodeIf     string
	peerIdx, nodeIdx   int
	peerMAC, nodeMAC   net.HardwareAddr
	peerAddr, nodeAddr netip.Addr
}

var linkSeq atomic.Int32

func sh(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func newLink(t testing.TB) *link {
	t.Helper()
	testenv.RequireRoot(t)
	n := linkSeq.Add(1)
	l := &link{
		peerNS:   fmt.Sprintf("%s-pa%d", testenv.RunPrefix(), n),
		nodeNS:   fmt.Sprintf("%s-pb%d", testenv.RunPrefix(), n),
		peerIf:   fmt.Sprintf("%spa%d", testenv.RunPrefix(), n),
		nodeIf:   fmt.Sprintf("%spb%d", testenv.RunPrefix(), n),
		peerAddr: netip.AddrFrom4([4]byte{198, 19, byte(n), 1}),
		nodeAddr: netip.AddrFrom4([4]byte{198, 19, byte(n), 2}),
	}
	for _, ns := range []string{l.peerNS, l.nodeNS} {
		sh(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	}
	sh(t, "ip", "link", "add", l.peerIf, "netns", l.peerNS, "type", "veth", "peer", "name", l.nodeIf, "netns", l.nodeNS)
	for _, c := range []struct {
		ns, ifname string
		addr       netip.Addr
	}{{l.peerNS, l.peerIf, l.peerAddr}, {l.nodeNS, l.nodeIf, l.nodeAddr}} {
		sh(t, "ip", "-n", c.ns, "addr", "add", c.addr.String()+"/24", "dev", c.ifname)
		sh(t, "ip", "-n", c.ns, "link", "set", c.ifname, "up")
	}
	var err error
	if l.hPeer, err = netns.GetFromName(l.peerNS); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.hPeer.Close() })
	if l.hNode, err = netns.GetFromName(l.nodeNS); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.hNode.Close() })
	for _, side := range []struct {
		h      netns.NsHandle
		ifname string
		idx    *int
		mac    *net.HardwareAddr
	}{{l.hPeer, l.peerIf, &l.peerIdx, &l.peerMAC}, {l.hNode, l.nodeIf, &l.nodeIdx, &l.nodeMAC}} {
		inNS(t, side.h, func() error {
			ifi, err := net.InterfaceByName(side.ifname)
			if err == nil {
				*side.idx, *side.mac = ifi.Index, ifi.HardwareAddr
			}
			return err
		})
	}
	return l
}

// inNS runs fn on a locked OS thread switched into ns and switches back;
// a thread that cannot be switched back stays locked and dies with its
// goroutine. It fails t with fn's error.
func inNS(t testing.TB, ns netns.NsHandle, fn func() error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			errc <- err
			return
		}
		err = fn()
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// openPort opens a Port on the node side that takes UDP to port on the
// node's address.
func (l *link) openPort(t testing.TB, port uint16, opts Options) *Port {
	t.Helper()
	opts.Redirect = redirectTo(l.nodeAddr, port)
	var p *Port
	inNS(t, l.hNode, func() (err error) {
		p, err = Open(l.nodeIdx, 0, opts)
		return err
	})
	t.Cleanup(func() { p.Free() })
	return p
}

// udpOn opens a UDP socket on the peer (or node) side.
func (l *link) udpOn(t testing.TB, onPeer bool, port uint16) *net.UDPConn {
	t.Helper()
	h, a := l.hNode, l.nodeAddr
	if onPeer {
		h, a = l.hPeer, l.peerAddr
	}
	var c *net.UDPConn
	inNS(t, h, func() (err error) {
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
