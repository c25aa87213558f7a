package dataplane

import (
	"encoding/binary"
	"testing"

	"github.com/podfwd/podfwd/encap"
)

// gatedTracer matches nothing and counts the packets it was asked about.
type gatedTracer struct {
	gate  TraceGate
	asked int
}

func (g *gatedTracer) Match(Direction, []byte) bool { g.asked++; return false }
func (g *gatedTracer) Record(*TraceEvent)           {}
func (g *gatedTracer) EgressGate() TraceGate        { return g.gate }

// forwardCopies runs one batch of n copies of pkt through the egress loop.
func forwardCopies(eg *egressLoop, pkt []byte, n int) {
	for _, p := range eg.batch[:n] {
		p.Reset(Headroom)
		p.SetLen(copy(p.Buf[p.Start:], pkt))
	}
	eg.forward(eg.batch[:n])
}

// The egress loop asks the tracer only about packets its gate passes, and
// not at all when the gate passes none; the gate costs no allocation.
func TestEgressGateSpareMatch(t *testing.T) {
	pkt := udpPacket(t, localPod, remotePod, 64, false, 1000)
	dst := binary.BigEndian.Uint32(pkt[16:])
	for _, tc := range []struct {
		name  string
		gate  TraceGate
		asked bool
	}{
		{"all", TraceGate{All: true}, true},
		{"never", TraceGate{}, false},
		{"other-host", TraceGate{Tests: []GateTest{{Version: 4, Field: GateDst, Lo: uint64(dst + 1), MaskLo: 0xffffffff}}}, false},
		{"this-host", TraceGate{Tests: []GateTest{{Version: 4, Field: GateDst, Lo: uint64(dst), MaskLo: 0xffffffff}}}, true},
		{"other-port", TraceGate{Tests: []GateTest{{Version: 4, Field: GateDstPort, Lo: 5200, MaskLo: 0xffff}}}, false},
		{"this-port", TraceGate{Tests: []GateTest{{Version: 4, Field: GateDstPort, Lo: 5201, MaskLo: 0xffff}}}, true},
		{"ip6", TraceGate{Tests: []GateTest{{Version: 6, Field: GateVersion}}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, _, ul := newTestEngine(t, encap.KindVXLAN)
			ul.Discard = true
			tr := &gatedTracer{gate: tc.gate}
			e.SetTracer(tr)
			eg := newEgressLoop(e, e.opts.Pod)
			n := len(eg.batch)
			allocs := testing.AllocsPerRun(20, func() { forwardCopies(eg, pkt, n) })
			if allocs != 0 {
				t.Errorf("%.1f allocations per batch, want 0", allocs)
			}
			if (tr.asked > 0) != tc.asked {
				t.Errorf("Match asked about %d packets, want asked: %v", tr.asked, tc.asked)
			}
			if e.Counters.Egress.Tunnel.Load() == 0 {
				t.Fatal("nothing was encapsulated")
			}
		})
	}
}
