package lpm

import (
	"net/netip"
	"testing"
)

var sizes4 = []int{1000, 100_000, 1_000_000}

const size6 = 200_000

var sinkV uint32

// depMask is always 0, but the compiler cannot know: "probe=dep" adds
// v&depMask to the next probe's index, so each lookup's address waits for
// the previous lookup's result while the probe array is still read in order
// (the probes' own cache misses do not drown the lookup's latency).
var depMask uint32

// BenchmarkLookup4 compares IPv4 lookups on the same tables and probes.
// probe=indep looks up consecutive probes (the CPU may overlap their cache
// misses); probe=dep makes each probe's index depend on the previous result
// (see depMask), so every lookup waits for the one before (latency).
func BenchmarkLookup4(b *testing.B) {
	for _, n := range sizes4 {
		for _, dep := range []bool{false, true} {
			mode := "indep"
			if dep {
				mode = "dep"
			}
			prefix := "size=" + itoa(n) + "/probe=" + mode
			b.Run(prefix+"/impl=lpm", func(b *testing.B) {
				s := getSet(b, false, n)
				view := s.t4.View()
				p := s.p4
				var acc uint32
				idx := 0
				b.ResetTimer()
				cpu := startCPU(b)
				for i := 0; i < b.N; i++ {
					v, l, _ := view.Lookup(p[idx])
					acc += v + uint32(l)
					if dep {
						idx = (idx + 1 + int(v&depMask)) & (probeCount - 1)
					} else {
						idx = (idx + 1) & (probeCount - 1)
					}
				}
				cpu.report(b)
				sinkV = acc
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mlookups/s")
			})
			if !dep {
				b.Run(prefix+"/impl=lpm-batch", func(b *testing.B) {
					s := getSet(b, false, n)
					view := s.t4.View()
					out := make([]Match, 64)
					var acc uint32
					b.ResetTimer()
					cpu := startCPU(b)
					for i := 0; i < b.N; i += 64 {
						off := i & (probeCount - 1)
						view.LookupBatch(s.p4[off:off+64], out)
						acc += out[0].Value
					}
					cpu.report(b)
					sinkV = acc
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mlookups/s")
				})
			}
			b.Run(prefix+"/impl=lpm-netip", func(b *testing.B) {
				s := getSet(b, false, n)
				benchNetip(b, s.paddrs, dep, s.t4.LookupAddr)
			})
			b.Run(prefix+"/impl=bart-fast", func(b *testing.B) {
				s := getSet(b, false, n)
				benchNetip(b, s.paddrs, dep, func(a netip.Addr) (uint32, uint8, bool) {
					v, ok := s.fast.Lookup(a)
					return v, 0, ok
				})
			})
			b.Run(prefix+"/impl=bart-table", func(b *testing.B) {
				s := getSet(b, false, n)
				benchNetip(b, s.paddrs, dep, func(a netip.Addr) (uint32, uint8, bool) {
					v, ok := s.table.Lookup(a)
					return v, 0, ok
				})
			})
		}
	}
}

// benchNetip drives a netip-based lookup the same way as the lpm loops.
func benchNetip(b *testing.B, p []netip.Addr, dep bool, lookup func(netip.Addr) (uint32, uint8, bool)) {
	var acc uint32
	idx := 0
	b.ResetTimer()
	cpu := startCPU(b)
	for i := 0; i < b.N; i++ {
		v, l, _ := lookup(p[idx])
		acc += v + uint32(l)
		if dep {
			idx = (idx + 1 + int(v&depMask)) & (probeCount - 1)
		} else {
			idx = (idx + 1) & (probeCount - 1)
		}
	}
	cpu.report(b)
	sinkV = acc
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mlookups/s")
}

// BenchmarkLookup6 is BenchmarkLookup4 for a ~200k-route IPv6 table (mostly
// /32../48); half the probes fall inside a random route.
func BenchmarkLookup6(b *testing.B) {
	for _, dep := range []bool{false, true} {
		mode := "indep"
		if dep {
			mode = "dep"
		}
		prefix := "size=" + itoa(size6) + "/probe=" + mode
		b.Run(prefix+"/impl=lpm", func(b *testing.B) {
			s := getSet(b, true, size6)
			view := s.t6.View()
			p := s.p6
			var acc uint32
			idx := 0
			b.ResetTimer()
			cpu := startCPU(b)
			for i := 0; i < b.N; i++ {
				v, l, _ := view.Lookup2(p[idx][0], p[idx][1])
				acc += v + uint32(l)
				if dep {
					idx = (idx + 1 + int(v&depMask)) & (probeCount - 1)
				} else {
					idx = (idx + 1) & (probeCount - 1)
				}
			}
			cpu.report(b)
			sinkV = acc
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mlookups/s")
		})
		b.Run(prefix+"/impl=lpm-netip", func(b *testing.B) {
			s := getSet(b, true, size6)
			benchNetip(b, s.paddrs, dep, s.t6.LookupAddr)
		})
		b.Run(prefix+"/impl=bart-fast", func(b *testing.B) {
			s := getSet(b, true, size6)
			benchNetip(b, s.paddrs, dep, func(a netip.Addr) (uint32, uint8, bool) {
				v, ok := s.fast.Lookup(a)
				return v, 0, ok
			})
		})
		b.Run(prefix+"/impl=bart-table", func(b *testing.B) {
			s := getSet(b, true, size6)
			benchNetip(b, s.paddrs, dep, func(a netip.Addr) (uint32, uint8, bool) {
				v, ok := s.table.Lookup(a)
				return v, 0, ok
			})
		})
	}
}

// BenchmarkMemory reports bytes per prefix: MemoryBytes for lpm (the
// published structure), and the live-heap growth while building for all
// three (lpm's includes its writer index).
func BenchmarkMemory(b *testing.B) {
	cases := []struct {
		v6 bool
		n  int
	}{{false, 1000}, {false, 100_000}, {false, 1_000_000}, {true, size6}}
	for _, c := range cases {
		fam := "v4"
		if c.v6 {
			fam = "v6"
		}
		b.Run(fam+"/size="+itoa(c.n), func(b *testing.B) {
			reportMemory(b, getSet(b, c.v6, c.n), c.v6)
		})
	}
}

// reportMemory reports a set's bytes per prefix: lpm's MemoryBytes and the
// heap growth of each implementation's build.
func reportMemory(b *testing.B, s *benchSet, v6 bool) {
	mem := 0
	if v6 {
		mem = s.t6.MemoryBytes()
	} else {
		mem = s.t4.MemoryBytes()
	}
	for i := 0; i < b.N; i++ {
		_ = i
	}
	n := float64(len(s.ps))
	b.ReportMetric(float64(mem)/n, "lpm-B/prefix")
	b.ReportMetric(float64(s.heapLPM)/n, "lpm-heap-B/prefix")
	b.ReportMetric(float64(s.heapFast)/n, "bart-fast-heap-B/prefix")
	b.ReportMetric(float64(s.heapTable)/n, "bart-table-heap-B/prefix")
}
