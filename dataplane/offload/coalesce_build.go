package offload

import (
	"encoding/binary"

	"github.com/podfwd/podfwd/encap"
)

// emit turns the runs into c.result, building merged packets into outs.
func (c *Coalescer) emit(pkts [][]byte, outs [][]byte) {
	nextOut := 0
	for r := range c.runs {
		rn := &c.runs[r]
		if rn.count > 1 && nextOut < len(outs) && len(outs[nextOut]) >= VirtioNetHdrLen+rn.ipLen {
			n := c.build(pkts, rn, outs[nextOut])
			c.result = append(c.result, Output{In: -1, Out: nextOut, Len: n, Segments: rn.count, head: rn.head})
			nextOut++
			continue
		}
		for i := rn.head; i >= 0; i = c.next[i] {
			s := &c.segs[i]
			c.result = append(c.result, Output{In: i, Out: -1, Segments: 1, head: i, Verified: s.csumChecked && s.csumValid})
		}
	}
}

// build writes the virtio_net_hdr and the merged packet of rn into out and
// returns the bytes used.
//
// The merged packet carries NEEDS_CSUM with the pseudo-header sum in the TCP
// checksum field rather than a full checksum with DATA_VALID: it is what the
// kernel's own TUN and virtio-net produce for GSO packets, the kernel treats
// CHECKSUM_PARTIAL as verified on local delivery and fills the checksum in
// (in hardware where possible) if it forwards or resegments the packet, and
// it spares us a second pass over 64 KiB of payload. Every merged segment's
// checksum was verified before merging, so nothing unverified is vouched for.
func (c *Coalescer) build(pkts [][]byte, rn *run, out []byte) int {
	h := &c.segs[rn.head]
	hdr := VirtioNetHdr{
		Flags:      FlagNeedsCsum,
		GSOType:    GSOTCPv4,
		HdrLen:     uint16(h.hdrLen),
		GSOSize:    uint16(rn.gsoSize),
		CsumStart:  uint16(h.ipHdrLen),
		CsumOffset: encap.TCPChecksumOffset,
	}
	proto, csumOff := uint8(encap.ProtoTCP), encap.TCPChecksumOffset
	switch {
	case h.udp:
		// gso_size is the payload of each datagram; the kernel rewrites
		// each one's UDP length and adjusts the checksum from ours.
		hdr.GSOType, hdr.CsumOffset = GSOUDPL4, encap.UDPChecksumOffset
		proto, csumOff = encap.ProtoUDP, encap.UDPChecksumOffset
	case h.v6:
		hdr.GSOType = GSOTCPv6
	}
	_ = hdr.Encode(out) // out was checked to be long enough
	pkt := out[VirtioNetHdrLen : VirtioNetHdrLen+rn.ipLen]
	n := copy(pkt, pkts[rn.head][:h.ipLen])
	for i := c.next[rn.head]; i >= 0; i = c.next[i] {
		s := &c.segs[i]
		n += copy(pkt[n:], pkts[i][s.hdrLen:s.ipLen])
	}
	if h.udp {
		binary.BigEndian.PutUint16(pkt[h.ipHdrLen+encap.UDPLengthOffset:], uint16(n-h.ipHdrLen))
	}
	if c.segs[rn.tail].psh {
		pkt[h.ipHdrLen+encap.TCPFlagsOffset] |= encap.TCPFlagPSH
	}
	if h.v6 {
		binary.BigEndian.PutUint16(pkt[encap.IPv6PayloadLenOffset:], uint16(n-encap.IPv6Len))
	} else {
		binary.BigEndian.PutUint16(pkt[encap.IPv4TotalLenOffset:], uint16(n))
		putIPv4HeaderChecksum(pkt[:encap.IPv4MinLen])
	}
	src, dst := ipAddrs(pkt, h.v6)
	partial := foldSum(pseudoHeaderSum(src, dst, proto, n-h.ipHdrLen))
	binary.BigEndian.PutUint16(pkt[h.ipHdrLen+csumOff:], partial)
	return VirtioNetHdrLen + n
}
