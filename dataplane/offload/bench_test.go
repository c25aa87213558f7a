package offload

import "testing"

func benchSegment(b *testing.B, v6 bool, mss int) {
	spec := baseSpec(v6)
	spec.payload = payloadBytes(65535-40-20*btoi(v6), 1)
	pkt, hdr := superPacket(b, spec, mss)
	outs, sizes := segBufs(64, 1664)
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Segment(pkt, &hdr, outs, 96, sizes); err != nil {
			b.Fatal(err)
		}
	}
}

func btoi(v bool) int {
	if v {
		return 1
	}
	return 0
}

// BenchmarkSegmentTCPv4_64K splits a 64 KiB TCPv4 super-packet at MSS 1448
// (46 segments); one op is one super-packet.
func BenchmarkSegmentTCPv4_64K(b *testing.B) { benchSegment(b, false, 1448) }

// BenchmarkSegmentTCPv6_64K is the IPv6 counterpart, MSS 1428.
func BenchmarkSegmentTCPv6_64K(b *testing.B) { benchSegment(b, true, 1428) }

// BenchmarkCompleteChecksum1500 completes the checksum of a 1500-byte packet.
func BenchmarkCompleteChecksum1500(b *testing.B) {
	spec := baseSpec(false)
	spec.payload = payloadBytes(1460, 1)
	pkt, hdr := superPacket(b, spec, 1460)
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		_ = CompleteChecksum(pkt, &hdr)
	}
}

func benchCoalesce(b *testing.B, v6 bool) {
	segs := flow(b, baseSpec(v6), 44, 1448, 0)
	c := NewCoalescer(64)
	outs := outBufs(2)
	n := 0
	for _, s := range segs {
		n += len(s)
	}
	b.SetBytes(int64(n))
	b.ReportAllocs()
	for b.Loop() {
		if res, _ := c.Coalesce(segs, outs); len(res) != 1 {
			b.Fatal("not merged")
		}
	}
}

// BenchmarkCoalesce44 merges 44 in-order 1448-byte TCPv4 segments into one
// super-packet (checksums verified, merged packet copied out); one op is the
// whole batch.
func BenchmarkCoalesce44(b *testing.B) { benchCoalesce(b, false) }

// BenchmarkCoalesce44v6 is the IPv6 counterpart.
func BenchmarkCoalesce44v6(b *testing.B) { benchCoalesce(b, true) }
