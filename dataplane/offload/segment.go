package offload

import (
	"encoding/binary"
	"fmt"
)

// gsoLayout is what Segment learns from validating a super-packet once.
type gsoLayout struct {
	v6       bool
	proto    uint8 // encap.ProtoTCP or encap.ProtoUDP
	ipHdrLen int
	hdrLen   int // IP + L4 header bytes copied in front of every segment
	gsoSize  int
	segments int
}

// Segment splits the super-packet pkt (an IP packet; hdr from its
// virtio_net_hdr) into complete IP packets of at most hdr.GSOSize payload
// bytes each. Segment i is written to outs[i][headroom:] and its length stored
// in sizes[i]; outs may be sub-slices of one buffer at a fixed stride. Every
// segment gets its own IPv4 total length, ID (incremented per segment) and
// header checksum or IPv6 payload length; TCP segments get advanced sequence
// numbers, FIN and PSH only on the last, CWR only on the first; UDP_L4
// segments get their own UDP length. L4 checksums are computed in full, so
// the pseudo-header sum the kernel left in pkt is not trusted. A non-GSO
// packet is copied as one segment, its checksum completed when NEEDS_CSUM is
// set. pkt is only read. It returns the number of segments or one of
// ErrTooManySegments, ErrBufferTooSmall, ErrMalformed, ErrUnsupportedGSO
// (wrapped); on error the contents of outs are unspecified. It allocates
// nothing and is safe for concurrent use on distinct buffers.
func Segment(pkt []byte, hdr *VirtioNetHdr, outs [][]byte, headroom int, sizes []int) (int, error) {
	if headroom < 0 {
		return 0, fmt.Errorf("negative headroom: %w", ErrBufferTooSmall)
	}
	if !hdr.IsGSO() {
		return copyOne(pkt, hdr, outs, headroom, sizes)
	}
	var l gsoLayout
	if err := l.parse(pkt, hdr); err != nil {
		return 0, err
	}
	if l.segments > len(outs) || l.segments > len(sizes) {
		return 0, ErrTooManySegments
	}
	payload := pkt[l.hdrLen:]
	for i := 0; i < l.segments; i++ {
		off := i * l.gsoSize
		n := min(l.gsoSize, len(payload)-off)
		segLen := l.hdrLen + n
		out := outs[i]
		if headroom > len(out) || len(out)-headroom < segLen {
			return 0, ErrBufferTooSmall
		}
		seg := out[headroom : headroom+segLen]
		copy(seg, pkt[:l.hdrLen])
		copy(seg[l.hdrLen:], payload[off:off+n])
		l.fixSegment(seg, i, off)
		sizes[i] = segLen
	}
	return l.segments, nil
}

// SegmentCount returns how many segments Segment would produce for pkt and
// hdr (1 for a non-GSO packet), so that a caller can take exactly that many
// buffers first. It validates the headers as Segment does and returns the
// same errors for malformed or unsupported input.
func SegmentCount(pkt []byte, hdr *VirtioNetHdr) (int, error) {
	if !hdr.IsGSO() {
		if len(pkt) == 0 {
			return 0, fmt.Errorf("empty packet: %w", ErrMalformed)
		}
		return 1, nil
	}
	var l gsoLayout
	if err := l.parse(pkt, hdr); err != nil {
		return 0, err
	}
	return l.segments, nil
}

// copyOne is Segment for an ordinary packet: one copy, checksum completed.
func copyOne(pkt []byte, hdr *VirtioNetHdr, outs [][]byte, headroom int, sizes []int) (int, error) {
	if len(pkt) == 0 {
		return 0, fmt.Errorf("empty packet: %w", ErrMalformed)
	}
	if len(outs) < 1 || len(sizes) < 1 {
		return 0, ErrTooManySegments
	}
	if headroom > len(outs[0]) || len(outs[0])-headroom < len(pkt) {
		return 0, ErrBufferTooSmall
	}
	seg := outs[0][headroom : headroom+len(pkt)]
	copy(seg, pkt)
	if err := CompleteChecksum(seg, hdr); err != nil {
		return 0, err
	}
	sizes[0] = len(pkt)
	return 1, nil
}

// CompleteChecksum finishes, in place, the checksum of a packet whose
// virtio_net_hdr has NEEDS_CSUM: the 16-bit field at CsumStart+CsumOffset
// holds the pseudo-header sum, and the ones'-complement sum from CsumStart to
// the end of pkt is folded into it. Without NEEDS_CSUM it does nothing. A
// result of zero is written as 0xffff (as the kernel does), which keeps UDP's
// "no checksum" value unused. A field outside pkt or at an odd offset is
// ErrMalformed. It allocates nothing.
func CompleteChecksum(pkt []byte, hdr *VirtioNetHdr) error {
	if hdr.Flags&FlagNeedsCsum == 0 {
		return nil
	}
	start, field := int(hdr.CsumStart), int(hdr.CsumStart)+int(hdr.CsumOffset)
	// An odd offset would straddle the 16-bit words being summed; no
	// Internet-checksummed protocol puts its checksum there.
	if start >= len(pkt) || field+2 > len(pkt) || hdr.CsumOffset%2 != 0 {
		return fmt.Errorf("checksum at %d+%d outside %d-byte packet: %w",
			hdr.CsumStart, hdr.CsumOffset, len(pkt), ErrMalformed)
	}
	sum := ^foldSum(sumBytes(pkt[start:], 0))
	if sum == 0 {
		sum = 0xffff
	}
	binary.BigEndian.PutUint16(pkt[field:], sum)
	return nil
}
