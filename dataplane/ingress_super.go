package dataplane

import (
	"encoding/binary"

	"github.com/podfwd/podfwd/dataplane/offload"
	"github.com/podfwd/podfwd/encap"
)

// markSuperPacket prepares a decapsulated inner packet larger than the
// tunnel MTU for the TUN as a TCP GSO super-packet, so the kernel segments
// it toward the pod. Such packets are real: a sender whose tunnel device
// sits behind a veth (containers on one host, kind clusters) hands the
// wire one unsegmented GSO skb, and the kernel queues it to our UDP socket
// whole. TCP is a byte stream, so any segment size no larger than the
// tunnel allows is correct; UDP segments are datagram boundaries we cannot
// recover, so they are refused (the caller drops them, counted).
//
// The checksum rule: a whole super-packet from a peer's kernel arrives with
// the inner TCP checksum still partial (the pseudo-header sum its stack
// left for the segmenter) because it was never on a wire — a wire would
// have had it segmented, or an IP fragment reassembly would have had it
// completed by its sender. That pattern is trusted (partial reports it),
// as CheckL4 does for small packets, unless dropPartial
// (Config.DropPartialChecksums) refuses it. Anything else carries a real
// checksum, which is verified here before the kernel is told to compute
// fresh ones: recomputing over unverified bytes would launder a corrupted
// segment into a valid one. It returns ReasonNone on success, else the
// reason to drop.
// wholeSegmentMTU bounds the segments of a super-packet delivered whole:
// see markSuperPacket.
const wholeSegmentMTU = 1280

func markSuperPacket(p *Packet, pkt []byte, flow *encap.Flow, mtu int, dropPartial bool) (r Reason, partial bool) {
	if flow.Proto != encap.ProtoTCP {
		return ReasonOversizeInner, false
	}
	var l3 int
	var gsoType uint8
	var pseudo uint32
	switch flow.Version {
	case 4:
		l3 = int(pkt[0]&0x0f) * 4
		gsoType = offload.GSOTCPv4
		if len(pkt) < l3+encap.TCPMinLen {
			return ReasonOversizeInner, false
		}
		pseudo = encap.PseudoHeader4([4]byte(pkt[encap.IPv4SrcOffset:]), [4]byte(pkt[encap.IPv4DstOffset:]), encap.ProtoTCP, len(pkt)-l3)
	case 6:
		l3 = encap.IPv6Len
		gsoType = offload.GSOTCPv6
		if len(pkt) < l3+encap.TCPMinLen || pkt[encap.IPv6NextHeaderOffset] != encap.ProtoTCP {
			return ReasonOversizeInner, false
		}
		pseudo = encap.PseudoHeader6((*[16]byte)(pkt[encap.IPv6SrcOffset:]), (*[16]byte)(pkt[encap.IPv6DstOffset:]), encap.ProtoTCP, len(pkt)-l3)
	default:
		return ReasonOversizeInner, false
	}
	tcpLen := encap.TCP(pkt[l3:]).HeaderLen()
	// The sender's segment size is lost: a UDP socket does not say what
	// the peer kernel's GSO skb carried. The tunnel MTU is an upper bound,
	// but the pod's own link may be smaller (a pod MTU set below the
	// tunnel's, as for an IPv6 underlay), and a segment larger than it is
	// refused by the node's forwarding with frag-needed that the sender
	// can do nothing about: a black hole. Every link carries 1280 bytes
	// (IPv6's minimum), and TCP takes any segmentation, so that bound is
	// always right; it only matters where something must really segment.
	mss := min(mtu, wholeSegmentMTU) - l3 - tcpLen
	if tcpLen < encap.TCPMinLen || len(pkt) < l3+tcpLen || mss <= 0 {
		return ReasonOversizeInner, false
	}
	sum := uint16(encap.Fold(pseudo))
	partial = binary.BigEndian.Uint16(pkt[l3+encap.TCPChecksumOffset:]) == sum
	if partial && dropPartial {
		return ReasonBadInnerChecksum, false
	}
	if !partial {
		if offload.CheckL4(pkt) != offload.L4Valid {
			return ReasonBadInnerChecksum, false
		}
		// NEEDS_CSUM: the kernel completes the checksum of every segment
		// from the pseudo-header sum we leave in the field.
		binary.BigEndian.PutUint16(pkt[l3+encap.TCPChecksumOffset:], sum)
	}
	p.GSO = offload.VirtioNetHdr{
		Flags:      offload.FlagNeedsCsum,
		GSOType:    gsoType,
		HdrLen:     uint16(l3 + tcpLen),
		GSOSize:    uint16(mss),
		CsumStart:  uint16(l3),
		CsumOffset: encap.TCPChecksumOffset,
	}
	return ReasonNone, partial
}
