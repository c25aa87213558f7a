package testenv

import (
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/vishvananda/netns"
)

// VethPair is two network namespaces, A and B, joined by a veth pair with
// one IPv4 address each (Net.N.1 in A, Net.N.2 in B, /24) and loopback up.
// Names carry RunPrefix() and a caller tag, so packages testing in parallel
// never collide; everything is removed in t.Cleanup.
type VethPair struct {
	NsA, NsB     string
	HA, HB       netns.NsHandle
	IfA, IfB     string
	IdxA, IdxB   int
	MACA, MACB   net.HardwareAddr
	AddrA, AddrB netip.Addr
}

var pairSeq atomic.Int32

// NewVethPair builds a pair. tag is a short letter or two naming the
// caller (it goes into interface names, which IFNAMSIZ limits to 15
// bytes); net gives the first two bytes of the addresses.
func NewVethPair(t testing.TB, tag string, net2 [2]byte) *VethPair {
	t.Helper()
	RequireRoot(t)
	n := pairSeq.Add(1)
	p := &VethPair{
		NsA:   fmt.Sprintf("%s-%sa%d", RunPrefix(), tag, n),
		NsB:   fmt.Sprintf("%s-%sb%d", RunPrefix(), tag, n),
		IfA:   fmt.Sprintf("%s%sa%d", RunPrefix(), tag, n),
		IfB:   fmt.Sprintf("%s%sb%d", RunPrefix(), tag, n),
		AddrA: netip.AddrFrom4([4]byte{net2[0], net2[1], byte(n), 1}),
		AddrB: netip.AddrFrom4([4]byte{net2[0], net2[1], byte(n), 2}),
	}
	for _, ns := range []string{p.NsA, p.NsB} {
		Run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	}
	Run(t, "ip", "link", "add", p.IfA, "netns", p.NsA, "type", "veth", "peer", "name", p.IfB, "netns", p.NsB)
	for _, c := range []struct {
		ns, ifname string
		addr       netip.Addr
	}{{p.NsA, p.IfA, p.AddrA}, {p.NsB, p.IfB, p.AddrB}} {
		Run(t, "ip", "-n", c.ns, "addr", "add", c.addr.String()+"/24", "dev", c.ifname)
		Run(t, "ip", "-n", c.ns, "link", "set", c.ifname, "up")
		Run(t, "ip", "-n", c.ns, "link", "set", "lo", "up")
	}
	var err error
	if p.HA, err = netns.GetFromName(p.NsA); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.HA.Close() })
	if p.HB, err = netns.GetFromName(p.NsB); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.HB.Close() })
	for _, side := range []struct {
		h      netns.NsHandle
		ifname string
		idx    *int
		mac    *net.HardwareAddr
	}{{p.HA, p.IfA, &p.IdxA, &p.MACA}, {p.HB, p.IfB, &p.IdxB, &p.MACB}} {
		InNetns(t, side.h, func() error {
			ifi, err := net.InterfaceByName(side.ifname)
			if err == nil {
				*side.idx, *side.mac = ifi.Index, ifi.HardwareAddr
			}
			return err
		})
	}
	return p
}

// Run runs a command and fails t, with its output, when it fails.
func Run(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// InNewNetns runs fn on a locked thread inside a fresh, unnamed network
// namespace, and always switches back.
func InNewNetns(t testing.TB, fn func()) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	ns, err := netns.New() // switches this thread
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := netns.Set(orig); err != nil {
			panic("cannot return to the original network namespace: " + err.Error())
		}
		ns.Close()
	}()
	fn()
}

// InNetns runs fn on a locked OS thread switched into ns, switches back,
// and fails t with fn's error. Sockets, links and bpf links created inside
// fn belong to ns and may be used from any thread afterwards. A thread
// that cannot be switched back stays locked, so the runtime discards it
// with its goroutine.
func InNetns(t testing.TB, ns netns.NsHandle, fn func() error) {
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
