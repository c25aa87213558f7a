package lpm

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Batch g of the torn-view tests, for each of k regions i:
//   - sets the region's /16 to value g;
//   - inserts the region's /24 with value g when g is even, deletes it when
//     g is odd.
//
// So a probe inside the /24 must answer (g, /24) for even g and (g, /16) for
// odd g; a batch applied half-way shows up as a wrong length for the value's
// parity, as two probes on one View disagreeing on g, or as g going back
// between two probes made in batch order.
const tornRegions = 64

func tornBatch4(g uint32) *Batch {
	var b Batch
	for i := range tornRegions {
		region := netip.AddrFrom4([4]byte{10, byte(i), 7, 0})
		b.Insert(netip.PrefixFrom(region, 16), g)
		if g%2 == 0 {
			b.Insert(netip.PrefixFrom(region, 24), g)
		} else {
			b.Delete(netip.PrefixFrom(region, 24))
		}
	}
	return &b
}

func tornBatch6(g uint32) *Batch {
	var b Batch
	for i := range tornRegions {
		var a [16]byte
		binary.BigEndian.PutUint64(a[:], 0x2001_0db8_0000_0000|uint64(i)<<16)
		a[9] = 0x77 // the /80 sits in the second 32-bit window
		region := netip.AddrFrom16(a)
		b.Insert(netip.PrefixFrom(region, 48), g)
		if g%2 == 0 {
			b.Insert(netip.PrefixFrom(region, 80), g)
		} else {
			b.Delete(netip.PrefixFrom(region, 80))
		}
	}
	return &b
}

func probe4(i int) uint32 { return 10<<24 | uint32(i)<<16 | 7<<8 | 99 }

func probe6(i int) (hi, lo uint64) {
	return 0x2001_0db8_0000_0000 | uint64(i)<<16, 0x0077_0000_0000_0001
}

// checkGen verifies one answer against the batch design and returns its g.
func checkGen(v uint32, l uint8, ok bool, longLen, shortLen uint8) (uint32, error) {
	if !ok {
		return 0, fmt.Errorf("no match")
	}
	want := shortLen
	if v%2 == 0 {
		want = longLen
	}
	if l != want {
		return 0, fmt.Errorf("value %d with /%d, want /%d: torn batch", v, l, want)
	}
	return v, nil
}

// runTorn applies batches 1..80 while 4 readers make passes; pass returns
// the generation it saw. Every 16th batch the writer waits for a reader
// pass to end first, and the readers must have seen some generation strictly between
// the first and the last: otherwise they never overlapped a write and the
// test proved nothing.
func runTorn(t *testing.T, apply func(g uint32) error, pass func() (uint32, error)) {
	const batches = 80
	if err := apply(0); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	var passes atomic.Int64
	var seen [batches + 1]atomic.Bool
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				g, err := pass()
				if err != nil {
					errs <- err
					return
				}
				if g <= batches {
					seen[g].Store(true)
				}
				passes.Add(1)
			}
		})
	}
	for g := uint32(1); g <= batches; g++ {
		for n, deadline := passes.Load(), time.Now().Add(time.Second); g%16 == 1 && passes.Load() == n && time.Now().Before(deadline); {
			runtime.Gosched()
		}
		if err := apply(g); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	between := 0
	for g := 1; g < batches; g++ {
		if seen[g].Load() {
			between++
		}
	}
	if between == 0 {
		t.Fatalf("readers made %d passes but saw no generation between 0 and %d: they never overlapped a write", passes.Load(), batches)
	}
	t.Logf("readers made %d passes and saw %d of the %d intermediate generations", passes.Load(), between, batches-1)
}

func TestConcurrentBatchAtomic4(t *testing.T) {
	tb := NewTable4()
	runTorn(t, func(g uint32) error { return tb.Apply(tornBatch4(g)) }, func() (uint32, error) {
		// One View: every region must show the same g.
		view := tb.View()
		var first uint32
		for i := range tornRegions {
			v, l, ok := view.Lookup(probe4(i))
			g, err := checkGen(v, l, ok, 24, 16)
			if err != nil {
				return 0, err
			}
			if i == 0 {
				first = g
			} else if g != first {
				return 0, fmt.Errorf("one view shows g=%d and g=%d", first, g)
			}
		}
		// Table lookups in batch order: g never goes back.
		var last uint32
		for i := range tornRegions {
			v, l, ok := tb.Lookup(probe4(i))
			g, err := checkGen(v, l, ok, 24, 16)
			if err != nil {
				return 0, err
			}
			if g < last {
				return 0, fmt.Errorf("region %d shows g=%d after an earlier region showed %d", i, g, last)
			}
			last = g
		}
		return first, nil
	})
}

func TestConcurrentBatchAtomic6(t *testing.T) {
	tb := NewTable6()
	runTorn(t, func(g uint32) error { return tb.Apply(tornBatch6(g)) }, func() (uint32, error) {
		view := tb.View()
		var first uint32
		for i := range tornRegions {
			v, l, ok := view.Lookup2(probe6(i))
			g, err := checkGen(v, l, ok, 80, 48)
			if err != nil {
				return 0, err
			}
			if i == 0 {
				first = g
			} else if g != first {
				return 0, fmt.Errorf("one view shows g=%d and g=%d", first, g)
			}
		}
		var last uint32
		for i := range tornRegions {
			v, l, ok := tb.Lookup2(probe6(i))
			g, err := checkGen(v, l, ok, 80, 48)
			if err != nil {
				return 0, err
			}
			if g < last {
				return 0, fmt.Errorf("region %d shows g=%d after an earlier region showed %d", i, g, last)
			}
			last = g
		}
		return first, nil
	})
}

// TestConcurrentWriters checks that writers racing on one table are
// serialized: every insert from every goroutine ends up present.
func TestConcurrentWriters(t *testing.T) {
	tb := NewTable4()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 200 {
				p := netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(w), byte(i), 0, 0}), 24)
				if err := tb.Insert(p, uint32(w*1000+i)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if tb.Len() != 800 {
		t.Fatalf("Len = %d, want 800", tb.Len())
	}
	for w := range 4 {
		for i := range 200 {
			v, l, ok := tb.Lookup(uint32(w)<<24 | uint32(i)<<16 | 5)
			if !ok || l != 24 || v != uint32(w*1000+i) {
				t.Fatalf("writer %d route %d: got (%d, /%d, %v)", w, i, v, l, ok)
			}
		}
	}
}
