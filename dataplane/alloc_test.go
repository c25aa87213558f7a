package dataplane

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/podfwd/podfwd/encap"
)

// The hot path must not allocate: a batch forwarded in either direction
// costs zero allocations once the loop exists.
func TestForwardingAllocatesNothing(t *testing.T) {
	for _, kind := range []encap.Kind{encap.KindVXLAN, encap.KindGeneve, encap.KindIPIP} {
		t.Run(kind.String(), func(t *testing.T) {
			e, _, ul := newTestEngine(t, kind)
			checkEgressAllocatesNothing(t, e, ul, udpPacket(t, localPod, remotePod, 64, false, 1000))
		})
	}
	t.Run("ingress-vxlan", func(t *testing.T) {
		e, pod, _ := newTestEngine(t, encap.KindVXLAN)
		pod.Discard = true
		cfg := testConfig(encap.KindVXLAN)
		payload := tunnelPayload(t, cfg, cfg.Peers[0], udpPacket(t, remotePod, localPod, 64, false, 1000), 42)
		in := newIngressLoop(e, e.opts.Underlay)
		from := netip.AddrPortFrom(peerUnderlay, 4789)
		allocs := testing.AllocsPerRun(50, func() {
			for _, p := range in.batch {
				p.Reset(Headroom)
				p.SetLen(copy(p.Buf[p.Start:], payload))
				p.Addr = from
			}
			in.forward(in.batch)
		})
		if allocs != 0 {
			t.Errorf("ingress: %.1f allocations per batch, want 0", allocs)
		}
		if e.Counters.Ingress.Tunnel.Load() == 0 {
			t.Fatal("nothing was decapsulated")
		}
	})
}

// checkEgressAllocatesNothing forwards full batches of pkt through an
// egress loop of e, whose underlay is ul, and fails on any allocation.
func checkEgressAllocatesNothing(t *testing.T, e *Engine, ul *MemPort, pkt []byte) {
	t.Helper()
	ul.Discard = true
	if allocs := egressAllocs(e, pkt); allocs != 0 {
		t.Errorf("egress: %.1f allocations per batch, want 0", allocs)
	}
	if e.Counters.Egress.Tunnel.Load() == 0 {
		t.Fatal("nothing was encapsulated: the measurement measured nothing")
	}
}

// egressAllocs forwards full batches of pkt through an egress loop of e
// and returns the allocations per batch.
func egressAllocs(e *Engine, pkt []byte) float64 {
	eg := newEgressLoop(e, e.opts.Pod)
	return testing.AllocsPerRun(50, func() {
		for _, p := range eg.batch {
			p.Reset(Headroom)
			p.SetLen(copy(p.Buf[p.Start:], pkt))
		}
		eg.forward(eg.batch)
	})
}

// Readers must see either the old config or the new one while configs are
// swapped under them (run with -race).
func TestConcurrentConfigSwap(t *testing.T) {
	e, _, ul := newTestEngine(t, encap.KindVXLAN)
	ul.Discard = true
	pkt := udpPacket(t, localPod, remotePod, 64, false, 100)
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for gen := uint64(8); !stop.Load(); gen++ {
			cfg := testConfig(encap.KindVXLAN)
			cfg.Generation = gen
			if gen%2 == 0 {
				cfg.Peers[0].PodCIDRs = cfg.Peers[0].PodCIDRs[:1]
			}
			if err := e.SetConfig(cfg); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	eg := newEgressLoop(e, e.opts.Pod)
	for i := 0; i < 2000; i++ {
		p := eg.batch[0]
		p.Reset(Headroom)
		p.SetLen(copy(p.Buf[p.Start:], pkt))
		eg.forward(eg.batch[:1])
	}
	stop.Store(true)
	wg.Wait()
	if got := e.Counters.Egress.Tunnel.Load(); got != 2000 {
		t.Fatalf("encapsulated %d of 2000 packets during config swaps; every config routes them", got)
	}
}

func BenchmarkEgressVXLAN(b *testing.B) {
	for _, size := range []int{64, 1400} {
		b.Run(byteSize(size), func(b *testing.B) {
			e, _, ul := newTestEngine(b, encap.KindVXLAN)
			ul.Discard = true
			eg := newEgressLoop(e, e.opts.Pod)
			pkt := udpPacket(b, localPod, remotePod, 64, false, size-28)
			n := len(eg.batch)
			b.SetBytes(int64(len(pkt) * n))
			b.ReportAllocs()
			for b.Loop() {
				for _, p := range eg.batch {
					p.Reset(Headroom)
					p.SetLen(copy(p.Buf[p.Start:], pkt))
				}
				eg.forward(eg.batch[:n])
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/pkt")
		})
	}
}

func BenchmarkIngressVXLAN(b *testing.B) {
	for _, size := range []int{64, 1400} {
		b.Run(byteSize(size), func(b *testing.B) {
			e, pod, _ := newTestEngine(b, encap.KindVXLAN)
			pod.Discard = true
			cfg := testConfig(encap.KindVXLAN)
			payload := tunnelPayload(b, cfg, cfg.Peers[0], udpPacket(b, remotePod, localPod, 64, false, size-28), 42)
			in := newIngressLoop(e, e.opts.Underlay)
			from := netip.AddrPortFrom(peerUnderlay, 4789)
			n := len(in.batch)
			b.SetBytes(int64(len(payload) * n))
			b.ReportAllocs()
			for b.Loop() {
				for _, p := range in.batch {
					p.Reset(Headroom)
					p.SetLen(copy(p.Buf[p.Start:], payload))
					p.Addr = from
				}
				in.forward(in.batch)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/pkt")
		})
	}
}

func byteSize(n int) string {
	return map[int]string{64: "64B", 512: "512B", 1400: "1400B"}[n]
}
