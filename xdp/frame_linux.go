package xdp

// Frame returns the bytes of d inside the UMEM, capped at the end of d's
// frame so that an append cannot spill into the next frame. It returns nil
// for a descriptor that does not lie inside one frame of this UMEM. The
// slice is valid while the caller owns the frame.
func (s *Socket) Frame(d Desc) []byte {
	if !s.validDesc(d) {
		return nil
	}
	base := d.Addr &^ (s.frameSize - 1)
	return s.umem[d.Addr : d.Addr+uint64(d.Len) : base+s.frameSize]
}

// validDesc reports whether d lies inside one frame of the UMEM, which is
// what the kernel demands of a TX descriptor in aligned mode.
func (s *Socket) validDesc(d Desc) bool {
	base := d.Addr &^ (s.frameSize - 1)
	return base < uint64(len(s.umem)) && d.Addr+uint64(d.Len) <= base+s.frameSize
}

// Headroom returns how many bytes lie in d's frame in front of d.Addr: room
// for headers prepended in place.
func (s *Socket) Headroom(d Desc) int {
	return int(d.Addr & (s.frameSize - 1))
}

// Prepend returns d grown by n bytes at its front (for headers written in
// place before the packet) and true, or d and false when the frame has less
// than n bytes of headroom.
func (s *Socket) Prepend(d Desc, n int) (Desc, bool) {
	if n < 0 || n > s.Headroom(d) {
		return d, false
	}
	return Desc{Addr: d.Addr - uint64(n), Len: d.Len + uint32(n)}, true
}

// FrameCounts tells where the UMEM's frames are: free (on either side's
// free list or on their way from the transmitting to the receiving side),
// posted to the fill ring, posted to the TX ring and not yet completed, and
// held by the caller (received or allocated and not yet released, freed or
// sent). The four add up to the frame count; tests use it to prove that no
// frame leaks.
type FrameCounts struct {
	Free, Fill, TX, Held int
}

// Frames returns the current FrameCounts. It reads both sides' state, so
// it is exact only while neither the receiving nor the transmitting side
// runs.
func (s *Socket) Frames() FrameCounts {
	c := FrameCounts{Free: len(s.rxFree) + len(s.txFree) + s.recycle.len(), Fill: s.fillPosted, TX: s.txPosted}
	c.Held = s.numFrames - c.Free - c.Fill - c.TX
	return c
}

// WholeFrame returns the whole UMEM frame that holds d and d's offset in
// it, for callers that keep a packet as a buffer plus start offset (the
// dataplane's Packet); nil and 0 for a descriptor outside the UMEM. The
// descriptor to send such a buffer is Desc{Addr: d.Addr - off + start,
// Len: end - start}.
func (s *Socket) WholeFrame(d Desc) (frame []byte, off int) {
	if !s.validDesc(d) {
		return nil, 0
	}
	base := d.Addr &^ (s.frameSize - 1)
	return s.umem[base : base+s.frameSize : base+s.frameSize], int(d.Addr - base)
}
