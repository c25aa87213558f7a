// Package testenv holds the helpers every podfwd test package shares: the
// rule for tests that need root, and the per-run name prefix for anything a
// test creates on the host (namespaces, links).
package testenv

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

// InCI reports whether the tests run under CI (CI=true). There, a test that
// needs root must not be skipped: a silent skip would hide a broken suite.
func InCI() bool { return os.Getenv("CI") == "true" }

// RequireRoot skips t when the process is not root, except under CI where it
// fails t instead, so that `make test` in CI cannot pass with root tests
// skipped.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if InCI() {
		t.Fatalf("%s needs root, and CI=true forbids skipping it", t.Name())
	}
	t.Skipf("%s needs root; skipped (not CI)", t.Name())
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
