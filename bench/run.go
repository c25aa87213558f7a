package bench

import (
	"context"
	"time"

	"github.com/podfwd/podfwd/internal/topo"
)

// Options configure a run of one mode by RunMode (`podfwd demo`).
type Options struct {
	Podfwd   string        // path of the podfwd binary started in each node
	Duration time.Duration // iperf3 time per test; 0 means 3s
	MTU      int           // underlay MTU; 0 means 1500
	Prefix   string        // namespace prefix; "" means topo's per-process default
}

// Result is what one mode measured by RunMode.
type Result struct {
	Mode        Mode
	PingOK      bool
	PingErr     error
	Gbps        float64 // TCP single stream, pod on node 1 -> pod on node 2
	Retransmits int
	Err         error // the mode could not be measured
}

// RunMode builds a 2-node topology, brings mode up, pings pod to pod
// across nodes, measures one TCP stream with iperf3 and tears everything
// down, including when it fails. It is the demo's quick look; Run is the
// full harness.
func RunMode(ctx context.Context, mode Mode, opts Options) (res Result) {
	res.Mode = mode
	if opts.Duration == 0 {
		opts.Duration = 3 * time.Second
	}
	tp, err := topo.New(ctx, topo.Config{Prefix: opts.Prefix, MTU: opts.MTU, Mode: mode.Kernel})
	if err != nil {
		res.Err = err
		return res
	}
	defer tp.Close()
	if !mode.IsKernel() {
		d, err := startDaemons(ctx, tp, mode, opts.Podfwd)
		if err != nil {
			res.Err = err
			return res
		}
		defer d.stop()
	}
	a, b := tp.Nodes[0].Pods[0], tp.Nodes[1].Pods[0]
	res.PingErr = topo.Ping(ctx, a, b.IPv4, 3, 56, false)
	res.PingOK = res.PingErr == nil
	ir, err := iperfTCP(ctx, a, b, opts.Duration, 1)
	res.Gbps, res.Retransmits, res.Err = ir.gbps, ir.retransmits, err
	return res
}
