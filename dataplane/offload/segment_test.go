package offload

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// segBufs returns n output buffers carved at a fixed stride from one
// contiguous array, as the pipeline does for UDP GSO.
func segBufs(n, stride int) ([][]byte, []int) {
	big := make([]byte, n*stride)
	outs := make([][]byte, n)
	for i := range outs {
		outs[i] = big[i*stride : (i+1)*stride : (i+1)*stride]
	}
	return outs, make([]int, n)
}

func TestSegment(t *testing.T) {
	const headroom = 50
	cases := []struct {
		name string
		spec func() pktSpec
		mss  int
		size int
	}{
		{"v4 last shorter", func() pktSpec { return baseSpec(false) }, 1448, 10000},
		{"v4 exact multiple", func() pktSpec { return baseSpec(false) }, 1000, 5000},
		{"v4 64KiB", func() pktSpec { return baseSpec(false) }, 1448, 65535 - 40},
		{"v4 PSH FIN CWR", func() pktSpec { s := baseSpec(false); s.psh, s.fin, s.cwr = true, true, true; return s }, 1448, 4000},
		{"v4 timestamps", func() pktSpec { s := baseSpec(false); s.tsVal = 12345; s.psh = true; return s }, 1436, 7000},
		{"v4 IP options", func() pktSpec { s := baseSpec(false); s.ipv4Opts = true; return s }, 1400, 3000},
		{"v4 ID wraps", func() pktSpec { s := baseSpec(false); s.id = 0xfffe; s.seq = 0xffffff00; return s }, 500, 2000},
		{"v4 single segment", func() pktSpec { return baseSpec(false) }, 1448, 1000},
		{"v4 odd mss", func() pktSpec { return baseSpec(false) }, 1001, 4500},
		{"v6 last shorter", func() pktSpec { return baseSpec(true) }, 1428, 10000},
		{"v6 exact multiple", func() pktSpec { return baseSpec(true) }, 1000, 3000},
		{"v6 PSH FIN CWR timestamps", func() pktSpec {
			s := baseSpec(true)
			s.psh, s.fin, s.cwr, s.tsVal = true, true, true, 9
			return s
		}, 1416, 5000},
		{"v6 64KiB", func() pktSpec { return baseSpec(true) }, 1428, 65535 - 20},
		{"udp v4", func() pktSpec { s := baseSpec(false); s.udp = true; return s }, 1472, 5000},
		{"udp v6", func() pktSpec { s := baseSpec(true); s.udp = true; return s }, 1452, 3000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := tc.spec()
			spec.payload = payloadBytes(tc.size, 3)
			pkt, hdr := superPacket(t, spec, tc.mss)
			orig := append([]byte(nil), pkt...)
			outs, sizes := segBufs(64, headroom+tc.mss+120)
			n, err := Segment(pkt, &hdr, outs, headroom, sizes)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(pkt, orig) {
				t.Fatal("Segment modified its input")
			}
			want := (tc.size + tc.mss - 1) / tc.mss
			if n != want {
				t.Fatalf("got %d segments, want %d", n, want)
			}
			if c, err := SegmentCount(pkt, &hdr); c != want || err != nil {
				t.Fatalf("SegmentCount = %d, %v; want %d", c, err, want)
			}
			var joined []byte
			for i := 0; i < n; i++ {
				seg := outs[i][headroom : headroom+sizes[i]]
				off := i * tc.mss
				end := min(off+tc.mss, tc.size)
				// The expected segment, built by gopacket from scratch.
				ws := spec
				ws.payload = spec.payload[off:end]
				ws.seq = spec.seq + uint32(off)
				ws.id = spec.id + uint16(i)
				ws.psh = spec.psh && i == n-1
				ws.fin = spec.fin && i == n-1
				ws.cwr = spec.cwr && i == 0
				if w := build(t, ws); !bytes.Equal(seg, w) {
					t.Fatalf("segment %d differs:\n got %x\nwant %x", i, seg[:min(80, len(seg))], w[:min(80, len(w))])
				}
				if !refL4Valid(seg) {
					t.Fatalf("segment %d: L4 checksum invalid (reference)", i)
				}
				if !spec.udp && !gopacketTCPValid(t, seg) {
					t.Fatalf("segment %d: TCP checksum invalid (gopacket)", i)
				}
				if !spec.v6 && refChecksum(seg[:ipHdrLenOf(seg)]) != 0 {
					t.Fatalf("segment %d: IPv4 header checksum invalid", i)
				}
				joined = append(joined, seg[int(hdr.HdrLen):]...)
			}
			if !bytes.Equal(joined, spec.payload) {
				t.Fatal("concatenated segment payloads differ from the original payload")
			}
		})
	}
}

func TestSegmentErrors(t *testing.T) {
	spec := baseSpec(false)
	spec.payload = payloadBytes(4000, 1)
	good, goodHdr := superPacket(t, spec, 1000)
	cases := []struct {
		name     string
		pkt      []byte
		hdr      func(h *VirtioNetHdr)
		outs     int
		stride   int
		headroom int
		want     error
	}{
		{"too many segments", good, nil, 3, 2000, 0, ErrTooManySegments},
		{"buffer too small", good, nil, 8, 1000, 0, ErrBufferTooSmall},
		{"headroom eats buffer", good, nil, 8, 2000, 1000, ErrBufferTooSmall},
		{"negative headroom", good, nil, 8, 2000, -1, ErrBufferTooSmall},
		{"UFO", good, func(h *VirtioNetHdr) { h.GSOType = GSOUDP }, 8, 2000, 0, ErrUnsupportedGSO},
		{"unknown type", good, func(h *VirtioNetHdr) { h.GSOType = 9 }, 8, 2000, 0, ErrUnsupportedGSO},
		{"v6 type on v4", good, func(h *VirtioNetHdr) { h.GSOType = GSOTCPv6 }, 8, 2000, 0, ErrMalformed},
		{"UDP type on TCP", good, func(h *VirtioNetHdr) { h.GSOType = GSOUDPL4 }, 8, 2000, 0, ErrMalformed},
		{"gso_size 0", good, func(h *VirtioNetHdr) { h.GSOSize = 0 }, 8, 2000, 0, ErrMalformed},
		{"csum_start off", good, func(h *VirtioNetHdr) { h.CsumStart = 24 }, 8, 2000, 0, ErrMalformed},
		{"csum_offset off", good, func(h *VirtioNetHdr) { h.CsumOffset = 6 }, 8, 2000, 0, ErrMalformed},
		{"truncated TCP", good[:30], nil, 8, 2000, 0, ErrMalformed},
		{"no payload", good[:40], nil, 8, 2000, 0, ErrMalformed},
		{"empty", nil, nil, 8, 2000, 0, ErrMalformed},
		{"fragment", func() []byte { p := append([]byte(nil), good...); p[6] |= 0x20; return p }(), nil, 8, 2000, 0, ErrMalformed},
		{"bad IHL", func() []byte { p := append([]byte(nil), good...); p[0] = 0x44; return p }(), nil, 8, 2000, 0, ErrMalformed},
		{"bad data offset", func() []byte { p := append([]byte(nil), good...); p[32] = 0x40; return p }(), nil, 8, 2000, 0, ErrMalformed},
		{"not IP", func() []byte { p := append([]byte(nil), good...); p[0] = 0x25; return p }(), nil, 8, 2000, 0, ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hdr := goodHdr
			if tc.hdr != nil {
				tc.hdr(&hdr)
			}
			outs, sizes := segBufs(tc.outs, tc.stride)
			_, err := Segment(tc.pkt, &hdr, outs, tc.headroom, sizes)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if errors.Is(tc.want, ErrMalformed) || errors.Is(tc.want, ErrUnsupportedGSO) {
				if _, err := SegmentCount(tc.pkt, &hdr); !errors.Is(err, tc.want) {
					t.Fatalf("SegmentCount: got %v, want %v", err, tc.want)
				}
			}
		})
	}
}

func TestSegmentNonGSO(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		spec := baseSpec(v6)
		spec.payload = payloadBytes(999, 5)
		pkt, hdr := superPacket(t, spec, 1448)
		hdr.GSOType, hdr.GSOSize = GSONone, 0
		outs, sizes := segBufs(2, 2000)
		n, err := Segment(pkt, &hdr, outs, 16, sizes)
		if err != nil || n != 1 {
			t.Fatalf("v6=%v: n=%d err=%v", v6, n, err)
		}
		if w := build(t, spec); !bytes.Equal(outs[0][16:16+sizes[0]], w) {
			t.Fatalf("v6=%v: completed packet differs from gopacket's", v6)
		}
	}
}

func TestCompleteChecksum(t *testing.T) {
	for _, udp := range []bool{false, true} {
		for _, v6 := range []bool{false, true} {
			spec := baseSpec(v6)
			spec.udp = udp
			spec.payload = payloadBytes(1001, 9)
			want := build(t, spec)
			pkt, hdr := superPacket(t, spec, 1448)
			hdr.GSOType = GSONone
			if bytes.Equal(pkt, want) {
				t.Fatal("test setup: partial checksum equals the full one")
			}
			if err := CompleteChecksum(pkt, &hdr); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(pkt, want) {
				t.Fatalf("udp=%v v6=%v: completed %x, gopacket %x", udp, v6,
					binary.BigEndian.Uint16(pkt[int(hdr.CsumStart+hdr.CsumOffset):]),
					binary.BigEndian.Uint16(want[int(hdr.CsumStart+hdr.CsumOffset):]))
			}
			// Without NEEDS_CSUM nothing is touched.
			hdr.Flags = 0
			pkt[int(hdr.CsumStart+hdr.CsumOffset)] ^= 0xff
			saved := append([]byte(nil), pkt...)
			if err := CompleteChecksum(pkt, &hdr); err != nil || !bytes.Equal(pkt, saved) {
				t.Fatal("CompleteChecksum changed a packet without NEEDS_CSUM")
			}
		}
	}
	hdr := VirtioNetHdr{Flags: FlagNeedsCsum, CsumStart: 20, CsumOffset: 16}
	if err := CompleteChecksum(make([]byte, 37), &hdr); !errors.Is(err, ErrMalformed) {
		t.Fatalf("field outside packet: got %v", err)
	}
}
