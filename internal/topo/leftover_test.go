package topo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/podfwd/podfwd/internal/testenv"
)

// An explicit prefix never takes over namespaces that exist: another live
// run may own them. New fails, and removes only what it made itself.
func TestNewRefusesExistingNamespace(t *testing.T) {
	testenv.RequireRoot(t)
	prefix := testenv.RunPrefix() + "e"
	taken := nodeNamespace(prefix, 2)
	if err := run(context.Background(), "", "ip", "netns", "add", taken); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = deleteNamespace(taken) })
	_, err := New(context.Background(), Config{Prefix: prefix, PodsPerNode: 1})
	if !errors.Is(err, ErrNamespaceExists) {
		t.Fatalf("New over an existing namespace: %v, want ErrNamespaceExists", err)
	}
	if left := namespacesWithPrefix(t, prefix+"-"); !slices.Equal(left, []string{taken}) {
		t.Errorf("after the failed New: %v, want only the pre-existing [%s]", left, taken)
	}
}

// A default prefix carries this process's PID, so namespaces already under
// it are a dead same-PID run's: New removes them and proceeds.
func TestNewDefaultPrefixReclaimsLeftovers(t *testing.T) {
	testenv.RequireRoot(t)
	// The next default prefix this process will hand out (tests here do
	// not run in parallel).
	next := fmt.Sprintf("pf%04x", os.Getpid()&0xffff)
	if n := topologies.Load() + 1; n > 1 {
		next += fmt.Sprintf("t%d", n)
	}
	stale := []string{underlayNamespace(next), nodeNamespace(next, 7)}
	for _, ns := range stale {
		if err := run(context.Background(), "", "ip", "netns", "add", ns); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = deleteNamespace(ns) })
	}
	topo := NewT(t, Config{Nodes: 1, PodsPerNode: 1})
	if topo.Config.Prefix != next {
		t.Fatalf("default prefix %q, want %q", topo.Config.Prefix, next)
	}
	want := []string{nodeNamespace(next, 1), podNamespace(next, 1, 1), underlayNamespace(next)}
	slices.Sort(want)
	if got := namespacesWithPrefix(t, next+"-"); !slices.Equal(got, want) {
		t.Errorf("namespaces %v, want %v (the stale node 7 removed)", got, want)
	}
}
