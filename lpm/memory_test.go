package lpm

import (
	"net/netip"
	"runtime"
	"testing"
)

const mib = 1 << 20

func TestMemorySmall(t *testing.T) {
	t4, t6 := NewTable4(), NewTable6()
	ps, vs := genBGP4(10, 5)
	ps6, vs6 := genBGP6(10, 5)
	for i := range ps {
		if err := t4.Insert(ps[i], vs[i]); err != nil {
			t.Fatal(err)
		}
		if err := t6.Insert(ps6[i], vs6[i]); err != nil {
			t.Fatal(err)
		}
	}
	// The root adapts to the few slots in use: anything near the 512 KiB
	// of a full root means it stopped adapting.
	for name, got := range map[string]int{"v4": t4.MemoryBytes(), "v6": t6.MemoryBytes()} {
		t.Logf("%s: 10 routes: %d bytes", name, got)
		if got > 4*1024 {
			t.Errorf("%s: 10 routes cost %d bytes, want <= 4 KiB", name, got)
		}
	}
}

// TestMemoryPod bounds the published bytes per prefix of pod-CIDR tables
// (bart v0.30.0 holds them in 24-48 bytes per prefix).
func TestMemoryPod(t *testing.T) {
	for _, n := range podSizes {
		for _, v6 := range []bool{false, true} {
			pt := genPod4(n, 5)
			var tb interface {
				Apply(*Batch) error
				MemoryBytes() int
			} = NewTable4()
			if v6 {
				pt, tb = genPod6(n, 5), NewTable6()
			}
			var b Batch
			for i, p := range pt.ps {
				b.Insert(p, pt.vs[i])
			}
			if err := tb.Apply(&b); err != nil {
				t.Fatal(err)
			}
			per := float64(tb.MemoryBytes()) / float64(len(pt.ps))
			t.Logf("v6=%v nodes=%d: %.1f B/prefix", v6, n, per)
			if per > 36 {
				t.Errorf("v6=%v nodes=%d: %.1f B/prefix, want <= 36", v6, n, per)
			}
		}
	}
}

func TestMemory10k(t *testing.T) {
	t4 := NewTable4()
	ps, vs := genBGP4(10_000, 5)
	var b Batch
	for i := range ps {
		b.Insert(ps[i], vs[i])
	}
	if err := t4.Apply(&b); err != nil {
		t.Fatal(err)
	}
	got := t4.MemoryBytes()
	t.Logf("v4: 10k BGP-shaped routes: %d bytes (%.1f B/route), writer index ~%d bytes", got, float64(got)/1e4, t4.IndexBytes())
	if got > mib {
		t.Errorf("v4: 10k routes cost %d bytes, want <= 1 MiB", got)
	}
	t6 := NewTable6()
	ps6, vs6 := genBGP6(10_000, 5)
	b.Reset()
	for i := range ps6 {
		b.Insert(ps6[i], vs6[i])
	}
	if err := t6.Apply(&b); err != nil {
		t.Fatal(err)
	}
	got6 := t6.MemoryBytes()
	t.Logf("v6: 10k routes: %d bytes (%.1f B/route)", got6, float64(got6)/1e4)
	if got6 > 2*mib {
		t.Errorf("v6: 10k routes cost %d bytes, want <= 2 MiB", got6)
	}
}

// TestMemoryBytesMatchesHeap cross-checks MemoryBytes against the heap the
// published lookup structure really occupies.
func TestMemoryBytesMatchesHeap(t *testing.T) {
	ps, vs := genBGP4(50_000, 8)
	var b Batch
	for i := range ps {
		b.Insert(ps[i], vs[i])
	}
	tb := NewTable4()
	if err := tb.Apply(&b); err != nil {
		t.Fatal(err)
	}
	// Measure the view alone: drop the writer's index by keeping only a View.
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	view := buildView4(ps, vs)
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := int(after.HeapAlloc) - int(before.HeapAlloc)
	runtime.KeepAlive(view)
	runtime.KeepAlive(ps) // else ps and vs die during the build and hide its cost
	runtime.KeepAlive(vs)
	got := tb.MemoryBytes()
	t.Logf("MemoryBytes %d, heap of a lone view %d", got, heap)
	if heap < got*9/10 || heap > got*11/10 {
		t.Errorf("MemoryBytes %d is more than 10%% off the measured heap %d", got, heap)
	}
}

func buildView4(ps []netip.Prefix, vs []uint32) View4 {
	tb := NewTable4()
	var b Batch
	for i := range ps {
		b.Insert(ps[i], vs[i])
	}
	if err := tb.Apply(&b); err != nil {
		panic(err)
	}
	return tb.View()
}
