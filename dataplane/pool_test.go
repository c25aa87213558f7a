package dataplane

import "testing"

func TestPoolIsBounded(t *testing.T) {
	p := NewPool(3, Headroom+100)
	var got []*Packet
	for i := 0; i < 3; i++ {
		pkt := p.Get()
		if pkt == nil || pkt.Start != Headroom || pkt.Len() != 0 || len(pkt.Buf) != Headroom+100 {
			t.Fatalf("Get %d: %+v", i, pkt)
		}
		got = append(got, pkt)
	}
	if p.Get() != nil {
		t.Fatal("an exhausted pool returned a packet instead of nil")
	}
	got[0].SetLen(10)
	p.Put(got[0])
	if again := p.Get(); again != got[0] || again.Len() != 0 {
		t.Fatal("a returned packet is not reused empty")
	}
	for _, pkt := range got {
		p.Put(pkt)
	}
	p.Put(got[0]) // one Put too many must not grow the pool
	if p.Available() != 3 {
		t.Fatalf("available %d, want the pool's 3", p.Available())
	}
	if n := testing.AllocsPerRun(100, func() { p.Put(p.Get()) }); n != 0 {
		t.Fatalf("Get/Put allocate %.1f times", n)
	}
}
