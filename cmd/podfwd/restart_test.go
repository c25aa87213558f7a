package main

import (
	"context"
	"strings"
	"syscall"
	"testing"

	"github.com/podfwd/podfwd/internal/testenv"
	"github.com/podfwd/podfwd/internal/topo"
)

// A daemon killed with SIGKILL leaves what the kernel does not clean up by
// itself (native routes); started again it must reconcile them, without
// duplicates, forward again, and remove everything on SIGTERM.
func TestRestartAfterSIGKILL(t *testing.T) {
	testenv.RequireRoot(t)
	for _, encapName := range []string{"vxlan", "none"} {
		t.Run(encapName, func(t *testing.T) {
			tp := topo.NewT(t, topo.Config{Prefix: testenv.RunPrefix() + "r"})
			n1, n2 := tp.Nodes[0], tp.Nodes[1]
			cfg1 := nodeConfig(tp, n1, "tun", encapName, 0)
			startDaemon(t, n2, nodeConfig(tp, n2, "tun", encapName, 0))
			first := startDaemon(t, n1, cfg1)
			pingBothWays(t, tp)

			if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			<-first.done
			before := ownedRoutes(t, n1)
			if encapName == "none" && len(before) == 0 {
				t.Fatal("native routes vanished with the process; the restart test tests nothing")
			}

			second := startDaemon(t, n1, cfg1)
			pingBothWays(t, tp)
			after := ownedRoutes(t, n1)
			if len(after) != 1 {
				t.Errorf("after restart node 1 owns %d routes, want exactly 1 (no duplicates): %q", len(after), after)
			}
			second.stop(t)
			if left := ownedRoutes(t, n1); len(left) != 0 {
				t.Errorf("after SIGTERM node 1 still has podfwd routes: %q", left)
			}
			out, _ := n1.Command(context.Background(), "ip", "link", "show", "podfwd0").CombinedOutput()
			if !strings.Contains(string(out), "does not exist") {
				t.Errorf("the TUN device survived SIGTERM: %s", out)
			}
		})
	}
}

// ownedRoutes lists the routes with podfwd's protocol mark in node's
// namespace.
func ownedRoutes(t *testing.T, n *topo.Node) []string {
	t.Helper()
	out, err := n.Command(context.Background(), "ip", "route", "show", "proto", "157").CombinedOutput()
	if err != nil {
		t.Fatalf("ip route: %v: %s", err, out)
	}
	var routes []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			routes = append(routes, l)
		}
	}
	return routes
}
