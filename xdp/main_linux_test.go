package xdp

import (
	"os"
	"testing"
)

// helperEnv, when set, turns the test binary into the child process that
// TestLinkDiesWithSIGKILL kills.
const helperEnv = "PODFWD_XDP_HELPER_IFINDEX"

func TestMain(m *testing.M) {
	if v := os.Getenv(helperEnv); v != "" {
		helperAttachAndHang(v)
	}
	os.Exit(m.Run())
}
