package xdpport

import (
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/podfwd/podfwd/internal/testenv"
	"github.com/podfwd/podfwd/xdp"
	"github.com/vishvananda/netns"
)

var mqSeq atomic.Int32

// newMultiQueueLink is newLink with queues TX and RX queues on both ends of
// the veth: a frame sent on TX queue q of A arrives on RX queue q of B.
func newMultiQueueLink(t testing.TB, queues int) *link {
	t.Helper()
	testenv.RequireRoot(t)
	n := mqSeq.Add(1)
	p := &testenv.VethPair{
		NsA:   fmt.Sprintf("%s-mqa%d", testenv.RunPrefix(), n),
		NsB:   fmt.Sprintf("%s-mqb%d", testenv.RunPrefix(), n),
		IfA:   fmt.Sprintf("%smqa%d", testenv.RunPrefix(), n),
		IfB:   fmt.Sprintf("%smqb%d", testenv.RunPrefix(), n),
		AddrA: netip.AddrFrom4([4]byte{198, 19, byte(100 + n), 1}),
		AddrB: netip.AddrFrom4([4]byte{198, 19, byte(100 + n), 2}),
	}
	for _, ns := range []string{p.NsA, p.NsB} {
		testenv.Run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	}
	q := strconv.Itoa(queues)
	testenv.Run(t, "ip", "link", "add", p.IfA, "netns", p.NsA, "numtxqueues", q, "numrxqueues", q,
		"type", "veth", "peer", "name", p.IfB, "netns", p.NsB, "numtxqueues", q, "numrxqueues", q)
	for _, c := range []struct {
		ns, ifname string
		addr       netip.Addr
	}{{p.NsA, p.IfA, p.AddrA}, {p.NsB, p.IfB, p.AddrB}} {
		testenv.Run(t, "ip", "-n", c.ns, "addr", "add", c.addr.String()+"/24", "dev", c.ifname)
		testenv.Run(t, "ip", "-n", c.ns, "link", "set", c.ifname, "up")
		testenv.Run(t, "ip", "-n", c.ns, "link", "set", "lo", "up")
	}
	for _, side := range []struct {
		name   string
		h      *netns.NsHandle
		ifname string
		idx    *int
		mac    *net.HardwareAddr
	}{{p.NsA, &p.HA, p.IfA, &p.IdxA, &p.MACA}, {p.NsB, &p.HB, p.IfB, &p.IdxB, &p.MACB}} {
		h, err := netns.GetFromName(side.name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		*side.h = h
		testenv.InNetns(t, h, func() error {
			ifi, err := net.InterfaceByName(side.ifname)
			if err == nil {
				*side.idx, *side.mac = ifi.Index, ifi.HardwareAddr
			}
			return err
		})
	}
	// Peer A resolves B statically: the test frames are built by hand and
	// the kernel's own replies must not wait for ARP.
	testenv.Run(t, "ip", "-n", p.NsA, "neigh", "replace", p.AddrB.String(), "lladdr", p.MACB.String(), "dev", p.IfA)
	return &link{p}
}

// openGroup opens a Group on the node side over queues, taking UDP to port.
func (l *link) openGroup(t testing.TB, queues []int, port uint16, opts Options) *Group {
	t.Helper()
	opts.Redirect = redirectTo(l.AddrB, port)
	var g *Group
	testenv.InNetns(t, l.HB, func() (err error) {
		g, err = OpenQueues(l.IdxB, queues, opts)
		return err
	})
	t.Cleanup(func() { g.Free() })
	return g
}

// injector sends hand-built frames from A on one chosen TX queue, which
// veth delivers on B's RX queue of the same index: an AF_XDP socket in
// copy mode transmits on the queue it is bound to.
type injector struct {
	socks []*xdp.Socket
}

func (l *link) injector(t testing.TB, queues int) *injector {
	t.Helper()
	in := &injector{}
	testenv.InNetns(t, l.HA, func() error {
		for q := range queues {
			s, err := xdp.Open(l.IdxA, q, xdp.SocketConfig{FrameSize: 2048, NumFrames: 512, Mode: xdp.BindCopy})
			if err != nil {
				return fmt.Errorf("injector on queue %d: %w", q, err)
			}
			in.socks = append(in.socks, s)
		}
		return nil
	})
	t.Cleanup(func() {
		for _, s := range in.socks {
			s.Close()
		}
	})
	return in
}

// send transmits frame on TX queue q of A and waits until the kernel has
// sent it (copy mode sends synchronously; the completion ring says so).
func (in *injector) send(t testing.TB, q int, frame []byte) {
	t.Helper()
	s := in.socks[q]
	addr, buf, ok := s.AllocFrame()
	if !ok {
		t.Fatalf("injector queue %d: no free frame", q)
	}
	d := xdp.Desc{Addr: addr, Len: uint32(copy(buf, frame))}
	if n, err := s.Transmit([]xdp.Desc{d}); n != 1 || err != nil {
		t.Fatalf("injector queue %d: Transmit %d, %v", q, n, err)
	}
	for deadline := time.Now().Add(2 * time.Second); s.Frames().TX > 0; time.Sleep(time.Millisecond) {
		if s.Complete(); time.Now().After(deadline) {
			t.Fatalf("injector queue %d: frame not sent", q)
		}
	}
}

// tunnelFrame is a frame from A to B's tunnel port carrying payload.
func (l *link) tunnelFrame(payload string) []byte {
	return udpFrame(l.MACA, l.MACB, netip.AddrPortFrom(l.AddrA, 40100), netip.AddrPortFrom(l.AddrB, tunnelPort), []byte(payload))
}

// burst transmits n copies of frame on TX queue q of A and waits until the
// kernel has sent them all.
func (in *injector) burst(t testing.TB, q int, frame []byte, n int) {
	t.Helper()
	s := in.socks[q]
	descs := make([]xdp.Desc, 0, n)
	for range n {
		addr, buf, ok := s.AllocFrame()
		if !ok {
			t.Fatalf("injector queue %d: no free frame for a burst of %d", q, n)
		}
		descs = append(descs, xdp.Desc{Addr: addr, Len: uint32(copy(buf, frame))})
	}
	for sent := 0; sent < n; {
		k, err := s.Transmit(descs[sent:])
		if err != nil {
			t.Fatalf("injector queue %d: %v", q, err)
		}
		sent += k
	}
	for deadline := time.Now().Add(2 * time.Second); s.Frames().TX > 0; time.Sleep(100 * time.Microsecond) {
		if s.Complete(); time.Now().After(deadline) {
			t.Fatalf("injector queue %d: burst not sent", q)
		}
	}
}
