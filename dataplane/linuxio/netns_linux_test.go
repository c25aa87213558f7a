package linuxio

import (
	"runtime"
	"testing"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/internal/testenv"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// testNS is a network namespace owned by one test (or benchmark): named
// with the run prefix, loopback up, removed in Cleanup even on failure.
type testNS struct {
	name   string
	handle netns.NsHandle
	nl     *netlink.Handle
}

func newTestNS(tb testing.TB, suffix string) *testNS {
	tb.Helper()
	testenv.RequireRoot(tb)
	n := &testNS{name: testenv.RunPrefix() + "-lio-" + suffix}
	_ = netns.DeleteNamed(n.name) // left over from a crashed run of this pid
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		tb.Fatalf("get current netns: %v", err)
	}
	// NewNamed moves this thread into the new namespace; move it back
	// before unlocking, or let the thread die with the goroutine.
	h, nsErr := netns.NewNamed(n.name)
	if err := netns.Set(orig); err != nil {
		orig.Close()
		tb.Fatalf("restore netns: %v (thread stays locked and dies)", err)
	}
	orig.Close()
	runtime.UnlockOSThread()
	if nsErr != nil {
		tb.Fatalf("create netns %s: %v", n.name, nsErr)
	}
	n.handle = h
	tb.Cleanup(func() {
		if n.nl != nil {
			n.nl.Close()
		}
		n.handle.Close()
		if err := netns.DeleteNamed(n.name); err != nil {
			tb.Errorf("delete netns %s: %v", n.name, err)
		}
	})
	if n.nl, err = netlink.NewHandleAt(h); err != nil {
		tb.Fatalf("netlink handle in %s: %v", n.name, err)
	}
	lo, err := n.nl.LinkByName("lo")
	if err != nil {
		tb.Fatalf("lo in %s: %v", n.name, err)
	}
	if err := n.nl.LinkSetUp(lo); err != nil {
		tb.Fatalf("lo up in %s: %v", n.name, err)
	}
	return n
}

// do runs fn on a locked thread switched into the namespace, so sockets
// and devices fn creates live there (an fd keeps its namespace).
func (n *testNS) do(tb testing.TB, fn func()) {
	tb.Helper()
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		tb.Fatalf("get current netns: %v", err)
	}
	defer orig.Close()
	if err := netns.Set(n.handle); err != nil {
		runtime.UnlockOSThread()
		tb.Fatalf("enter netns %s: %v", n.name, err)
	}
	defer func() {
		if err := netns.Set(orig); err != nil {
			tb.Errorf("restore netns: %v (thread stays locked and dies)", err)
			return
		}
		runtime.UnlockOSThread()
	}()
	fn()
}

// goDo runs fn in a new goroutine whose thread is locked into the
// namespace; the thread is never unlocked, so the runtime discards it when
// fn returns rather than reuse it in the wrong namespace.
func (n *testNS) goDo(fn func(err error)) {
	go func() {
		runtime.LockOSThread()
		fn(netns.Set(n.handle))
	}()
}

// newPacket returns a packet with the dataplane's headroom and room
// bytes after it.
func newPacket(room int) *dataplane.Packet {
	p := &dataplane.Packet{Buf: make([]byte, dataplane.Headroom+room)}
	p.Reset(dataplane.Headroom)
	return p
}

func newPackets(n, room int) []*dataplane.Packet {
	pkts := make([]*dataplane.Packet, n)
	for i := range pkts {
		pkts[i] = newPacket(room)
	}
	return pkts
}

// fill sets p's contents to data at the dataplane headroom.
func fill(p *dataplane.Packet, data []byte) {
	p.Reset(dataplane.Headroom)
	p.SetLen(copy(p.Buf[p.Start:], data))
}

// pattern returns n bytes that differ per (seed, index), so a datagram
// delivered in the wrong place or order shows.
func pattern(seed, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(seed*31 + i*7 + i/251)
	}
	return b
}
