package main

import (
	"context"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/podfwd/podfwd/internal/testenv"
	"github.com/podfwd/podfwd/internal/topo"
)

// TestMasqueradeLifecycle: the table survives a SIGKILL (the kernel does
// not clean it up), a restarted daemon adopts it without duplicating a
// rule, SIGTERM removes it, and a daemon started with masquerade: false
// removes a crashed run's table, after which the pods no longer reach
// the outside host.
func TestMasqueradeLifecycle(t *testing.T) {
	testenv.RequireRoot(t)
	ctx := context.Background()
	tp := topo.NewT(t, topo.Config{Prefix: testenv.RunPrefix() + "q", IPv6: true})
	out, err := tp.AddOutside(ctx, outsideHost)
	if err != nil {
		t.Fatal(err)
	}
	n := tp.Nodes[0]
	cfg := nodeConfig(tp, n, "tun", "vxlan", topo.DefaultVXLANPort)
	// rules counts the masquerade rules in node 1's table; -1: no table.
	rules := func() int {
		b, err := n.Command(ctx, "nft", "list", "table", "inet", "podfwd").CombinedOutput()
		if err != nil {
			return -1
		}
		return strings.Count(string(b), "masquerade")
	}
	reach := func() error { return topo.Ping(ctx, n.Pods[0], out.IPv4, 1, 56, false) }
	crash := func(d *daemon) {
		t.Helper()
		if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-d.done
	}

	first := startDaemon(t, n, cfg)
	if got := rules(); got != 2 {
		t.Fatalf("running daemon: %d masquerade rules, want 2 (IPv4, IPv6)", got)
	}
	waitExempt(t, n, tp.Nodes[1].Pods[0].IPv4, true)
	waitExempt(t, n, tp.Nodes[1].Pods[0].IPv6, true)
	waitExempt(t, n, out.IPv4, false)
	crash(first)
	if got := rules(); got != 2 {
		t.Fatalf("after SIGKILL: %d masquerade rules, want the crashed run's 2 (else adoption is untested)", got)
	}
	second := startDaemon(t, n, cfg)
	if !strings.Contains(second.log.String(), "adopted=true") {
		t.Errorf("the restarted daemon did not report adopting the table:\n%s", second.log)
	}
	if got := rules(); got != 2 {
		t.Errorf("after restart: %d masquerade rules, want 2 (no duplicates)", got)
	}
	if err := reach(); err != nil {
		t.Errorf("pod -> outside after restart: %v", err)
	}
	second.stop(t)
	if got := rules(); got != -1 {
		t.Errorf("after SIGTERM the table is still there (%d rules)", got)
	}

	crash(startDaemon(t, n, cfg))
	off := startDaemon(t, n, cfg+"masquerade: false\n")
	if got := rules(); got != -1 {
		t.Errorf("masquerade: false left the crashed run's table (%d rules)", got)
	}
	if reach() == nil {
		t.Error("a pod reached the outside host with masquerade off: the egress checks prove nothing")
	}
	off.stop(t)
}

// waitExempt waits up to 10 s until addr is (want) or is not (!want) in
// node n's masquerade exemption set, asked of nft (which finds an address
// inside the set's intervals).
func waitExempt(t *testing.T, n *topo.Node, addr netip.Addr, want bool) {
	t.Helper()
	set := "nomasq4"
	if addr.Is6() {
		set = "nomasq6"
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := n.Command(context.Background(), "nft", "get", "element", "inet", "podfwd", set, "{ "+addr.String()+" }").Run()
		if (err == nil) == want {
			return
		}
		if time.Now().After(deadline) {
			out, _ := n.Command(context.Background(), "nft", "list", "table", "inet", "podfwd").CombinedOutput()
			t.Fatalf("%s: %s exempt from masquerade = %v after 10 s, want %v:\n%s", n.Namespace, addr, err == nil, want, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
