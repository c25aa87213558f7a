package main

import (
	"context"
	"strings"
	"syscall"
	"testing"

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
