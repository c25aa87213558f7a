package offload

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// udpFlow builds n datagrams of one flow with payloads of size (the last
// lastLen when > 0), IPv4 IDs counting up.
func udpFlow(t testing.TB, spec pktSpec, n, size, lastLen int) [][]byte {
	t.Helper()
	spec.udp = true
	var pkts [][]byte
	for i := range n {
		s := spec
		s.payload = payloadBytes(size, byte(i))
		if i == n-1 && lastLen > 0 {
			s.payload = payloadBytes(lastLen, byte(i))
		}
		s.id = spec.id + uint16(i)
		pkts = append(pkts, build(t, s))
	}
	return pkts
}

// checkUDPMerged resegments a merged UDP packet the way the kernel does
// and asserts it gives back exactly the member datagrams (IPv4 ID and
// header checksum aside), each with a valid checksum.
func checkUDPMerged(t *testing.T, c *Coalescer, pkts [][]byte, merged []byte, m []int) {
	t.Helper()
	var hdr VirtioNetHdr
	if err := hdr.Decode(merged); err != nil {
		t.Fatal(err)
	}
	pkt := merged[VirtioNetHdrLen:]
	h := c.segs[m[0]]
	if hdr.Flags != FlagNeedsCsum || hdr.GSOType != GSOUDPL4 || int(hdr.HdrLen) != h.hdrLen ||
		int(hdr.GSOSize) != h.payload || int(hdr.CsumStart) != h.ipHdrLen || hdr.CsumOffset != 6 {
		t.Fatalf("merged virtio_net_hdr %+v", hdr)
	}
	if got := int(binary.BigEndian.Uint16(pkt[h.ipHdrLen+4:])); got != len(pkt)-h.ipHdrLen {
		t.Fatalf("merged UDP length %d, want %d", got, len(pkt)-h.ipHdrLen)
	}
	full := append([]byte(nil), pkt...)
	if err := CompleteChecksum(full, &hdr); err != nil || !refL4Valid(full) {
		t.Fatalf("merged packet's completed checksum is invalid (%v)", err)
	}
	outs, sizes := segBufs(len(m)+1, MaxCoalescedLen)
	n, err := Segment(pkt, &hdr, outs, 0, sizes)
	if err != nil || n != len(m) {
		t.Fatalf("resegmenting: n=%d (want %d) err=%v", n, len(m), err)
	}
	for k, i := range m {
		// Bytes past the IP length (link padding) are not part of the datagram.
		got, want := append([]byte(nil), outs[k][:sizes[k]]...), append([]byte(nil), pkts[i][:c.segs[i].ipLen]...)
		if !refL4Valid(got) {
			t.Fatalf("resegmented datagram %d has a bad checksum", k)
		}
		if got[0]>>4 == 4 {
			for _, p := range [][]byte{got, want} {
				p[4], p[5], p[10], p[11] = 0, 0, 0, 0
			}
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("resegmented %d differs from input %d:\n got %x\nwant %x", k, i, got[:min(64, len(got))], want[:min(64, len(want))])
		}
	}
}

func TestCoalesceUDPMerges(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		pkts := udpFlow(t, baseSpec(v6), 11, 100, 40)
		c := NewCoalescer(64)
		c.MergeUDP()
		outs := outBufs(4)
		res, err := c.Coalesce(pkts, outs)
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 1 || res[0].Out < 0 || res[0].Segments != 11 {
			t.Fatalf("v6=%v: shape %v", v6, shape(c, res))
		}
		checkUDPMerged(t, c, pkts, outs[res[0].Out][:res[0].Len], members(c, res[0]))
	}
}

// Without MergeUDP (a TUN without USO) datagrams pass through one by one.
func TestCoalesceUDPOnlyWhenAsked(t *testing.T) {
	pkts := udpFlow(t, baseSpec(false), 5, 100, 0)
	c := NewCoalescer(64)
	res, err := c.Coalesce(pkts, outBufs(2))
	if err != nil {
		t.Fatal(err)
	}
	if want := [][]int{{0}, {1}, {2}, {3}, {4}}; !sameShape(shape(c, res), want) {
		t.Fatalf("shape %v, want %v", shape(c, res), want)
	}
}

func TestCoalesceUDPDoesNotMerge(t *testing.T) {
	base := baseSpec(false)
	corrupt := func(p []byte) []byte { p[len(p)-1] ^= 0x40; return p }
	zeroSum := func(p []byte) []byte { p[26], p[27] = 0, 0; return p }
	cases := []struct {
		name  string
		pkts  func() [][]byte
		shape [][]int
		// verified lists pass-through inputs whose checksum the coalescer
		// must not vouch for.
		unverified []int
	}{
		{"bad checksum in the middle", func() [][]byte {
			p := udpFlow(t, base, 4, 100, 0)
			p[2] = corrupt(p[2])
			return p
		}, [][]int{{0, 1, 3}, {2}}, []int{2}},
		{"zero IPv4 checksum", func() [][]byte {
			p := udpFlow(t, base, 3, 100, 0)
			p[1] = zeroSum(p[1])
			return p
		}, [][]int{{0, 2}, {1}}, []int{1}},
		{"bigger payload starts a new run", func() [][]byte {
			p := udpFlow(t, base, 3, 100, 0)
			return append(p, udpFlow(t, base, 2, 200, 0)...)
		}, [][]int{{0, 1, 2}, {3, 4}}, nil},
		{"shorter payload ends the run", func() [][]byte {
			p := udpFlow(t, base, 3, 100, 50)
			return append(p, udpFlow(t, base, 2, 100, 0)...)
		}, [][]int{{0, 1, 2}, {3, 4}}, nil},
		{"other ports", func() [][]byte {
			o := base
			o.dport++
			p := udpFlow(t, base, 2, 100, 0)
			return append(p, udpFlow(t, o, 2, 100, 0)...)
		}, [][]int{{0, 1}, {2, 3}}, nil},
		{"other TTL", func() [][]byte {
			o := base
			o.ttl--
			p := udpFlow(t, base, 2, 100, 0)
			return append(p, udpFlow(t, o, 2, 100, 0)...)
		}, [][]int{{0, 1}, {2, 3}}, nil},
		{"64 datagrams at most", func() [][]byte {
			return udpFlow(t, base, 70, 20, 0)
		}, [][]int{seq(0, 64), seq(64, 70)}, nil},
		{"TCP beside UDP of the same ports", func() [][]byte {
			tcp := flow(t, base, 2, 100, 0)
			return append(udpFlow(t, base, 2, 100, 0), tcp...)
		}, [][]int{{0, 1}, {2, 3}}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pkts := tc.pkts()
			c := NewCoalescer(128)
			c.MergeUDP()
			outs := outBufs(4)
			res, err := c.Coalesce(pkts, outs)
			if err != nil {
				t.Fatal(err)
			}
			if got := shape(c, res); !sameShape(got, tc.shape) {
				t.Fatalf("shape %v, want %v", got, tc.shape)
			}
			for _, o := range res {
				if o.Out >= 0 && c.segs[o.head].udp {
					checkUDPMerged(t, c, pkts, outs[o.Out][:o.Len], members(c, o))
				}
				for _, i := range tc.unverified {
					if o.In == i && o.Verified {
						t.Errorf("input %d (bad or missing checksum) passed as verified", i)
					}
				}
			}
		})
	}
}

func seq(from, to int) []int {
	var s []int
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}
