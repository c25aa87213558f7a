package offload

import (
	"encoding/binary"
	"testing"

	"github.com/podfwd/podfwd/encap"
)

func FuzzSegment(f *testing.F) {
	for _, s := range []struct {
		spec pktSpec
		mss  int
	}{
		{func() pktSpec { s := baseSpec(false); s.tsVal = 1; s.psh = true; return s }(), 1448},
		{baseSpec(true), 500},
		{func() pktSpec { s := baseSpec(false); s.udp = true; return s }(), 700},
		{func() pktSpec { s := baseSpec(true); s.udp = true; return s }(), 1},
		{func() pktSpec { s := baseSpec(false); s.ipv4Opts = true; s.cwr = true; return s }(), 333},
	} {
		s.spec.payload = payloadBytes(3000, 1)
		pkt, h := superPacket(f, s.spec, s.mss)
		f.Add(pkt, h.Flags, h.GSOType, h.HdrLen, h.GSOSize, h.CsumStart, h.CsumOffset, uint8(16))
		f.Add(pkt, h.Flags, uint8(GSONone), h.HdrLen, h.GSOSize, h.CsumStart, h.CsumOffset, uint8(0))
	}
	outs, sizes := segBufs(32, 2048)
	f.Fuzz(func(t *testing.T, pkt []byte, flags, gsoType uint8, hdrLen, gsoSize, csumStart, csumOffset uint16, headroom uint8) {
		hdr := VirtioNetHdr{Flags: flags, GSOType: gsoType, HdrLen: hdrLen, GSOSize: gsoSize, CsumStart: csumStart, CsumOffset: csumOffset}
		n, err := Segment(pkt, &hdr, outs, int(headroom), sizes)
		if err != nil {
			return
		}
		if n < 1 || n > len(outs) {
			t.Fatalf("%d segments", n)
		}
		if c, err := SegmentCount(pkt, &hdr); c != n || err != nil {
			t.Fatalf("SegmentCount = %d, %v after Segment gave %d", c, err, n)
		}
		total := 0
		for i := 0; i < n; i++ {
			if sizes[i] <= 0 || int(headroom)+sizes[i] > len(outs[i]) {
				t.Fatalf("segment %d: size %d out of bounds", i, sizes[i])
			}
			seg := outs[i][int(headroom) : int(headroom)+sizes[i]]
			total += sizes[i]
			if !hdr.IsGSO() {
				if hdr.Flags&FlagNeedsCsum != 0 && !partialCompleted(pkt, seg, &hdr) {
					t.Fatal("completed checksum does not verify")
				}
				continue
			}
			if seg[0]>>4 == 4 {
				if refChecksum(seg[:ipHdrLenOf(seg)]) != 0 || int(binary.BigEndian.Uint16(seg[2:])) != len(seg) {
					t.Fatalf("segment %d: bad IPv4 header", i)
				}
			} else if int(binary.BigEndian.Uint16(seg[4:]))+40 != len(seg) {
				t.Fatalf("segment %d: bad IPv6 payload length", i)
			}
			if !refL4Valid(seg) {
				t.Fatalf("segment %d: L4 checksum invalid", i)
			}
		}
		if !hdr.IsGSO() && total != len(pkt) {
			t.Fatalf("non-GSO copy of %d bytes for a %d-byte packet", total, len(pkt))
		}
	})
}

// partialCompleted checks CompleteChecksum's contract with the naive
// reference: the sum from CsumStart over the completed packet, plus the
// partial sum the field held before (standing in for the pseudo-header),
// verifies.
func partialCompleted(orig, done []byte, hdr *VirtioNetHdr) bool {
	field := int(hdr.CsumStart) + int(hdr.CsumOffset)
	b := append([]byte(nil), done[hdr.CsumStart:]...)
	if len(b)%2 == 1 {
		b = append(b, 0)
	}
	b = append(b, orig[field], orig[field+1])
	return refChecksum(b) == 0
}

// encodeBatch is a coalescer fuzz input carrying pkts, checksums
// repaired: a repair byte of 1, then [2-byte length][packet] records.
func encodeBatch(pkts [][]byte) []byte {
	b := []byte{1}
	for _, p := range pkts {
		b = binary.BigEndian.AppendUint16(b, uint16(len(p)))
		b = append(b, p...)
	}
	return b
}

// FuzzCoalesce feeds batches encoded as a repair byte, then a sequence of
// [2-byte big-endian length][packet] records. When the repair byte is odd,
// IPv4 header and TCP checksums are fixed up before coalescing, so that the
// fuzzer reaches the merge rules instead of stopping at checksum checks.
func FuzzCoalesce(f *testing.F) {
	addBatch := func(pkts [][]byte) { f.Add(encodeBatch(pkts)) }
	spec := baseSpec(false)
	spec.tsVal = 3
	addBatch(flow(f, spec, 4, 300, 100))
	addBatch(flow(f, baseSpec(true), 3, 200, 0))
	a, b := flow(f, baseSpec(false), 3, 100, 0), flow(f, baseSpec(true), 3, 100, 50)
	addBatch([][]byte{a[1], b[0], a[0], b[1], a[2], b[2]})
	c := NewCoalescer(16)
	outs := outBufs(4)
	pkts := make([][]byte, 0, 16)
	f.Fuzz(func(t *testing.T, data []byte) {
		var repair bool
		if pkts, repair = splitBatch(pkts[:0], data); repair {
			for _, p := range pkts {
				repairChecksums(p)
			}
		}
		res, err := c.Coalesce(pkts, outs)
		if err != nil {
			t.Fatal(err)
		}
		checkOutputs(t, c, pkts, outs, res)
	})
}

// splitBatch cuts a fuzz input into up to 16 length-prefixed packets
// (copies, so they may be rewritten) and says whether the first byte asks
// for their checksums to be repaired.
func splitBatch(pkts [][]byte, data []byte) ([][]byte, bool) {
	if len(data) == 0 {
		return pkts, false
	}
	repair := data[0]&1 == 1
	data = append([]byte(nil), data[1:]...)
	for len(data) >= 2 && len(pkts) < 16 {
		n := min(int(binary.BigEndian.Uint16(data)), len(data)-2)
		pkts = append(pkts, data[2:2+n])
		data = data[2+n:]
	}
	return pkts, repair
}

// repairChecksums rewrites the IPv4 header checksum and the TCP checksum of
// p where its headers make that possible, using the naive reference.
func repairChecksums(p []byte) {
	if len(p) < 20 {
		return
	}
	ipLen, hdrLen := 0, 0
	switch p[0] >> 4 {
	case 4:
		hdrLen = int(p[0]&0xf) * 4
		if hdrLen < 20 || hdrLen > len(p) {
			return
		}
		p[10], p[11] = 0, 0
		binary.BigEndian.PutUint16(p[10:], refChecksum(p[:hdrLen]))
		ipLen = int(binary.BigEndian.Uint16(p[2:]))
		if p[9] != encap.ProtoTCP {
			return
		}
	case 6:
		if len(p) < 40 || p[6] != encap.ProtoTCP {
			return
		}
		hdrLen, ipLen = 40, 40+int(binary.BigEndian.Uint16(p[4:]))
	default:
		return
	}
	if ipLen > len(p) || ipLen < hdrLen+20 {
		return
	}
	binary.BigEndian.PutUint16(p[hdrLen+16:], refL4Checksum(p[:ipLen], hdrLen, 16))
}

// refL4Checksum is the full L4 checksum of seg (an IP packet whose L4
// header starts at hdrLen, checksum field at csumOff), computed with the
// naive reference over the pseudo-header and the segment.
func refL4Checksum(seg []byte, hdrLen, csumOff int) uint16 {
	seg[hdrLen+csumOff], seg[hdrLen+csumOff+1] = 0, 0
	writePartial(seg, hdrLen, csumOff)
	partial := binary.BigEndian.Uint16(seg[hdrLen+csumOff:])
	seg[hdrLen+csumOff], seg[hdrLen+csumOff+1] = 0, 0
	b := append([]byte(nil), seg[hdrLen:]...)
	if len(b)%2 == 1 {
		b = append(b, 0)
	}
	return refChecksum(binary.BigEndian.AppendUint16(b, partial))
}
