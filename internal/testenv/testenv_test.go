package testenv

import (
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
