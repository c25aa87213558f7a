package trace

import (
	"context"
	"log/slog"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/encap"
)

// benchEgress forwards b.N packets pod -> underlay through a running
// Engine over in-memory ports (replayed 64-byte UDP packets, writes
// discarded) with tracer installed (nil: none), and reports ns/pkt.
func benchEgress(b *testing.B, tracer dataplane.Tracer, size int) {
	cfg := testConfig(encap.KindVXLAN)
	pod, ul := dataplane.NewMemPort("pod0", 64), dataplane.NewMemPort("ul0", 64)
	ul.Discard = true
	e, err := dataplane.New(dataplane.Options{Pod: pod, Underlay: ul, UDPGSO: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	if err := e.SetConfig(cfg); err != nil {
		b.Fatal(err)
	}
	if tracer != nil {
		e.SetTracer(tracer)
	}
	pkt := buildInner(&Spec{Src: podA, Dst: podB, Proto: 17, SrcPort: 40000, DstPort: 5201, TTL: 64, Size: size})
	pod.Replay([][]byte{pkt}, netip.AddrPort{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	b.SetBytes(int64(len(pkt)))
	b.ResetTimer()
	cpu0 := cpuTime()
	start := time.Now()
	go func() { _ = e.Run(ctx); close(done) }()
	for e.Counters.Egress.Tunnel.Load() < uint64(b.N) {
		time.Sleep(50 * time.Microsecond)
	}
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	n := e.Counters.Egress.Tunnel.Load()
	cancel()
	<-done
	b.StopTimer()
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(n), "ns/pkt")
	b.ReportMetric(float64(n)/elapsed.Seconds()/1e6, "Mpps")
	// CPU time per packet: on a shared machine wall time mostly measures
	// waiting for a core; the process's CPU time is what forwarding cost.
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/pkt")
}

func BenchmarkEngineEgress(b *testing.B) {
	host, err := ParseFilter("host 192.0.2.99")
	if err != nil {
		b.Fatal(err)
	}
	complex, err := ParseFilter("host 192.0.2.99 or (net 10.250.0.0/16 and tcp port 443)")
	if err != nil {
		b.Fatal(err)
	}
	all, _ := ParseFilter("")
	h := HintFor(testConfig(encap.KindVXLAN))
	for _, size := range []int{64, 1400} {
		b.Run(byteSize(size)+"/no-tracer", func(b *testing.B) { benchEgress(b, nil, size) })
		b.Run(byteSize(size)+"/tracer-matching-nothing-host", func(b *testing.B) {
			benchEgress(b, NewTracer(host, h, Options{}), size)
		})
		b.Run(byteSize(size)+"/tracer-matching-nothing-5-primitives", func(b *testing.B) {
			benchEgress(b, NewTracer(complex, h, Options{}), size)
		})
		// Every packet matches but nobody reads: after the ring fills,
		// each packet costs a match and a skip.
		b.Run(byteSize(size)+"/tracer-all-unread", func(b *testing.B) {
			benchEgress(b, NewTracer(all, h, Options{RingSize: 64}), size)
		})
	}
}

// BenchmarkFilterMatch is the per-packet cost of a non-matching filter.
func BenchmarkFilterMatch(b *testing.B) {
	f, _ := ParseFilter("host 192.0.2.99 or (net 10.250.0.0/16 and tcp port 443)")
	h := HintFor(testConfig(encap.KindVXLAN))
	eg := buildInner(&Spec{Src: podA, Dst: podB, Proto: 17, DstPort: 5201, TTL: 64})
	in := vxlanPayload(b, eg, 1)
	run := func(dir dataplane.Direction, pkt []byte) func(*testing.B) {
		return func(b *testing.B) {
			cpu0 := cpuTime()
			for b.Loop() {
				f.Match(&h, dir, pkt)
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		}
	}
	b.Run("egress", run(dataplane.Egress, eg))
	b.Run("ingress-vxlan", run(dataplane.Ingress, in))
}

// cpuTime is the CPU time (user + system) of the whole process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func byteSize(n int) string {
	if n == 64 {
		return "64B"
	}
	return "1400B"
}
