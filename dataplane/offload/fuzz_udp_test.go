package offload

import (
	"encoding/binary"
	"testing"

	"github.com/podfwd/podfwd/encap"
)

// FuzzCoalesceUDP feeds batches of mixed packets to a coalescer that also
// merges UDP: every input is written exactly once, and every merged UDP
// packet splits back, as the kernel splits it, into exactly its members
// with valid checksums (merged TCP is checked as in FuzzCoalesce).
func FuzzCoalesceUDP(f *testing.F) {
	addBatch := func(pkts [][]byte) { f.Add(encodeBatch(pkts)) }
	addBatch(udpFlow(f, baseSpec(false), 4, 100, 30))
	addBatch(udpFlow(f, baseSpec(true), 3, 200, 0))
	u, tcp := udpFlow(f, baseSpec(false), 3, 64, 0), flow(f, baseSpec(false), 3, 64, 0)
	addBatch([][]byte{u[0], tcp[0], u[1], tcp[1], u[2], tcp[2]})
	c := NewCoalescer(16)
	c.MergeUDP()
	outs := outBufs(4)
	pkts := make([][]byte, 0, 16)
	f.Fuzz(func(t *testing.T, data []byte) {
		var repair bool
		if pkts, repair = splitBatch(pkts[:0], data); repair {
			for _, p := range pkts {
				repairChecksums(p)
				repairUDPChecksum(p)
			}
		}
		res, err := c.Coalesce(pkts, outs)
		if err != nil {
			t.Fatal(err)
		}
		seen := make([]int, len(pkts))
		for _, o := range res {
			m := members(c, o)
			for _, i := range m {
				seen[i]++
			}
			if o.Out < 0 {
				continue
			}
			if c.segs[o.head].udp {
				checkUDPMerged(t, c, pkts, outs[o.Out][:o.Len], m)
			} else {
				checkMerged(t, c, pkts, outs[o.Out][:o.Len], m)
			}
		}
		for i, n := range seen {
			if n != 1 {
				t.Fatalf("input %d written %d times", i, n)
			}
		}
	})
}

// repairUDPChecksum rewrites p's UDP checksum (IPv4 without options or
// IPv6 without extension headers, UDP length matching the IP length) with
// the naive reference, so that fuzzed UDP batches can merge.
func repairUDPChecksum(p []byte) {
	hdrLen, ipLen := 0, 0
	switch {
	case len(p) >= 28 && p[0] == 0x45 && p[9] == encap.ProtoUDP:
		hdrLen, ipLen = 20, int(binary.BigEndian.Uint16(p[2:]))
	case len(p) >= 48 && p[0]>>4 == 6 && p[6] == encap.ProtoUDP:
		hdrLen, ipLen = 40, 40+int(binary.BigEndian.Uint16(p[4:]))
	default:
		return
	}
	if ipLen > len(p) || ipLen < hdrLen+8 {
		return
	}
	seg := p[:ipLen]
	binary.BigEndian.PutUint16(seg[hdrLen+4:], uint16(ipLen-hdrLen))
	sum := refL4Checksum(seg, hdrLen, 6)
	if sum == 0 {
		sum = 0xffff // zero means "no checksum" in UDP
	}
	binary.BigEndian.PutUint16(seg[hdrLen+6:], sum)
}
