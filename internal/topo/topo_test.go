package topo

import (
	"context"
	"errors"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/podfwd/podfwd/internal/testenv"
)

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// mustPing pings from p to each address and fails t with ping's output.
func mustPing(t *testing.T, ctx context.Context, from *Pod, to ...netip.Addr) {
	t.Helper()
	for _, a := range to {
		if err := Ping(ctx, from, a, 2, 0, false); err != nil {
			t.Errorf("%v", err)
		}
	}
}

// mustNotPing checks that one echo from p to addr goes unanswered.
func mustNotPing(t *testing.T, ctx context.Context, from *Pod, to netip.Addr) {
	t.Helper()
	err := Ping(ctx, from, to, 1, 0, false)
	if !errors.Is(err, ErrPing) {
		t.Errorf("ping %s -> %s: got %v, want ErrPing (no path should exist)", from.Namespace, to, err)
		return
	}
	t.Logf("as expected: %v", err)
}

func ipOutput(t *testing.T, ctx context.Context, args ...string) string {
	t.Helper()
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestTopology builds one 2×2 dual-stack topology and walks it through
// every mode, so the build is paid once.
func TestTopology(t *testing.T) {
	testenv.RequireRoot(t)
	ctx := testContext(t)
	topo := NewT(t, Config{Prefix: testenv.RunPrefix() + "a", IPv6: true})
	n1, n2 := topo.Nodes[0], topo.Nodes[1]
	a, b := n1.Pods[0], n2.Pods[0] // on different nodes
	a2 := n1.Pods[1]               // a's neighbour on node 1

	t.Run("Facts", func(t *testing.T) {
		if got := len(topo.Namespaces()); got != 1+2+4 {
			t.Errorf("%d namespaces, want 7: %v", got, topo.Namespaces())
		}
		out := ipOutput(t, ctx, "-n", n2.Namespace, "addr", "show", "dev", UnderlayLink)
		for _, want := range []string{"10.99.0.2/24", "fd99::2/64", "mtu 1500"} {
			if !strings.Contains(out, want) {
				t.Errorf("node 2 %s lacks %q:\n%s", UnderlayLink, want, out)
			}
		}
		out = ipOutput(t, ctx, "-n", b.Namespace, "addr", "show", "dev", PodLink)
		for _, want := range []string{"10.244.2.11/24", "fd00:244:2::b/64", "mtu 1430"} {
			if !strings.Contains(out, want) {
				t.Errorf("pod %s lacks %q:\n%s", b.Namespace, want, out)
			}
		}
		// The global address is usable at once (nodad). The kernel's own
		// link-local address may stay "tentative" for a moment even without
		// DAD (its completion runs from a workqueue), so it is not checked;
		// the sysctl that switches DAD off is.
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, b.IPv6.String()+"/") && strings.Contains(line, "tentative") {
				t.Errorf("pod address still tentative (DAD not off):\n%s", out)
			}
		}
		dad, err := b.Command(ctx, "cat", "/proc/sys/net/ipv6/conf/"+PodLink+"/accept_dad").CombinedOutput()
		if err != nil || strings.TrimSpace(string(dad)) != "0" {
			t.Errorf("pod %s accept_dad = %q (%v), want 0", PodLink, dad, err)
		}
		out = ipOutput(t, ctx, "-n", n1.Namespace, "link", "show", "master", PodBridge)
		if !strings.Contains(out, a.HostVeth+"@") || !strings.Contains(out, a2.HostVeth+"@") {
			t.Errorf("cni0 of node 1 lacks the pods' veths:\n%s", out)
		}
		// Nothing of ours may appear in the caller's namespace.
		if out := ipOutput(t, ctx, "-o", "link"); strings.Contains(out, PodBridge) || strings.Contains(out, "vethp1") {
			t.Errorf("host namespace shows topology links:\n%s", out)
		}
	})

	t.Run("SameNode", func(t *testing.T) {
		mustPing(t, ctx, a, a2.IPv4, a2.IPv6, n1.GatewayV4, n1.GatewayV6)
		mustPing(t, ctx, a2, a.IPv4, a.IPv6)
	})

	t.Run("Unprogrammed", func(t *testing.T) {
		mustNotPing(t, ctx, a, b.IPv4)
	})

	t.Run("KernelNative", func(t *testing.T) {
		if err := topo.Program(ctx, KernelNative); err != nil {
			t.Fatal(err)
		}
		mustPing(t, ctx, a, b.IPv4, b.IPv6)
		mustPing(t, ctx, b, a.IPv4, a.IPv6)
		if err := n1.Program(ctx, KernelNative, n1); !errors.Is(err, ErrPeer) {
			t.Errorf("a node as its own peer: got %v, want ErrPeer", err)
		}
		if err := n1.Program(ctx, KernelVXLAN); !errors.Is(err, ErrProgrammed) {
			t.Errorf("programming a programmed node: got %v, want ErrProgrammed", err)
		}
		for _, n := range topo.Nodes {
			if err := n.Unprogram(ctx); err != nil {
				t.Fatal(err)
			}
		}
		mustNotPing(t, ctx, a, b.IPv4)
	})

	t.Run("KernelVXLAN", func(t *testing.T) {
		if err := topo.Program(ctx, KernelVXLAN); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			for _, n := range topo.Nodes {
				_ = n.Unprogram(context.Background())
			}
		})
		out := ipOutput(t, ctx, "-n", n1.Namespace, "-d", "link", "show", VXLANDevice)
		for _, want := range []string{"vxlan id 1 ", "local 10.99.0.1", "dev eth0", "dstport 8472", "nolearning", "mtu 1450", n1.VTEPMAC.String()} {
			if !strings.Contains(out, want) {
				t.Errorf("%s lacks %q:\n%s", VXLANDevice, want, out)
			}
		}
		mustPing(t, ctx, a, b.IPv4, b.IPv6)
		mustPing(t, ctx, b, a.IPv4, a.IPv6, n2.Pods[1].IPv4)
		// The pods' MTU fits the tunnel: a full-size DF ping passes, one
		// byte more does not leave the pod.
		if err := Ping(ctx, a, b.IPv4, 1, topo.Config.PodMTU-28, true); err != nil {
			t.Errorf("full-size DF ping: %v", err)
		}
		if err := Ping(ctx, a, b.IPv4, 1, topo.Config.PodMTU-27, true); !errors.Is(err, ErrPing) {
			t.Errorf("oversize DF ping: got %v, want ErrPing", err)
		}
		got := captureVXLAN(t, ctx, n2, func() { mustPing(t, ctx, a, b.IPv4) }, "vxlan.vni", "ip.src")
		want := []string{"1", n1.UnderlayIPv4.String() + "," + a.IPv4.String()} // outer, inner
		if !slices.Equal(got, want) {
			t.Errorf("tshark decoded %q from node 2's eth0, want %q (VNI, IPv4 sources)", got, want)
		}
		got = captureVXLAN(t, ctx, n2, func() { mustPing(t, ctx, a, b.IPv6) }, "vxlan.vni", "ipv6.src")
		want = []string{"1", n1.UnderlayIPv6.String() + "," + a.IPv6.String()}
		if !slices.Equal(got, want) {
			t.Errorf("tshark decoded %q from node 2's eth0, want %q (VNI, IPv6 sources)", got, want)
		}
	})

	t.Run("SingleNode", func(t *testing.T) {
		// Node 2 alone runs the kernel device toward node 1: replies from
		// b have a path, a's requests do not.
		if err := n2.Program(ctx, KernelVXLAN, n1); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = n2.Unprogram(context.Background()) })
		if n1.Mode() != Unprogrammed || n2.Mode() != KernelVXLAN {
			t.Fatalf("modes %v, %v; want node 1 untouched", n1.Mode(), n2.Mode())
		}
		out := ipOutput(t, ctx, "-n", n1.Namespace, "link")
		if strings.Contains(out, VXLANDevice) {
			t.Errorf("node 1 got a VXLAN device:\n%s", out)
		}
		mustNotPing(t, ctx, a, b.IPv4)
		if err := n1.Program(ctx, KernelVXLAN, n2); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = n1.Unprogram(context.Background()) })
		mustPing(t, ctx, a, b.IPv4)
	})
}

// TestJumboIPv4Only covers the IPv4-only layout and a 9000-byte underlay:
// a full-size DF echo crosses the kernel VXLAN tunnel unfragmented.
func TestJumboIPv4Only(t *testing.T) {
	testenv.RequireRoot(t)
	ctx := testContext(t)
	topo := NewT(t, Config{Prefix: testenv.RunPrefix() + "j", PodsPerNode: 1, MTU: 9000, Mode: KernelVXLAN})
	a, b := topo.Nodes[0].Pods[0], topo.Nodes[1].Pods[0]
	if topo.Config.PodMTU != 8950 {
		t.Fatalf("pod MTU %d, want 8950", topo.Config.PodMTU)
	}
	out := ipOutput(t, ctx, "-n", topo.Nodes[0].Namespace, "link")
	if strings.Contains(out, VXLANDeviceV6) {
		t.Errorf("IPv6 off but %s exists:\n%s", VXLANDeviceV6, out)
	}
	if err := Ping(ctx, a, b.IPv4, 2, topo.Config.PodMTU-28, true); err != nil {
		t.Error(err)
	}
	if err := Ping(ctx, b, a.IPv4, 2, topo.Config.PodMTU-28, true); err != nil {
		t.Error(err)
	}
}

// TestThreeNodesNative checks that every node routes to every other one,
// not only to a single peer.
func TestThreeNodesNative(t *testing.T) {
	testenv.RequireRoot(t)
	ctx := testContext(t)
	topo := NewT(t, Config{Prefix: testenv.RunPrefix() + "t", Nodes: 3, PodsPerNode: 1, Mode: KernelNative})
	for _, from := range topo.Pods() {
		for _, to := range topo.Pods() {
			if from != to {
				if err := Ping(ctx, from, to.IPv4, 1, 0, false); err != nil {
					t.Error(err)
				}
			}
		}
	}
}
