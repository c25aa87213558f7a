package offload

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/podfwd/podfwd/encap"
)

func TestCoalesceMerges(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		spec := baseSpec(v6)
		spec.tsVal = 5
		spec.psh = true
		pkts := flow(t, spec, 44, 1448, 700)
		c := NewCoalescer(64)
		outs := outBufs(4)
		res, err := c.Coalesce(pkts, outs)
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 1 || res[0].Segments != 44 {
			t.Fatalf("v6=%v: shape %v", v6, shape(c, res))
		}
		checkOutputs(t, c, pkts, outs, res)
		pkt := outs[res[0].Out][VirtioNetHdrLen:res[0].Len]
		if pkt[ipHdrLenOf(pkt)+13]&encap.TCPFlagPSH == 0 {
			t.Fatal("PSH of the last segment lost")
		}
	}
}

func TestCoalesceDoesNotMerge(t *testing.T) {
	mod := func(f func(*pktSpec)) func(*pktSpec) { return f }
	cases := []struct {
		name   string
		v6     bool
		change func(*pktSpec) // applied to the second segment only
		bytes  func([]byte)   // applied to the second packet's bytes
		sizes  []int          // payload sizes, default {1448, 1448}
		want   [][]int
	}{
		{name: "control: merges", want: [][]int{{0, 1}}},
		{name: "control v6: merges", v6: true, want: [][]int{{0, 1}}},
		{name: "different port", change: mod(func(s *pktSpec) { s.dport++ }), want: [][]int{{0}, {1}}},
		{name: "different address", change: mod(func(s *pktSpec) { s.dst = "10.244.2.4" }), want: [][]int{{0}, {1}}},
		{name: "different ack", change: mod(func(s *pktSpec) { s.ack++ }), want: [][]int{{0}, {1}}},
		{name: "gap in seq", change: mod(func(s *pktSpec) { s.seq++ }), want: [][]int{{0}, {1}}},
		{name: "overlap in seq", change: mod(func(s *pktSpec) { s.seq-- }), want: [][]int{{0}, {1}}},
		{name: "different TTL", change: mod(func(s *pktSpec) { s.ttl-- }), want: [][]int{{0}, {1}}},
		{name: "different TOS", change: mod(func(s *pktSpec) { s.tos = 4 }), want: [][]int{{0}, {1}}},
		{name: "different DF", change: mod(func(s *pktSpec) { s.df = false }), want: [][]int{{0}, {1}}},
		{name: "v6 different hop limit", v6: true, change: mod(func(s *pktSpec) { s.ttl-- }), want: [][]int{{0}, {1}}},
		{name: "v6 different traffic class", v6: true, change: mod(func(s *pktSpec) { s.tos = 8 }), want: [][]int{{0}, {1}}},
		{name: "v6 different flow label", v6: true, bytes: func(p []byte) { p[3] ^= 1 }, want: [][]int{{0}, {1}}},
		{name: "options differ", change: mod(func(s *pktSpec) { s.tsVal = 6 }), want: [][]int{{0}, {1}}},
		{name: "options present on one only", change: mod(func(s *pktSpec) { s.tsVal = 0 }), want: [][]int{{0}, {1}}},
		{name: "different window", change: mod(func(s *pktSpec) { s.window++ }), want: [][]int{{0}, {1}}},
		{name: "FIN", change: mod(func(s *pktSpec) { s.fin = true }), want: [][]int{{0}, {1}}},
		{name: "SYN", change: mod(func(s *pktSpec) { s.syn = true }), want: [][]int{{0}, {1}}},
		{name: "URG", change: mod(func(s *pktSpec) { s.urg = true }), want: [][]int{{0}, {1}}},
		{name: "CWR", change: mod(func(s *pktSpec) { s.cwr = true }), want: [][]int{{0}, {1}}},
		{name: "ECE", change: mod(func(s *pktSpec) { s.ece = true }), want: [][]int{{0}, {1}}},
		{name: "PSH ends a run", sizes: []int{1448, 1448, 1448}, change: mod(func(s *pktSpec) { s.psh = true }), want: [][]int{{0, 1}, {2}}},
		{name: "segment larger than first", sizes: []int{1000, 1448}, want: [][]int{{0}, {1}}},
		{name: "nothing after a short segment", sizes: []int{1448, 1000, 1448}, want: [][]int{{0, 1}, {2}}},
		{name: "short last merges", sizes: []int{1448, 1448, 3}, want: [][]int{{0, 1, 2}}},
		{name: "pure ACK", sizes: []int{1448, 0}, want: [][]int{{0}, {1}}},
		{name: "IPv4 options", change: mod(func(s *pktSpec) { s.ipv4Opts = true }), want: [][]int{{0}, {1}}},
		{name: "fragment MF", bytes: func(p []byte) { p[6] |= 0x20; fixIPv4(p) }, want: [][]int{{0}, {1}}},
		{name: "fragment offset", bytes: func(p []byte) { p[7] = 1; fixIPv4(p) }, want: [][]int{{0}, {1}}},
		{name: "bad TCP checksum", bytes: func(p []byte) { p[len(p)-1] ^= 1 }, want: [][]int{{0}, {1}}},
		{name: "bad TCP checksum in the middle", sizes: []int{1448, 1448, 1448}, bytes: func(p []byte) { p[len(p)-1] ^= 1 }, want: [][]int{{0}, {1}, {2}}},
		{name: "bad IPv4 header checksum", bytes: func(p []byte) { p[10] ^= 1 }, want: [][]int{{0}, {1}}},
		{name: "truncated", bytes: func(p []byte) { binary.BigEndian.PutUint16(p[2:], 9000); fixIPv4(p) }, want: [][]int{{0}, {1}}},
		{name: "v6 extension header", v6: true, bytes: func(p []byte) { p[6] = 0 }, want: [][]int{{0}, {1}}},
		{name: "UDP", change: mod(func(s *pktSpec) { s.udp = true }), want: [][]int{{0}, {1}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sizes := tc.sizes
			if sizes == nil {
				sizes = []int{1448, 1448}
			}
			spec := baseSpec(tc.v6)
			spec.tsVal = 5
			var pkts [][]byte
			seq := spec.seq
			for i, size := range sizes {
				s := spec
				s.seq, s.id = seq, spec.id+uint16(i)
				s.payload = payloadBytes(size, byte(i))
				if i == 1 && tc.change != nil {
					tc.change(&s)
				}
				if i == len(sizes)-1 && tc.name == "PSH ends a run" {
					s.psh = false
				}
				p := build(t, s)
				if i == 1 && tc.bytes != nil {
					tc.bytes(p)
				}
				pkts = append(pkts, p)
				seq += uint32(size)
			}
			c := NewCoalescer(8)
			outs := outBufs(4)
			res, err := c.Coalesce(pkts, outs)
			if err != nil {
				t.Fatal(err)
			}
			if got := shape(c, res); !sameShape(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			checkOutputs(t, c, pkts, outs, res)
		})
	}
}

func TestCoalesceBadFirstChecksum(t *testing.T) {
	pkts := flow(t, baseSpec(true), 3, 1000, 0)
	pkts[0][len(pkts[0])-1] ^= 0x80
	c := NewCoalescer(8)
	outs := outBufs(2)
	res, _ := c.Coalesce(pkts, outs)
	if got, want := shape(c, res), [][]int{{0}, {1, 2}}; !sameShape(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	checkOutputs(t, c, pkts, outs, res)
}

// fixIPv4 recomputes the header checksum after a test edits the header.
func fixIPv4(p []byte) {
	p[10], p[11] = 0, 0
	binary.BigEndian.PutUint16(p[10:], refChecksum(p[:20]))
}

func TestCoalesce64KiBLimit(t *testing.T) {
	// 40 bytes of headers + 45*1448 = 65200 fits; a 46th would not.
	pkts := flow(t, baseSpec(false), 46, 1448, 0)
	c := NewCoalescer(64)
	outs := outBufs(4)
	res, _ := c.Coalesce(pkts, outs)
	if len(res) != 2 || res[0].Segments != 45 || res[1].In != 45 {
		t.Fatalf("shape %v", shape(c, res))
	}
	if res[0].Len != VirtioNetHdrLen+40+45*1448 {
		t.Fatalf("merged length %d", res[0].Len)
	}
	checkOutputs(t, c, pkts, outs, res)
}

func TestCoalesceOutOfOrderAndInterleaved(t *testing.T) {
	a := flow(t, baseSpec(false), 4, 1000, 0)
	sb := baseSpec(false)
	sb.sport = 1234
	b := flow(t, sb, 3, 1000, 0)
	u := baseSpec(false)
	u.udp = true
	u.payload = payloadBytes(100, 1)
	// a2 a0 b0 a1 udp b1 a3 b2: a0+a1, a2+a3 and b0+b1+b2 merge; runs are
	// never prepended to, so a2 does not join a0+a1 behind a1, and the
	// outputs follow the arrival of each run's first packet.
	pkts := [][]byte{a[2], a[0], b[0], a[1], build(t, u), b[1], a[3], b[2]}
	c := NewCoalescer(8)
	outs := outBufs(8)
	res, err := c.Coalesce(pkts, outs)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]int{{0, 6}, {1, 3}, {2, 5, 7}, {4}}
	if got := shape(c, res); !sameShape(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	checkOutputs(t, c, pkts, outs, res)
}

func TestCoalesceOutputBuffers(t *testing.T) {
	a := flow(t, baseSpec(false), 3, 1000, 0)
	sb := baseSpec(false)
	sb.sport = 1
	b := flow(t, sb, 2, 1000, 0)
	pkts := append(a, b...)
	c := NewCoalescer(8)
	// One buffer only: the second run goes out segment by segment.
	outs := outBufs(1)
	res, _ := c.Coalesce(pkts, outs)
	if got, want := shape(c, res), [][]int{{0, 1, 2}, {3}, {4}}; !sameShape(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	checkOutputs(t, c, pkts, outs, res)
	// A buffer too short for the run: pass-through as well.
	outs = [][]byte{make([]byte, 1000)}
	res, _ = c.Coalesce(pkts, outs)
	if len(res) != 5 {
		t.Fatalf("got %v", shape(c, res))
	}
	if _, err := c.Coalesce(make([][]byte, 9), outs); !errors.Is(err, ErrBatchTooLarge) {
		t.Fatalf("oversized batch: %v", err)
	}
}

// TestRoundTrip segments a super-packet and coalesces the segments back: the
// result is the original super-packet and virtio_net_hdr.
func TestRoundTrip(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		spec := baseSpec(v6)
		spec.tsVal = 42
		spec.psh = true
		spec.payload = payloadBytes(60000, 7)
		mss := 1448 - 12
		if v6 {
			mss -= 20
		}
		pkt, hdr := superPacket(t, spec, mss)
		segOuts, sizes := segBufs(64, 2000)
		n, err := Segment(pkt, &hdr, segOuts, 100, sizes)
		if err != nil {
			t.Fatal(err)
		}
		segs := make([][]byte, n)
		for i := range segs {
			segs[i] = segOuts[i][100 : 100+sizes[i]]
		}
		c := NewCoalescer(64)
		outs := outBufs(1)
		res, err := c.Coalesce(segs, outs)
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 1 || res[0].Segments != n {
			t.Fatalf("v6=%v: shape %v", v6, shape(c, res))
		}
		var got VirtioNetHdr
		_ = got.Decode(outs[0])
		if got != hdr {
			t.Fatalf("v6=%v: virtio_net_hdr %+v, want %+v", v6, got, hdr)
		}
		if !bytes.Equal(outs[0][VirtioNetHdrLen:res[0].Len], pkt) {
			t.Fatalf("v6=%v: merged packet differs from the original super-packet", v6)
		}
	}
}
