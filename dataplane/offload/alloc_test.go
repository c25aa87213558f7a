package offload

import "testing"

func TestZeroAllocs(t *testing.T) {
	spec := baseSpec(false)
	spec.payload = payloadBytes(65535-40, 1)
	pkt, hdr := superPacket(t, spec, 1448)
	outs, sizes := segBufs(64, 1600)
	if a := testing.AllocsPerRun(20, func() {
		if _, err := Segment(pkt, &hdr, outs, 64, sizes); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Errorf("Segment: %v allocs/op", a)
	}
	one := outs[0][:1500]
	csumHdr := VirtioNetHdr{Flags: FlagNeedsCsum, CsumStart: 20, CsumOffset: 16}
	if a := testing.AllocsPerRun(20, func() {
		if err := CompleteChecksum(one, &csumHdr); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Errorf("CompleteChecksum: %v allocs/op", a)
	}
	segs := flow(t, baseSpec(false), 44, 1448, 0)
	c := NewCoalescer(64)
	mout := outBufs(2)
	if a := testing.AllocsPerRun(20, func() {
		if res, err := c.Coalesce(segs, mout); err != nil || len(res) != 1 {
			t.Fatalf("res %v err %v", len(res), err)
		}
	}); a != 0 {
		t.Errorf("Coalesce: %v allocs/op", a)
	}
}
