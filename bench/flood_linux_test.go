package bench

import (
	"testing"
	"time"

	"github.com/podfwd/podfwd/internal/testenv"
	"github.com/podfwd/podfwd/internal/topo"
)

// TestTrafficKernelNative runs the in-process generators (UDP flood and
// TCP ping-pong) across kernel-routed nodes: both must move traffic and
// account for it consistently.
func TestTrafficKernelNative(t *testing.T) {
	testenv.RequireRoot(t)
	tp := topo.NewT(t, topo.Config{Prefix: testenv.RunPrefix(), Mode: topo.KernelNative})
	a, b := tp.Nodes[0].Pods[0], tp.Nodes[1].Pods[0]

	u, err := udpFlood(a, b, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("udp flood: sent %d received %d in %.2fs (%.0f pps, loss %.1f%%)", u.sent, u.received, u.seconds, u.pps(), 100*u.loss())
	if u.received == 0 || u.sent < u.received || u.seconds < 0.9 {
		t.Errorf("udp flood: sent %d received %d in %.2fs", u.sent, u.received, u.seconds)
	}

	r, err := pingPong(a, b, 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ping-pong: %d trips p50 %v p99 %v p99.9 %v", r.trips, r.p50, r.p99, r.p999)
	if r.trips < 10 || r.p50 <= 0 || r.p50 > r.p99 || r.p99 > r.p999 || r.p999 > r.mx {
		t.Errorf("ping-pong: %+v", r)
	}
}
