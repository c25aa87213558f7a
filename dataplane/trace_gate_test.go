package dataplane

import (
	"encoding/binary"
	"slices"
	"testing"
	"time"

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
		{"all", GateAll(), true},
		{"never", NewTraceGate(nil), false},
		{"other-host", NewTraceGate([]GateTest{{Version: 4, Field: GateDst, Lo: uint64(dst + 1), MaskLo: 0xffffffff}}), false},
		{"this-host", NewTraceGate([]GateTest{{Version: 4, Field: GateDst, Lo: uint64(dst), MaskLo: 0xffffffff}}), true},
		{"other-port", NewTraceGate([]GateTest{{Version: 4, Field: GateDstPort, Lo: 5200}}), false},
		{"this-port", NewTraceGate([]GateTest{{Version: 4, Field: GateDstPort, Lo: 5201}}), true},
		{"ip6", NewTraceGate([]GateTest{{Version: 6, Field: GateVersion}}), false},
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

// BenchmarkEgressTraceHook is what the trace hook adds to the egress loop
// per packet (64-byte UDP, full batches, loop driven directly) with a
// tracer whose gate refuses the packets (the gates trace makes of "host
// 192.0.2.99" and of "host 192.0.2.99 or (net 10.250.0.0/16 and tcp port
// 443)"), and with one that has no gate and whose Match returns false at
// once (the floor of an ungated hook: the call through the interface).
// The variants take turns batch by batch and each reports the median
// time of its batches, so that a shared machine's slow and fast moments
// fall on all of them alike; "+%" is the overhead over no tracer.
func BenchmarkEgressTraceHook(b *testing.B) {
	host := GateTest{Version: 4, Field: GateSrc, Lo: 0xc0000263, MaskLo: 0xffffffff}
	net := GateTest{Version: 4, Field: GateSrc, Lo: 0x0afa0000, MaskLo: 0xffff0000}
	hostDst, netDst := host, net
	hostDst.Field, netDst.Field = GateDst, GateDst
	variants := []struct {
		name string
		tr   Tracer
		eg   *egressLoop
		ns   []int64
	}{
		{name: "no-tracer"},
		{name: "gate-host", tr: &gatedTracer{gate: NewTraceGate([]GateTest{host, hostDst})}},
		{name: "gate-5-primitives", tr: &gatedTracer{gate: NewTraceGate([]GateTest{host, hostDst, net, netDst})}},
		{name: "no-gate-match-false", tr: &gatedTracer{gate: GateAll()}},
		{name: "no-tracer-again"},
	}
	pkt := udpPacket(b, localPod, remotePod, 64, false, 64-28)
	for i := range variants {
		v := &variants[i]
		e, _, ul := newTestEngine(b, encap.KindVXLAN)
		ul.Discard = true
		if v.tr != nil {
			e.SetTracer(v.tr)
		}
		v.eg = newEgressLoop(e, e.opts.Pod)
	}
	n := len(variants[0].eg.batch)
	for b.Loop() {
		for i := range variants {
			v := &variants[i]
			t0 := time.Now()
			forwardCopies(v.eg, pkt, n)
			v.ns = append(v.ns, time.Since(t0).Nanoseconds())
		}
	}
	var base float64
	for i := range variants {
		v := &variants[i]
		slices.Sort(v.ns)
		med := float64(v.ns[len(v.ns)/2]) / float64(n)
		if i == 0 {
			base = med
		}
		b.ReportMetric(med, v.name+"-ns/pkt")
		if i > 0 {
			b.ReportMetric(100*(med-base)/base, v.name+"-+%")
		}
	}
}
