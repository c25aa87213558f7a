package lpm

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"github.com/gaissmai/bart"
)

// benchSet is one generated table built into every implementation, plus the
// probe addresses, built once per process.
type benchSet struct {
	ps    []netip.Prefix
	vs    []uint32
	t4    *Table4
	t6    *Table6
	fast  *bart.Fast[uint32]
	table *bart.Table[uint32]
	// bytes measured as live heap growth while building each implementation
	heapLPM, heapFast, heapTable int
	// probes: uint32 (IPv4) or hi/lo halves (IPv6), and the netip forms
	p4     []uint32
	p6     [][2]uint64
	paddrs []netip.Addr
}

const probeCount = 1 << 20 // >= 1M random addresses, a power of two for masking

var (
	benchSetsMu sync.Mutex
	benchSets   = map[string]*benchSet{}
)

// liveHeap returns the live heap after a full collection.
func liveHeap() int {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return int(m.HeapAlloc)
}

// getSet builds (once) the BGP-shaped set named by family and size.
func getSet(b *testing.B, v6 bool, n int) *benchSet {
	b.Helper()
	key := "v4"
	if v6 {
		key = "v6"
	}
	return cachedSet(b, key+"/"+itoa(n), v6, func() ([]netip.Prefix, []uint32, func(*rand.Rand, int) netip.Addr) {
		var ps []netip.Prefix
		var vs []uint32
		if v6 {
			ps, vs = genBGP6(n, 42)
		} else {
			ps, vs = genBGP4(n, 42)
		}
		probe := func(r *rand.Rand, i int) netip.Addr {
			if !v6 {
				return randAddr4(r)
			}
			// Half the probes inside a random route (so they walk deep),
			// half uniform over 2000::/3.
			a := randAddr6(r)
			if i%2 == 0 {
				a = randInside(r, ps[r.IntN(len(ps))])
			}
			return a
		}
		return ps, vs, probe
	})
}

// getPodSet builds (once) the pod-CIDR set for n nodes (see genPod4).
func getPodSet(b *testing.B, v6 bool, n int) *benchSet {
	b.Helper()
	key := "pod4"
	if v6 {
		key = "pod6"
	}
	return cachedSet(b, key+"/"+itoa(n), v6, func() ([]netip.Prefix, []uint32, func(*rand.Rand, int) netip.Addr) {
		var t podTable
		if v6 {
			t = genPod6(n, 42)
		} else {
			t = genPod4(n, 42)
		}
		return t.ps, t.vs, func(r *rand.Rand, _ int) netip.Addr { return podProbe(r, t, v6) }
	})
}

// cachedSet returns the set stored under key, building it from gen's routes
// and probes the first time.
func cachedSet(b *testing.B, key string, v6 bool, gen func() ([]netip.Prefix, []uint32, func(*rand.Rand, int) netip.Addr)) *benchSet {
	b.Helper()
	benchSetsMu.Lock()
	defer benchSetsMu.Unlock()
	if s := benchSets[key]; s != nil {
		return s
	}
	s := &benchSet{}
	var probe func(*rand.Rand, int) netip.Addr
	s.ps, s.vs, probe = gen()
	base := liveHeap()
	var batch Batch
	for i, p := range s.ps {
		batch.Insert(p, s.vs[i])
	}
	if v6 {
		s.t6 = NewTable6()
		if err := s.t6.Apply(&batch); err != nil {
			b.Fatal(err)
		}
	} else {
		s.t4 = NewTable4()
		if err := s.t4.Apply(&batch); err != nil {
			b.Fatal(err)
		}
	}
	batch = Batch{}
	h := liveHeap()
	s.heapLPM, base = h-base, h
	s.fast = new(bart.Fast[uint32])
	for i, p := range s.ps {
		s.fast.Insert(p, s.vs[i])
	}
	h = liveHeap()
	s.heapFast, base = h-base, h
	s.table = new(bart.Table[uint32])
	for i, p := range s.ps {
		s.table.Insert(p, s.vs[i])
	}
	s.heapTable = liveHeap() - base

	r := rand.New(rand.NewPCG(7, uint64(len(s.ps))))
	s.paddrs = make([]netip.Addr, probeCount)
	if v6 {
		s.p6 = make([][2]uint64, probeCount)
	} else {
		s.p4 = make([]uint32, probeCount)
	}
	for i := range s.paddrs {
		a := probe(r, i)
		s.paddrs[i] = a
		if v6 {
			bs := a.As16()
			s.p6[i] = [2]uint64{binary.BigEndian.Uint64(bs[:8]), binary.BigEndian.Uint64(bs[8:])}
		} else {
			bs := a.As4()
			s.p4[i] = binary.BigEndian.Uint32(bs[:])
		}
	}
	benchSets[key] = s
	return s
}

// randInside returns a random address inside p.
func randInside(r *rand.Rand, p netip.Prefix) netip.Addr {
	bs := p.Addr().AsSlice()
	for i := p.Bits(); i < len(bs)*8; i++ {
		if r.IntN(2) == 1 {
			bs[i/8] |= 0x80 >> (i % 8)
		}
	}
	a, _ := netip.AddrFromSlice(bs)
	return a
}

func itoa(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return strconv.Itoa(n/1_000_000) + "M"
	case n >= 1000 && n%1000 == 0:
		return strconv.Itoa(n/1000) + "k"
	}
	return strconv.Itoa(n)
}
