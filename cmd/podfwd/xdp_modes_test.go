package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/podfwd/podfwd/internal/testenv"
	"github.com/podfwd/podfwd/internal/topo"
)

// The config's xdp settings reach the kernel: generic mode with a copy
// bind forwards like the default, and asking for zero-copy on a veth (which
// has none) fails the start with the reason instead of silently copying.
func TestXDPConfigModes(t *testing.T) {
	testenv.RequireRoot(t)
	tp := topo.NewT(t, topo.Config{Prefix: testenv.RunPrefix() + "m"})
	generic := "xdp:\n  mode: generic\n  zeroCopy: \"off\"\n"
	var ds []*daemon
	for _, n := range tp.Nodes {
		ds = append(ds, startDaemon(t, n, nodeConfig(tp, n, "xdp", "geneve", 6081)+generic))
	}
	for _, n := range tp.Nodes {
		if got := xdpOnUnderlay(t, n); !strings.Contains(got, "xdpgeneric") {
			t.Fatalf("%s: want the program in generic mode, ip link shows:\n%s", n.Namespace, got)
		}
	}
	if log := ds[0].log.String(); !strings.Contains(log, "attach=xdpgeneric zeroCopy=false") {
		t.Errorf("the daemon does not log generic mode and copy bind:\n%s", linesWith(log, "AF_XDP"))
	}
	pingBothWays(t, tp)
	transfer(t, tp.Nodes[0].Pods[0], tp.Nodes[1].Pods[0], tp.Nodes[1].Pods[0].IPv4, 8<<20)
	for _, n := range tp.Nodes {
		checkConservation(t, n)
	}
	for _, d := range ds {
		d.stop(t)
	}

	n1 := tp.Nodes[0]
	path := t.TempDir() + "/zc.yaml"
	if err := os.WriteFile(path, []byte(nodeConfig(tp, n1, "xdp", "geneve", 6081)+"xdp:\n  zeroCopy: \"on\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := n1.Command(ctx, podfwdBin, "run", "--config", path).CombinedOutput()
	if err == nil || ctx.Err() != nil {
		t.Fatalf("zeroCopy on a veth started (err %v):\n%s", err, out)
	}
	if !strings.Contains(string(out), "zero-copy not supported") {
		t.Errorf("the error does not say zero-copy is unsupported:\n%s", out)
	}
	if got := xdpOnUnderlay(t, n1); got != "" {
		t.Errorf("the failed start left XDP on %s:\n%s", n1.UnderlayLink, got)
	}
}
