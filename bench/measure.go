package bench

import (
	"context"
	"fmt"
	"io/fs"
	"time"

	"github.com/podfwd/podfwd/internal/topo"
)

// stage is one mode brought up on one topology, ready to be measured:
// traffic goes from pod 1 of node 1 to pod 1 of node 2.
type stage struct {
	tp       *topo.Topology
	a, b     *topo.Pod
	daemons  *daemons // nil for a kernel mode
	pids     []int    // the podfwd daemons; none for a kernel mode
	softirqd []int    // the ksoftirqd threads
	addIRQ   bool     // count the machine's irq+softirq time as the test's own
	podMTU   int
	proc     fs.FS // /proc, to watch the other processes
	self     int   // the harness's pid
}

// measure runs one test once for d and returns what it measured,
// with the CPU the machine and the daemons spent meanwhile.
func (s *stage) measure(ctx context.Context, test string, d time.Duration) (sample, error) {
	var out sample
	cpu := startCPU(s.pids, s.softirqd, s.addIRQ)
	segment := float64(s.podMTU - 40) // a TCP segment's payload at the pod MTU
	switch test {
	case TestTCP1, TestTCP4:
		streams := 1
		if test == TestTCP4 {
			streams = 4
		}
		r, err := iperfTCP(ctx, s.a, s.b, d, streams)
		if err != nil {
			return out, err
		}
		out.gbps, out.retransmits = r.gbps, float64(r.retransmits)
		out.bits, out.pkts = r.bytes*8, r.bytes/segment
	case TestUDP64:
		u, err := udpFlood(s.a, s.b, d)
		if err != nil {
			return out, err
		}
		out.pps, out.loss = u.pps(), u.loss()
		out.pkts, out.bits = float64(u.received), float64(u.received)*udpPayload*8
		out.gbps = out.pps * udpPayload * 8 / 1e9
		out.machineCPU, out.ownCPU, out.daemonCPU = cpu.since()
		// The cross-check runs after the CPU window: its cost is iperf3's.
		ir, err := iperfUDP64(ctx, s.a, s.b, d)
		if err != nil {
			return out, fmt.Errorf("iperf3 -u cross-check: %w", err)
		}
		out.iperfPPS, out.iperfLoss = ir.pps, ir.loss
		return out, nil
	case TestRR:
		r, err := pingPong(s.a, s.b, d)
		if err != nil {
			return out, err
		}
		us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
		out.p50, out.p99, out.p999 = us(r.p50), us(r.p99), us(r.p999)
		out.pkts = 2 * float64(r.trips)
		out.bits = out.pkts * rrMessage * 8
		out.pps = out.pkts / r.seconds
	default:
		return out, fmt.Errorf("%w: unknown test %q", ErrOption, test)
	}
	out.machineCPU, out.ownCPU, out.daemonCPU = cpu.since()
	return out, nil
}
