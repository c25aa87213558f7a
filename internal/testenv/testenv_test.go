package testenv

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

func TestRunPrefixIsStableAndShort(t *testing.T) {
	a, b := RunPrefix(), RunPrefix()
	if a != b {
		t.Fatalf("RunPrefix changed within one process: %q then %q", a, b)
	}
	if !strings.HasPrefix(a, "pf") || len(a) > 6 {
		t.Fatalf("RunPrefix %q: want pf + 4 hex digits, so that prefix+suffix fits IFNAMSIZ", a)
	}
}

func TestTruthyCIValues(t *testing.T) {
	for v, want := range map[string]bool{
		"true": true, "TRUE": true, "True": true, "1": true, "yes": true, "YES": true, " yes ": true,
		"": false, "false": false, "0": false, "no": false, "ci": false,
	} {
		if got := truthy(v); got != want {
			t.Errorf("truthy(%q) = %v, want %v", v, got, want)
		}
	}
}

// recorder is a testing.TB that records how a requirement check ended,
// instead of ending the calling test.
type recorder struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (r *recorder) Helper()      {}
func (r *recorder) Name() string { return "TestX" }
func (r *recorder) Skip(args ...any) {
	r.skipped, r.msg = true, fmt.Sprint(args...)
	runtime.Goexit()
}
func (r *recorder) Fatalf(f string, args ...any) {
	r.failed, r.msg = true, fmt.Sprintf(f, args...)
	runtime.Goexit()
}

func runRecorded(fn func(testing.TB)) *recorder {
	r := &recorder{}
	done := make(chan struct{})
	go func() { defer close(done); fn(r) }()
	<-done
	return r
}

func TestMissingSkipsLocallyAndFailsInCI(t *testing.T) {
	const tool = "podfwd-no-such-tool"
	for _, ci := range []string{"", "false", "true", "1", "Yes"} {
		t.Setenv("CI", ci)
		r := runRecorded(func(tb testing.TB) { RequireTools(tb, "sh", tool) })
		if InCI() != (ci != "" && ci != "false") {
			t.Fatalf("CI=%q: InCI() = %v", ci, InCI())
		}
		if InCI() && (!r.failed || r.skipped) || !InCI() && (!r.skipped || r.failed) {
			t.Errorf("CI=%q: skipped=%v failed=%v, want a failure in CI and a skip otherwise", ci, r.skipped, r.failed)
		}
		if !strings.Contains(r.msg, SkipMarker) || !strings.Contains(r.msg, "tool "+tool) {
			t.Errorf("CI=%q: message %q does not carry %q and the tool's name", ci, r.msg, SkipMarker)
		}
	}
	t.Setenv("CI", "true")
	r := runRecorded(func(tb testing.TB) { RequireTools(tb, "sh") })
	if r.skipped || r.failed {
		t.Errorf("a present tool ended the test: %q", r.msg)
	}
}
