package offload

import (
	"encoding/binary"
	"fmt"

	"github.com/podfwd/podfwd/encap"
)

// parse validates pkt against hdr and fills l. The packet length is taken
// from len(pkt): the kernel sets the IP length fields of a super-packet, but
// nothing downstream depends on them because every segment gets fresh ones.
func (l *gsoLayout) parse(pkt []byte, hdr *VirtioNetHdr) error {
	if len(pkt) == 0 {
		return fmt.Errorf("empty packet: %w", ErrMalformed)
	}
	version := pkt[0] >> 4
	switch hdr.GSOType &^ GSOECN {
	case GSOTCPv4:
		if version != 4 {
			return fmt.Errorf("GSO TCPv4 on IP version %d: %w", version, ErrMalformed)
		}
		l.proto = encap.ProtoTCP
	case GSOTCPv6:
		if version != 6 {
			return fmt.Errorf("GSO TCPv6 on IP version %d: %w", version, ErrMalformed)
		}
		l.proto = encap.ProtoTCP
	case GSOUDPL4:
		l.proto = encap.ProtoUDP
	default:
		return fmt.Errorf("GSO type %#x: %w", hdr.GSOType, ErrUnsupportedGSO)
	}
	if err := l.parseIP(pkt, version); err != nil {
		return err
	}
	if err := l.parseL4(pkt, hdr); err != nil {
		return err
	}
	if hdr.GSOSize == 0 {
		return fmt.Errorf("GSO with gso_size 0: %w", ErrMalformed)
	}
	l.gsoSize = int(hdr.GSOSize)
	payload := len(pkt) - l.hdrLen
	if payload == 0 {
		return fmt.Errorf("GSO super-packet without payload: %w", ErrMalformed)
	}
	if l.hdrLen+min(payload, l.gsoSize)-l.v6Base() > encap.IPv4MaxLen {
		return fmt.Errorf("segment exceeds the IP length field: %w", ErrMalformed)
	}
	l.segments = (payload + l.gsoSize - 1) / l.gsoSize
	return nil
}

// v6Base is the part of a segment not counted by the IP length field.
func (l *gsoLayout) v6Base() int {
	if l.v6 {
		return encap.IPv6Len
	}
	return 0
}

func (l *gsoLayout) parseIP(pkt []byte, version byte) error {
	switch version {
	case 4:
		if len(pkt) < encap.IPv4MinLen {
			return fmt.Errorf("short IPv4 header: %w", ErrMalformed)
		}
		l.v6 = false
		l.ipHdrLen = int(pkt[0]&0x0f) * 4
		if l.ipHdrLen < encap.IPv4MinLen || l.ipHdrLen > len(pkt) {
			return fmt.Errorf("IPv4 IHL %d: %w", l.ipHdrLen, ErrMalformed)
		}
		if binary.BigEndian.Uint16(pkt[encap.IPv4FlagsFragOffset:])&(encap.IPv4FlagMF|encap.IPv4FragOffsetMask) != 0 {
			return fmt.Errorf("GSO on an IPv4 fragment: %w", ErrMalformed)
		}
		if pkt[encap.IPv4ProtocolOffset] != l.proto {
			return fmt.Errorf("IPv4 protocol %d for GSO of %d: %w", pkt[encap.IPv4ProtocolOffset], l.proto, ErrMalformed)
		}
	case 6:
		if len(pkt) < encap.IPv6Len {
			return fmt.Errorf("short IPv6 header: %w", ErrMalformed)
		}
		l.v6 = true
		l.ipHdrLen = encap.IPv6Len
		// Extension headers would need walking; the kernel's TUN never
		// puts them in front of a TSO/USO packet it hands us.
		if pkt[encap.IPv6NextHeaderOffset] != l.proto {
			return fmt.Errorf("IPv6 next header %d for GSO of %d: %w", pkt[encap.IPv6NextHeaderOffset], l.proto, ErrUnsupportedGSO)
		}
	default:
		return fmt.Errorf("IP version %d: %w", version, ErrMalformed)
	}
	return nil
}

func (l *gsoLayout) parseL4(pkt []byte, hdr *VirtioNetHdr) error {
	csumOffset := encap.UDPChecksumOffset
	if l.proto == encap.ProtoTCP {
		csumOffset = encap.TCPChecksumOffset
		if len(pkt) < l.ipHdrLen+encap.TCPMinLen {
			return fmt.Errorf("short TCP header: %w", ErrMalformed)
		}
		tcpLen := int(pkt[l.ipHdrLen+encap.TCPDataOffOffset]>>4) * 4
		if tcpLen < encap.TCPMinLen || l.ipHdrLen+tcpLen > len(pkt) {
			return fmt.Errorf("TCP data offset %d: %w", tcpLen, ErrMalformed)
		}
		l.hdrLen = l.ipHdrLen + tcpLen
	} else {
		if len(pkt) < l.ipHdrLen+encap.UDPLen {
			return fmt.Errorf("short UDP header: %w", ErrMalformed)
		}
		l.hdrLen = l.ipHdrLen + encap.UDPLen
	}
	// hdr.HdrLen is advisory (guests are known to get it wrong), so the
	// header length comes from the packet; csum_start, when given, must
	// agree with it or we would checksum a different span than the sender.
	if hdr.Flags&FlagNeedsCsum != 0 && (int(hdr.CsumStart) != l.ipHdrLen || int(hdr.CsumOffset) != csumOffset) {
		return fmt.Errorf("csum_start %d/offset %d do not match headers: %w", hdr.CsumStart, hdr.CsumOffset, ErrMalformed)
	}
	return nil
}

// fixSegment rewrites the headers of segment i (payload starting at off in
// the super-packet's payload) that was just copied into seg.
func (l *gsoLayout) fixSegment(seg []byte, i, off int) {
	if l.v6 {
		binary.BigEndian.PutUint16(seg[encap.IPv6PayloadLenOffset:], uint16(len(seg)-encap.IPv6Len))
	} else {
		binary.BigEndian.PutUint16(seg[encap.IPv4TotalLenOffset:], uint16(len(seg)))
		id := binary.BigEndian.Uint16(seg[encap.IPv4IDOffset:])
		binary.BigEndian.PutUint16(seg[encap.IPv4IDOffset:], id+uint16(i))
		putIPv4HeaderChecksum(seg[:l.ipHdrLen])
	}
	l4 := seg[l.ipHdrLen:]
	var field int
	if l.proto == encap.ProtoTCP {
		seq := binary.BigEndian.Uint32(l4[encap.TCPSeqOffset:])
		binary.BigEndian.PutUint32(l4[encap.TCPSeqOffset:], seq+uint32(off))
		if i != l.segments-1 {
			l4[encap.TCPFlagsOffset] &^= encap.TCPFlagFIN | encap.TCPFlagPSH
		}
		if i != 0 {
			l4[encap.TCPFlagsOffset] &^= encap.TCPFlagCWR
		}
		field = encap.TCPChecksumOffset
	} else {
		binary.BigEndian.PutUint16(l4[encap.UDPLengthOffset:], uint16(len(l4)))
		field = encap.UDPChecksumOffset
	}
	l4[field], l4[field+1] = 0, 0
	src, dst := ipAddrs(seg, l.v6)
	sum := ^foldSum(sumBytes(l4, pseudoHeaderSum(src, dst, l.proto, len(l4))))
	if sum == 0 && l.proto == encap.ProtoUDP {
		sum = 0xffff // zero means "no checksum" in UDP
	}
	binary.BigEndian.PutUint16(l4[field:], sum)
}
