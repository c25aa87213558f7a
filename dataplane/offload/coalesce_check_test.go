package offload

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// flow returns n consecutive segments of spec's flow, each of payload mss
// (the last of lastLen when lastLen > 0), built by gopacket.
func flow(t testing.TB, spec pktSpec, n, mss, lastLen int) [][]byte {
	t.Helper()
	var pkts [][]byte
	seq := spec.seq
	for i := 0; i < n; i++ {
		s := spec
		size := mss
		if i == n-1 && lastLen > 0 {
			size = lastLen
		}
		s.payload = payloadBytes(size, byte(i))
		s.seq = seq
		s.id = spec.id + uint16(i)
		s.psh = spec.psh && i == n-1
		pkts = append(pkts, build(t, s))
		seq += uint32(size)
	}
	return pkts
}

func outBufs(n int) [][]byte {
	outs := make([][]byte, n)
	for i := range outs {
		outs[i] = make([]byte, MaxCoalescedLen)
	}
	return outs
}

// members lists the input indices an output carries, in merged order.
func members(c *Coalescer, o Output) []int {
	if o.In >= 0 {
		return []int{o.In}
	}
	var m []int
	for i := o.head; i >= 0; i = c.next[i] {
		m = append(m, i)
	}
	return m
}

// checkOutputs verifies what any Coalesce result must satisfy: every input
// is written exactly once, merged packets are valid (gopacket decodes them,
// the checksum completes to a valid one) and segmenting a merged packet
// again gives back its inputs byte for byte, apart from IPv4 ID and header
// checksum which the merged packet takes from its first segment.
func checkOutputs(t testing.TB, c *Coalescer, pkts, outs [][]byte, res []Output) {
	t.Helper()
	seen := make([]int, len(pkts))
	for _, o := range res {
		m := members(c, o)
		if len(m) != o.Segments {
			t.Fatalf("output %+v lists %d members", o, len(m))
		}
		for _, i := range m {
			seen[i]++
		}
		if o.In >= 0 {
			if o.Out >= 0 || o.Segments != 1 {
				t.Fatalf("pass-through output %+v", o)
			}
			continue
		}
		if o.Segments < 2 {
			t.Fatalf("merged output of %d segments", o.Segments)
		}
		checkMerged(t, c, pkts, outs[o.Out][:o.Len], m)
	}
	for i, n := range seen {
		if n != 1 {
			t.Fatalf("input %d written %d times", i, n)
		}
	}
}

func checkMerged(t testing.TB, c *Coalescer, pkts [][]byte, merged []byte, m []int) {
	t.Helper()
	var hdr VirtioNetHdr
	if err := hdr.Decode(merged); err != nil {
		t.Fatal(err)
	}
	pkt := merged[VirtioNetHdrLen:]
	if hdr.Flags != FlagNeedsCsum || !hdr.IsGSO() || int(hdr.HdrLen) != c.segs[m[0]].hdrLen {
		t.Fatalf("merged virtio_net_hdr %+v", hdr)
	}
	full := append([]byte(nil), pkt...)
	if err := CompleteChecksum(full, &hdr); err != nil {
		t.Fatal(err)
	}
	if !gopacketTCPValid(t, full) || !refL4Valid(full) {
		t.Fatal("merged packet's completed checksum is invalid")
	}
	if full[0]>>4 == 4 && (refChecksum(full[:20]) != 0 || int(binary.BigEndian.Uint16(full[2:])) != len(full)) {
		t.Fatal("merged IPv4 header checksum or length wrong")
	}
	if full[0]>>4 == 6 && int(binary.BigEndian.Uint16(full[4:]))+40 != len(full) {
		t.Fatal("merged IPv6 payload length wrong")
	}
	outs, sizes := segBufs(len(m)+1, MaxCoalescedLen)
	n, err := Segment(pkt, &hdr, outs, 0, sizes)
	if err != nil || n != len(m) {
		t.Fatalf("resegmenting merged packet: n=%d (want %d) err=%v", n, len(m), err)
	}
	for k, i := range m {
		in := pkts[i][:c.segs[i].ipLen]
		got := outs[k][:sizes[k]]
		if !sameSegment(got, in) {
			t.Fatalf("resegmented %d differs from input %d:\n got %x\nwant %x", k, i, got[:min(64, len(got))], in[:min(64, len(in))])
		}
	}
}

// sameSegment compares two segments ignoring the IPv4 ID and header
// checksum, and treating the equivalent TCP checksums 0x0000 and 0xffff as
// equal.
func sameSegment(a, b []byte) bool {
	if len(a) != len(b) || len(a) < 40 {
		return false
	}
	a, b = append([]byte(nil), a...), append([]byte(nil), b...)
	ipLen := 40
	if a[0]>>4 == 4 {
		ipLen = 20
		for _, p := range [][]byte{a, b} {
			p[4], p[5], p[10], p[11] = 0, 0, 0, 0
		}
	}
	for _, p := range [][]byte{a, b} {
		if binary.BigEndian.Uint16(p[ipLen+16:]) == 0xffff {
			binary.BigEndian.PutUint16(p[ipLen+16:], 0)
		}
	}
	return bytes.Equal(a, b)
}

// shape summarises a result as the member lists of its outputs.
func shape(c *Coalescer, res []Output) [][]int {
	var s [][]int
	for _, o := range res {
		s = append(s, members(c, o))
	}
	return s
}

func sameShape(a, b [][]int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if a[i][j] != b[i][j] {
				return false
			}
		}
	}
	return true
}
