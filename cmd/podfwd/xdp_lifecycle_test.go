package main

import (
	"context"
	"net/netip"
	"strings"
	"syscall"
	"testing"

	"github.com/podfwd/podfwd/internal/testenv"
	"github.com/podfwd/podfwd/internal/topo"
	"github.com/podfwd/podfwd/xdp"
	"github.com/vishvananda/netlink"
)

// A daemon killed with SIGKILL takes its bpf link, and so its program,
// with it; one restarted over a program an older podfwd attached through
// netlink (which outlives the process) replaces it. SIGTERM leaves the
// interface clean either way.
func TestXDPRestartAfterSIGKILL(t *testing.T) {
	testenv.RequireRoot(t)
	tp := topo.NewT(t, topo.Config{Prefix: testenv.RunPrefix() + "z"})
	n1, n2 := tp.Nodes[0], tp.Nodes[1]
	cfg1 := nodeConfig(tp, n1, "xdp", "vxlan", 0)
	startDaemon(t, n2, nodeConfig(tp, n2, "xdp", "vxlan", 0))
	first := startDaemon(t, n1, cfg1)
	pingBothWays(t, tp)
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-first.done
	if got := xdpOnUnderlay(t, n1); got != "" {
		t.Errorf("the bpf link outlived the SIGKILLed daemon:\n%s", got)
	}

	// What a crashed podfwd that attached through netlink would leave.
	attachStaleProgram(t, n1)
	if got := xdpOnUnderlay(t, n1); !strings.Contains(got, "prog/xdp") {
		t.Fatalf("the stale program did not attach:\n%s", got)
	}
	second := startDaemon(t, n1, cfg1)
	if log := second.log.String(); !strings.Contains(log, "replacedStale="+xdp.RedirectProgramName) {
		t.Errorf("the restarted daemon does not report replacing the stale program:\n%s", log)
	}
	pingBothWays(t, tp)
	second.stop(t)
	if got := xdpOnUnderlay(t, n1); got != "" {
		t.Errorf("after SIGTERM node 1 still has XDP on %s:\n%s", n1.UnderlayLink, got)
	}
}

// attachStaleProgram attaches our redirect program to n's underlay link
// through netlink and closes every descriptor: the kernel keeps it.
func attachStaleProgram(t *testing.T, n *topo.Node) {
	t.Helper()
	err := n.Do(func() error {
		r, err := xdp.NewRedirect(xdp.RedirectConfig{LocalIPv4: n.UnderlayIPv4, UDPPorts: []uint16{8472}}, 1)
		if err != nil {
			return err
		}
		defer r.Close()
		link, err := netlink.LinkByName(n.UnderlayLink)
		if err != nil {
			return err
		}
		return netlink.LinkSetXdpFdWithFlags(link, r.Program().FD(), 1<<2) // XDP_FLAGS_DRV_MODE
	})
	if err != nil {
		t.Fatalf("attaching a stale program through netlink: %v", err)
	}
}

// xdpOnUnderlay returns the XDP lines of `ip -d link show` for n's underlay
// link ("" when no program is attached), and fails t if netlink disagrees.
func xdpOnUnderlay(t *testing.T, n *topo.Node) string {
	t.Helper()
	out, err := n.Command(context.Background(), "ip", "-d", "link", "show", n.UnderlayLink).CombinedOutput()
	if err != nil {
		t.Fatalf("ip link: %v: %s", err, out)
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "xdp") {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	var attached bool
	if err := n.Do(func() error {
		link, err := netlink.LinkByName(n.UnderlayLink)
		if err == nil {
			x := link.Attrs().Xdp
			attached = x != nil && (x.Attached || x.ProgId != 0)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if attached != (len(lines) > 0) {
		t.Fatalf("netlink says XDP attached=%v, ip link says:\n%s", attached, out)
	}
	return strings.Join(lines, "\n")
}

// A peer whose next hop never answers ARP does not keep the node from
// starting: it is named unresolved, frames to it are dropped as
// neighbour-unresolved, and the other peers are reached as usual.
func TestXDPUnresolvedPeerDoesNotFailStart(t *testing.T) {
	testenv.RequireRoot(t)
	tp := topo.NewT(t, topo.Config{Prefix: testenv.RunPrefix() + "u"})
	n1, n2 := tp.Nodes[0], tp.Nodes[1]
	ghost := "  - name: ghost\n    underlay: 10.99.0.77\n    podCIDRs: [10.244.77.0/24]\n"
	d1 := startDaemon(t, n1, nodeConfig(tp, n1, "xdp", "vxlan", 0)+ghost)
	d2 := startDaemon(t, n2, nodeConfig(tp, n2, "xdp", "vxlan", 0))
	if !strings.Contains(linesWith(d1.log.String(), "peer=ghost"), "next hop unresolved") {
		t.Errorf("the log does not name the unresolved peer:\n%s", d1.log)
	}
	pingBothWays(t, tp)
	if err := topo.Ping(context.Background(), n1.Pods[0], netip.MustParseAddr("10.244.77.5"), 1, 56, false); err == nil {
		t.Error("a pod behind the unresolved peer answered")
	}
	log := d1.stop(t)
	d2.stop(t)
	if !strings.Contains(log, "drop.neighbour-unresolved=") {
		t.Errorf("the ping to the unresolved peer was not counted as neighbour-unresolved:\n%s", linesWith(log, "counters"))
	}
}
