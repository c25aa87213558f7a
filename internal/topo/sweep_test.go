package topo

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/podfwd/podfwd/internal/testenv"
)

func TestSweepRemovesOnlyDeadOwners(t *testing.T) {
	testenv.RequireRoot(t)
	// A head of our own, so that this test never sweeps other runs'.
	head := testenv.RunPrefix() + "s"
	live, err := livePIDBits()
	if err != nil {
		t.Fatal(err)
	}
	// From the top down: above pid_max (often 32768) no PID can appear
	// between this choice and Sweep.
	dead := -1
	for v := 0xfffe; v > 0; v-- {
		if !live[uint16(v)] {
			dead = v
			break
		}
	}
	stale := fmt.Sprintf("%s%04x-n1", head, dead)
	mine := fmt.Sprintf("%s%04x-n1", head, os.Getpid()&0xffff)
	ctx := context.Background()
	for _, ns := range []string{stale, mine} {
		if err := run(ctx, "", "ip", "netns", "add", ns); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = deleteNamespace(ns) })
	}
	// A process left running in the stale namespace must not keep it alive.
	sleeper := exec.Command("ip", "netns", "exec", stale, "sleep", "300")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sleeper.Process.Kill() })
	// ip netns exec switches namespace after the fork: wait until it has.
	staleID, err := statNS(netnsDir + "/" + stale)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(pidsIn(map[nsID]bool{staleID: true})) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("sleeper never entered the stale namespace")
		}
		time.Sleep(10 * time.Millisecond)
	}

	removed, err := Sweep(head)
	if err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	if !slices.Equal(removed, []string{stale}) {
		t.Errorf("Sweep removed %v, want [%s]", removed, stale)
	}
	left := namespacesWithPrefix(t, head)
	if !slices.Equal(left, []string{mine}) {
		t.Errorf("left %v, want only the live owner's [%s]", left, mine)
	}
	waitExited(t, sleeper)
}
