// Package testenv holds the helpers every podfwd test package shares: the
// rule for tests that need root or a program the machine may lack, and the
// per-run name prefix for anything a test creates on the host (namespaces,
// links).
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// SkipMarker begins the message of every skip this package makes, so that
// `make test` can find, in a CI run's output, a test skipped for want of
// root or a tool (see the Makefile's unit target).
const SkipMarker = "testenv: missing requirement:"

// InCI reports whether the tests run under CI: the CI variable holds a truthy
// value (true, 1 or yes, any case). There, a test that needs root or a tool
// must not be skipped: a silent skip would hide a broken suite.
func InCI() bool { return truthy(os.Getenv("CI")) }

func truthy(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes":
		return true
	}
	return false
}

// Missing is what a test calls when something it needs is absent: it skips
// t locally, naming what is missing, and fails t under CI. need names the
// requirement ("root", "tool tshark") and why says what to do about it.
func Missing(t testing.TB, need, why string) {
	t.Helper()
	msg := fmt.Sprintf("%s %s needs %s: %s", SkipMarker, t.Name(), need, why)
	if InCI() {
		t.Fatalf("%s (CI is set, so this fails instead of skipping)", msg)
	}
	t.Skip(msg)
}

// RequireRoot skips t when the process is not root, except under CI where it
// fails t instead, so that `make test` in CI cannot pass with root tests
// skipped.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "root", "it creates namespaces, links or sockets only root may")
	}
}

// RequireTools returns the path of each named program, in order; when one
// is not on PATH it skips t locally and fails t under CI (see Missing).
// scripts/deps.sh installs every program the tests use.
func RequireTools(t testing.TB, names ...string) []string {
	t.Helper()
	paths := make([]string, len(names))
	for i, name := range names {
		p, err := exec.LookPath(name)
		if err != nil {
			Missing(t, "tool "+name, "not on PATH; `make deps` (scripts/deps.sh) installs it")
		}
		paths[i] = p
	}
	return paths
}

var (
	prefixOnce sync.Once
	prefix     string
)

// RunPrefix returns a short prefix unique to this test process, for names of
// namespaces and links the tests create. It is short because Linux interface
// names are limited to 15 bytes.
func RunPrefix() string {
	prefixOnce.Do(func() {
		prefix = fmt.Sprintf("pf%04x", os.Getpid()&0xffff)
	})
	return prefix
}
