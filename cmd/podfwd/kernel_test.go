package main

import (
	"context"
	"strings"
	"testing"

	"github.com/podfwd/podfwd/internal/testenv"
	"github.com/podfwd/podfwd/internal/topo"
)

// io kernel: podfwd programs the kernel VXLAN device on node 1 while node 2
// runs podfwd's own userspace tun io; they must interoperate both ways, and
// SIGTERM must leave no device and no route.
func TestKernelIO(t *testing.T) {
	testenv.RequireRoot(t)
	tp := topo.NewT(t, topo.Config{Prefix: testenv.RunPrefix() + "j"})
	n1, n2 := tp.Nodes[0], tp.Nodes[1]
	d1 := startDaemon(t, n1, nodeConfig(tp, n1, "kernel", "vxlan", 8472))
	startDaemon(t, n2, nodeConfig(tp, n2, "tun", "vxlan", 8472))
	ctx := context.Background()
	out, err := n1.Command(ctx, "ip", "-d", "link", "show", "podfwd.1").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "vxlan id 1") || !strings.Contains(string(out), "dstport 8472") || !strings.Contains(string(out), "nolearning") {
		t.Fatalf("kernel VXLAN device not as flannel programs it: %v\n%s", err, out)
	}
	fdb, _ := n1.Command(ctx, "bridge", "fdb", "show", "dev", "podfwd.1").CombinedOutput()
	if !strings.Contains(string(fdb), n2.VTEPMAC.String()+" dst "+n2.UnderlayIPv4.String()) {
		t.Errorf("no FDB entry for node 2:\n%s", fdb)
	}
	a, b := n1.Pods[0], n2.Pods[0]
	for _, pair := range [][2]*topo.Pod{{a, b}, {b, a}} {
		if err := topo.Ping(ctx, pair[0], pair[1].IPv4, 3, 56, false); err != nil {
			t.Errorf("ping %s -> %s: %v", pair[0].IPv4, pair[1].IPv4, err)
		}
	}
	transfer(t, a, b, b.IPv4, 16<<20)
	transfer(t, b, a, a.IPv4, 16<<20)
	checkConservation(t, n2) // podfwd beside the kernel's VXLAN device, which sends super-packets whole
	probesAnswer(t, n1)
	d1.stop(t)
	if out, _ := n1.Command(ctx, "ip", "link", "show", "podfwd.1").CombinedOutput(); !strings.Contains(string(out), "does not exist") {
		t.Errorf("the kernel VXLAN device survived SIGTERM: %s", out)
	}
	if left := ownedRoutes(t, n1); len(left) != 0 {
		t.Errorf("routes left after SIGTERM: %q", left)
	}
}
