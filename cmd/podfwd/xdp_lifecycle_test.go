package main

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

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

// A peer whose next hop never answers ARP fails the start with an error
// naming it, and the failed start leaves no TUN behind. (MACs are resolved
// before the program is attached, so the XDP check here only shows that
// order holds.)
func TestXDPUnresolvedPeerFailsStart(t *testing.T) {
	testenv.RequireRoot(t)
	tp := topo.NewT(t, topo.Config{Prefix: testenv.RunPrefix() + "u"})
	n1 := tp.Nodes[0]
	cfg := nodeConfig(tp, n1, "xdp", "vxlan", 0) +
		"  - name: ghost\n    underlay: 10.99.0.77\n    podCIDRs: [10.244.77.0/24]\n"
	path := t.TempDir() + "/ghost.yaml"
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := n1.Command(ctx, podfwdBin, "run", "--config", path).CombinedOutput()
	if err == nil || ctx.Err() != nil {
		t.Fatalf("podfwd started with an unresolvable peer (err %v):\n%s", err, out)
	}
	t.Logf("podfwd refused to start:\n%s", linesWith(string(out), "ghost"))
	if !strings.Contains(string(out), "peer ghost (10.99.0.77)") || !strings.Contains(string(out), "not resolved") {
		t.Errorf("the error does not name the unresolved peer:\n%s", out)
	}
	if got := xdpOnUnderlay(t, n1); got != "" {
		t.Errorf("a failed start left XDP on %s:\n%s", n1.UnderlayLink, got)
	}
	if link, _ := n1.Command(context.Background(), "ip", "link", "show", "podfwd0").CombinedOutput(); !strings.Contains(string(link), "does not exist") {
		t.Errorf("a failed start left the TUN device: %s", link)
	}
}
