package xdp

import (
	"testing"
)

func TestRecycleRingOrderAndBounds(t *testing.T) {
	r := newRecycleRing(5) // rounds up to 8
	if got := r.push([]uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}); got != 8 {
		t.Fatalf("push into 8 slots took %d", got)
	}
	dst := make([]uint64, 3)
	if n := r.pop(dst); n != 3 || dst[0] != 1 || dst[2] != 3 {
		t.Fatalf("pop: %d %v", n, dst)
	}
	if got := r.push([]uint64{11, 12, 13, 14}); got != 3 {
		t.Fatalf("push after pop took %d, want 3", got)
	}
	all := make([]uint64, 16)
	n := r.pop(all)
	want := []uint64{4, 5, 6, 7, 8, 11, 12, 13}
	if n != len(want) {
		t.Fatalf("pop all: %d, want %d", n, len(want))
	}
	for i := range want {
		if all[i] != want[i] {
			t.Fatalf("pop all: %v, want %v", all[:n], want)
		}
	}
	if r.len() != 0 || r.pop(all) != 0 {
		t.Fatal("ring not empty after popping everything")
	}
}

// TestConcurrentRecycleRing moves a sequence through the ring between two
// goroutines; run it under -race.
func TestConcurrentRecycleRing(t *testing.T) {
	const total = 20000
	r := newRecycleRing(64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		batch := make([]uint64, 0, 7)
		next := uint64(0)
		for next < total {
			batch = batch[:0]
			for i := 0; i < 7 && next+uint64(i) < total; i++ {
				batch = append(batch, next+uint64(i))
			}
			next += uint64(r.push(batch))
		}
	}()
	dst := make([]uint64, 5)
	want := uint64(0)
	for want < total {
		n := r.pop(dst)
		for _, v := range dst[:n] {
			if v != want {
				t.Fatalf("popped %d, want %d", v, want)
			}
			want++
		}
	}
	<-done
}
