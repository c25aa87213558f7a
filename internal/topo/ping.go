package topo

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
)

// ErrPing is wrapped by Ping's error when not every echo was answered.
var ErrPing = errors.New("topo: ping failed")

// Ping sends count ICMP echo requests of size payload bytes (as `ping -s`;
// 0 means ping's default 56) from the pod to addr and succeeds only if every
// one is answered. With df the packets may not be fragmented (`-M do`), so a
// size above the path MTU fails. The wait is bounded: one second per five
// echoes plus three, or ctx, whichever ends first. On failure the error
// carries ping's output.
func Ping(ctx context.Context, from *Pod, to netip.Addr, count, size int, df bool) error {
	if count <= 0 {
		count = 1
	}
	if size <= 0 {
		size = 56
	}
	pmtu := "dont"
	if df {
		pmtu = "do"
	}
	family := "-4"
	if to.Is6() && !to.Is4In6() {
		family = "-6"
	}
	deadline := 3 + count/5
	args := []string{family, "-n", "-c", strconv.Itoa(count), "-i", "0.2",
		"-w", strconv.Itoa(deadline), "-s", strconv.Itoa(size), "-M", pmtu, to.String()}
	if _, err := exec.LookPath("ping"); err != nil {
		return fmt.Errorf("topo: Ping needs iputils ping (Debian: iputils-ping): %w", err)
	}
	cmd := from.Command(ctx, "ping", args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: from %s (%s) to %s, %d×%d bytes df=%v: %w\n%s",
			ErrPing, from.Namespace, from.IPv4, to, count, size, df, err, strings.TrimSpace(string(out)))
	}
	return nil
}
