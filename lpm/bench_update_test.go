package lpm

import (
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// churnPrefixes returns n BGP-shaped IPv4 prefixes from another seed for the
// update benchmarks. Their short ones (/8../14) mostly coincide with the
// table's, so churn also replaces and deletes covering routes, the costly
// case for leaf-pushing.
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
