package lpm

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

// TestRandomSmall checks tables of a few spread-out routes, whose root keeps
// most slots with long routes outside the direct-indexed range.
func TestRandomSmall(t *testing.T) {
	for _, n := range []int{1, 10, 40, 300} {
		ps, vs := genBGP4(n, uint64(n))
		runLarge(t, NewTable4(), ps, vs, 32, randAddr4)
		ps6, vs6 := genBGP6(n, uint64(n))
		runLarge(t, NewTable6(), ps6, vs6, 128, randAddr6)
	}
}

// TestPodTables checks pod-CIDR tables against the reference with the
// benchmarks' probe mix.
func TestPodTables(t *testing.T) {
	for _, n := range podSizes {
		for _, v6 := range []bool{false, true} {
			var pt podTable
			var tb table
			bits := 32
			if v6 {
				pt, tb, bits = genPod6(n, 3), NewTable6(), 128
			} else {
				pt, tb = genPod4(n, 3), NewTable4()
			}
			runLarge(t, tb, pt.ps, pt.vs, bits, func(r *rand.Rand) netip.Addr { return podProbe(r, pt, v6) })
		}
	}
}
