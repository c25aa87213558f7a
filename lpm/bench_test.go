package lpm

import (
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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
				for i := 0; i < b.N; i++ {
					v, l, _ := view.Lookup(p[idx])
					acc += v + uint32(l)
					if dep {
						idx = (idx + 1 + int(v&depMask)) & (probeCount - 1)
					} else {
						idx = (idx + 1) & (probeCount - 1)
					}
				}
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
					for i := 0; i < b.N; i += 64 {
						off := i & (probeCount - 1)
						view.LookupBatch(s.p4[off:off+64], out)
						acc += out[0].Value
					}
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
	for i := 0; i < b.N; i++ {
		v, l, _ := lookup(p[idx])
		acc += v + uint32(l)
		if dep {
			idx = (idx + 1 + int(v&depMask)) & (probeCount - 1)
		} else {
			idx = (idx + 1) & (probeCount - 1)
		}
	}
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
			for i := 0; i < b.N; i++ {
				v, l, _ := view.Lookup2(p[idx][0], p[idx][1])
				acc += v + uint32(l)
				if dep {
					idx = (idx + 1 + int(v&depMask)) & (probeCount - 1)
				} else {
					idx = (idx + 1) & (probeCount - 1)
				}
			}
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
			s := getSet(b, c.v6, c.n)
			mem := 0
			if c.v6 {
				mem = s.t6.MemoryBytes()
			} else {
				mem = s.t4.MemoryBytes()
			}
			for i := 0; i < b.N; i++ {
				_ = i
			}
			n := float64(c.n)
			b.ReportMetric(float64(mem)/n, "lpm-B/prefix")
			b.ReportMetric(float64(s.heapLPM)/n, "lpm-heap-B/prefix")
			b.ReportMetric(float64(s.heapFast)/n, "bart-fast-heap-B/prefix")
			b.ReportMetric(float64(s.heapTable)/n, "bart-table-heap-B/prefix")
		})
	}
}

// churnPrefixes returns n IPv4 prefixes disjoint from nothing in particular
// (BGP-shaped, another seed) for insert/delete rates.
func churnPrefixes(n int) []netip.Prefix {
	ps, _ := genBGP4(n, 99)
	return ps
}

// BenchmarkUpdate4 measures route changes per second on the ~1M-route table,
// in batches of 1000: half the batches insert 1000 new routes, the other half
// delete them again, so the table stays the same size. ns/op is per route.
func BenchmarkUpdate4(b *testing.B) {
	const batchSize = 1000
	churn := churnPrefixes(64 * batchSize)
	b.Run("impl=lpm/batch=1000", func(b *testing.B) {
		s := getSet(b, false, 1_000_000)
		var batch Batch
		done := 0
		b.ResetTimer()
		for done < b.N {
			k := (done / batchSize) % (2 * len(churn) / batchSize)
			insert := k < len(churn)/batchSize
			off := (k % (len(churn) / batchSize)) * batchSize
			batch.Reset()
			for _, p := range churn[off : off+batchSize] {
				if insert {
					batch.Insert(p, 1)
				} else {
					batch.Delete(p)
				}
			}
			if err := s.t4.Apply(&batch); err != nil {
				b.Fatal(err)
			}
			done += batchSize
		}
		b.StopTimer()
		restore4(b, s, churn)
		b.ReportMetric(float64(done)/b.Elapsed().Seconds(), "routes/s")
	})
	b.Run("impl=bart-fast/in-place", func(b *testing.B) {
		s := getSet(b, false, 1_000_000)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			k := i % (2 * len(churn))
			if k < len(churn) {
				s.fast.Insert(churn[k], 1)
			} else {
				s.fast.Delete(churn[k-len(churn)])
			}
		}
		b.StopTimer()
		for _, p := range churn {
			s.fast.Delete(p)
		}
		for i, p := range s.ps {
			s.fast.Insert(p, s.vs[i])
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "routes/s")
	})
}

// restore4 undoes the churn so later benchmarks see the original table.
func restore4(b *testing.B, s *benchSet, churn []netip.Prefix) {
	var batch Batch
	for _, p := range churn {
		batch.Delete(p)
	}
	for i, p := range s.ps {
		batch.Insert(p, s.vs[i])
	}
	if err := s.t4.Apply(&batch); err != nil {
		b.Fatal(err)
	}
}

// visibleMarker is a host route each BenchmarkBatchVisible4 batch ends with;
// a /32 is never shadowed, so a reader sees exactly when the batch landed.
var visibleMarker = netip.MustParsePrefix("203.0.113.77/32")

// BenchmarkBatchVisible4 measures, on the ~1M-route table, the time from
// starting Apply of a 1000-route batch (999 churn routes, inserted or
// deleted, plus the marker with a new value) to a reader on another
// goroutine seeing the marker's new value. ns/op is per batch.
func BenchmarkBatchVisible4(b *testing.B) {
	s := getSet(b, false, 1_000_000)
	churn := churnPrefixes(8 * 999)
	var batch Batch
	var worst time.Duration
	probe := as4(visibleMarker.Addr())
	for i := 0; i < b.N; i++ {
		k := i % 16
		part := churn[(k%8)*999 : (k%8+1)*999]
		batch.Reset()
		for _, p := range part {
			if k < 8 {
				batch.Insert(p, uint32(i+1))
			} else {
				batch.Delete(p)
			}
		}
		want := uint32(i + 1)
		batch.Insert(visibleMarker, want)
		var wg sync.WaitGroup
		wg.Go(func() {
			for {
				if v, l, ok := s.t4.Lookup(probe); ok && l == 32 && v == want {
					return
				}
				runtime.Gosched() // share the two cores with the writer
			}
		})
		start := time.Now()
		if err := s.t4.Apply(&batch); err != nil {
			b.Fatal(err)
		}
		wg.Wait()
		if d := time.Since(start); d > worst {
			worst = d
		}
	}
	b.StopTimer()
	batch.Reset()
	batch.Delete(visibleMarker)
	if err := s.t4.Apply(&batch); err != nil {
		b.Fatal(err)
	}
	restore4(b, s, churn)
	b.ReportMetric(float64(worst.Microseconds())/1000, "worst-ms")
}

// as4 is the hot-path form of an IPv4 address.
func as4(a netip.Addr) uint32 {
	x := a.As4()
	return uint32(x[0])<<24 | uint32(x[1])<<16 | uint32(x[2])<<8 | uint32(x[3])
}

// BenchmarkLookupDuringUpdates4 measures independent lookups on the ~1M
// table while another goroutine applies 1000-route batches back to back
// (compare with BenchmarkLookup4/size=1M/probe=indep/impl=lpm).
func BenchmarkLookupDuringUpdates4(b *testing.B) {
	s := getSet(b, false, 1_000_000)
	churn := churnPrefixes(16 * 1000)
	var stop atomic.Bool
	var batches atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		var batch Batch
		for k := 0; !stop.Load(); k++ {
			part := churn[(k%16)*1000 : (k%16+1)*1000]
			batch.Reset()
			for _, p := range part {
				if (k/16)%2 == 0 {
					batch.Insert(p, 1)
				} else {
					batch.Delete(p)
				}
			}
			if err := s.t4.Apply(&batch); err != nil {
				panic(err)
			}
			batches.Add(1)
		}
	})
	p := s.p4
	var acc uint32
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v, _, _ := s.t4.Lookup(p[i&(probeCount-1)])
		acc += v
	}
	b.StopTimer()
	stop.Store(true)
	wg.Wait()
	sinkV = acc
	restore4(b, s, churn)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mlookups/s")
	b.ReportMetric(float64(batches.Load()), "batches-applied")
}
