package xdp

import (
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/podfwd/podfwd/internal/testenv"
	"github.com/vishvananda/netns"
)

// vethPair is two network namespaces, "a" (the peer that sends) and "b"
// (the node that runs the XDP program), joined by a veth pair with one
// IPv4 address each. Everything is removed in t.Cleanup.
type vethPair struct {
	nsA, nsB     string
	hA, hB       netns.NsHandle
	ifA, ifB     string
	idxA, idxB   int
	macA, macB   net.HardwareAddr
	addrA, addrB netip.Addr
}

var pairSeq atomic.Int32

func run(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// newVethPair creates the namespaces and the veth pair. Names carry
// testenv.RunPrefix() and fit IFNAMSIZ.
func newVethPair(t testing.TB) *vethPair {
	t.Helper()
	testenv.RequireRoot(t)
	n := pairSeq.Add(1)
	p := &vethPair{
		nsA:   fmt.Sprintf("%s-xa%d", testenv.RunPrefix(), n),
		nsB:   fmt.Sprintf("%s-xb%d", testenv.RunPrefix(), n),
		ifA:   fmt.Sprintf("%sa%d", testenv.RunPrefix(), n),
		ifB:   fmt.Sprintf("%sb%d", testenv.RunPrefix(), n),
		addrA: netip.AddrFrom4([4]byte{198, 18, byte(n), 1}),
		addrB: netip.AddrFrom4([4]byte{198, 18, byte(n), 2}),
	}
	for _, ns := range []string{p.nsA, p.nsB} {
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	}
	run(t, "ip", "link", "add", p.ifA, "netns", p.nsA, "type", "veth", "peer", "name", p.ifB, "netns", p.nsB)
	for _, c := range []struct {
		ns, ifname string
		addr       netip.Addr
	}{{p.nsA, p.ifA, p.addrA}, {p.nsB, p.ifB, p.addrB}} {
		run(t, "ip", "-n", c.ns, "addr", "add", c.addr.String()+"/24", "dev", c.ifname)
		run(t, "ip", "-n", c.ns, "link", "set", c.ifname, "up")
		run(t, "ip", "-n", c.ns, "link", "set", "lo", "up")
	}
	var err error
	if p.hA, err = netns.GetFromName(p.nsA); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.hA.Close() })
	if p.hB, err = netns.GetFromName(p.nsB); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.hB.Close() })
	inNS(t, p.hA, func() error {
		ifi, err := net.InterfaceByName(p.ifA)
		if err == nil {
			p.idxA, p.macA = ifi.Index, ifi.HardwareAddr
		}
		return err
	})
	inNS(t, p.hB, func() error {
		ifi, err := net.InterfaceByName(p.ifB)
		if err == nil {
			p.idxB, p.macB = ifi.Index, ifi.HardwareAddr
		}
		return err
	})
	return p
}

// inNS runs fn on a locked OS thread switched into ns, switches back, and
// fails t with fn's error.
// Sockets, links and bpf links created inside fn belong to ns and may be
// used from any thread afterwards. If the thread cannot be switched back it
// stays locked, so the runtime discards it with the goroutine.
func inNS(t testing.TB, ns netns.NsHandle, fn func() error) {
	t.Helper()
	done := make(chan struct{})
	var failure error
	go func() {
		defer close(done)
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			failure = err
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			failure = err
			return
		}
		defer func() {
			if err := netns.Set(orig); err == nil {
				runtime.UnlockOSThread()
			}
		}()
		failure = fn()
	}()
	<-done
	if failure != nil {
		t.Fatal(failure)
	}
}

// addIPv6 gives both ends an IPv6 address (without duplicate address
// detection, so they are usable at once) and returns them.
func (p *vethPair) addIPv6(t testing.TB, n byte) (a, b netip.Addr) {
	t.Helper()
	a = netip.AddrFrom16([16]byte{0xfd, 0, 1, 0x98, 0, 0x18, 0, n, 14: 0, 15: 1})
	b = netip.AddrFrom16([16]byte{0xfd, 0, 1, 0x98, 0, 0x18, 0, n, 14: 0, 15: 2})
	run(t, "ip", "-n", p.nsA, "addr", "add", a.String()+"/64", "dev", p.ifA, "nodad")
	run(t, "ip", "-n", p.nsB, "addr", "add", b.String()+"/64", "dev", p.ifB, "nodad")
	return a, b
}
