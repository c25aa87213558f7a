package lpm

import (
	"net/netip"
	"testing"
)

// podSizes are the node counts of the pod-CIDR benchmarks.
var podSizes = []int{100, 1000, 5000}

// BenchmarkPodLookup4 compares IPv4 lookups on pod-CIDR tables (one /24 per
// node plus a few covering routes, see genPod4); 90% of the probes fall in a
// node's /24. probe= as in BenchmarkLookup4.
func BenchmarkPodLookup4(b *testing.B) {
	for _, n := range podSizes {
		for _, dep := range []bool{false, true} {
			prefix := "nodes=" + itoa(n) + "/probe=" + probeMode(dep)
			b.Run(prefix+"/impl=lpm", func(b *testing.B) {
				s := getPodSet(b, false, n)
				view := s.t4.View()
				benchIndex(b, len(s.p4), dep, func(i int) uint32 {
					v, l, _ := view.Lookup(s.p4[i])
					return v + uint32(l)
				})
			})
			b.Run(prefix+"/impl=lpm-netip", func(b *testing.B) {
				s := getPodSet(b, false, n)
				benchNetip(b, s.paddrs, dep, s.t4.LookupAddr)
			})
			benchBart(b, prefix, func(b *testing.B) *benchSet { return getPodSet(b, false, n) }, dep)
		}
	}
}

// BenchmarkPodLookup6 is BenchmarkPodLookup4 for IPv6 (one /64 per node from
// a /48, see genPod6). impl=lpm is Lookup2(hi, lo); lpm-bytes is
// Lookup(*[16]byte); lpm-netip is LookupAddr, the input bart gets.
func BenchmarkPodLookup6(b *testing.B) {
	for _, n := range podSizes {
		for _, dep := range []bool{false, true} {
			prefix := "nodes=" + itoa(n) + "/probe=" + probeMode(dep)
			b.Run(prefix+"/impl=lpm", func(b *testing.B) {
				s := getPodSet(b, true, n)
				view := s.t6.View()
				benchIndex(b, len(s.p6), dep, func(i int) uint32 {
					v, l, _ := view.Lookup2(s.p6[i][0], s.p6[i][1])
					return v + uint32(l)
				})
			})
			b.Run(prefix+"/impl=lpm-bytes", func(b *testing.B) {
				s := getPodSet(b, true, n)
				bs := make([][16]byte, len(s.paddrs))
				for i, a := range s.paddrs {
					bs[i] = a.As16()
				}
				view := s.t6.View()
				benchIndex(b, len(bs), dep, func(i int) uint32 {
					v, l, _ := view.Lookup(&bs[i])
					return v + uint32(l)
				})
			})
			b.Run(prefix+"/impl=lpm-netip", func(b *testing.B) {
				s := getPodSet(b, true, n)
				benchNetip(b, s.paddrs, dep, s.t6.LookupAddr)
			})
			benchBart(b, prefix, func(b *testing.B) *benchSet { return getPodSet(b, true, n) }, dep)
		}
	}
}

// BenchmarkPodMemory reports bytes per prefix on the pod-CIDR tables and on a
// 10-prefix table, as BenchmarkMemory does.
func BenchmarkPodMemory(b *testing.B) {
	type tc struct {
		name string
		get  func(b *testing.B) *benchSet
		v6   bool
	}
	var cases []tc
	for _, v6 := range []bool{false, true} {
		fam := "v4"
		if v6 {
			fam = "v6"
		}
		cases = append(cases, tc{fam + "/prefixes=10", func(b *testing.B) *benchSet { return getSet(b, v6, 10) }, v6})
		for _, n := range podSizes {
			cases = append(cases, tc{fam + "/nodes=" + itoa(n), func(b *testing.B) *benchSet { return getPodSet(b, v6, n) }, v6})
		}
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			s := c.get(b)
			reportMemory(b, s, c.v6)
		})
	}
}

func probeMode(dep bool) string {
	if dep {
		return "dep"
	}
	return "indep"
}

// benchIndex runs lookup over probe indexes the way benchNetip does.
func benchIndex(b *testing.B, probes int, dep bool, lookup func(i int) uint32) {
	var acc uint32
	idx := 0
	b.ResetTimer()
	cpu := startCPU(b)
	for i := 0; i < b.N; i++ {
		v := lookup(idx)
		acc += v
		if dep {
			idx = (idx + 1 + int(v&depMask)) & (probes - 1)
		} else {
			idx = (idx + 1) & (probes - 1)
		}
	}
	cpu.report(b)
	sinkV = acc
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mlookups/s")
}

// benchBart adds the bart-fast and bart-table sub-benchmarks of a set.
func benchBart(b *testing.B, prefix string, get func(*testing.B) *benchSet, dep bool) {
	b.Run(prefix+"/impl=bart-fast", func(b *testing.B) {
		s := get(b)
		benchNetip(b, s.paddrs, dep, func(a netip.Addr) (uint32, uint8, bool) {
			v, ok := s.fast.Lookup(a)
			return v, 0, ok
		})
	})
	b.Run(prefix+"/impl=bart-table", func(b *testing.B) {
		s := get(b)
		benchNetip(b, s.paddrs, dep, func(a netip.Addr) (uint32, uint8, bool) {
			v, ok := s.table.Lookup(a)
			return v, 0, ok
		})
	})
}
