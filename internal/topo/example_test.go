package topo_test

import (
	"context"
	"log"

	"github.com/podfwd/podfwd/internal/topo"
)

// Interop: node 1 is left for podfwd, node 2 runs the kernel VXLAN device
// with node 1 as its only peer. podfwd on node 1 must send to node 2's
// VTEPMAC and UnderlayIPv4 with VNI topo.VXLANVNI on Config.VXLANPort, and
// accept frames addressed to node 1's VTEPMAC.
func Example_interop() {
	ctx := context.Background()
	if _, err := topo.Sweep("pf"); err != nil { // leftovers of crashed runs
		log.Print(err)
	}
	t, err := topo.New(ctx, topo.Config{})
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := t.CloseOnSignal(ctx)
	defer stop()

	n1, n2 := t.Nodes[0], t.Nodes[1]
	if err := n2.Program(ctx, topo.KernelVXLAN, n1); err != nil {
		log.Print(err)
	}
	daemon := n1.Command(ctx, "podfwd", "run", "--encap", "vxlan")
	if err := daemon.Start(); err != nil {
		log.Print(err)
	}
	if err := topo.Ping(ctx, n1.Pods[0], n2.Pods[0].IPv4, 3, 0, false); err != nil {
		log.Print(err) // the error carries ping's output
	}
	if err := t.Close(); err != nil { // kills the daemon, removes everything
		log.Print(err)
	}
	_ = daemon.Wait() // reaping stays the caller's job
}
