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
func markSuperPacket(p *Packet, pkt []byte, flow *encap.Flow, mtu int) bool {
	if flow.Proto != 6 {
		return false
	}
	var l3 int
	var gsoType uint8
	var pseudo uint32
	switch flow.Version {
	case 4:
		l3 = int(pkt[0]&0x0f) * 4
		gsoType = offload.GSOTCPv4
		if len(pkt) < l3+20 {
			return false
		}
		pseudo = encap.PseudoHeader4([4]byte(pkt[12:16]), [4]byte(pkt[16:20]), 6, len(pkt)-l3)
	case 6:
		l3 = 40
		gsoType = offload.GSOTCPv6
		if len(pkt) < l3+20 || pkt[6] != 6 {
			return false
		}
		pseudo = encap.PseudoHeader6((*[16]byte)(pkt[8:24]), (*[16]byte)(pkt[24:40]), 6, len(pkt)-l3)
	default:
		return false
	}
	tcpLen := int(pkt[l3+12]>>4) * 4
	mss := mtu - l3 - tcpLen
	if tcpLen < 20 || len(pkt) < l3+tcpLen || mss <= 0 {
		return false
	}
	// NEEDS_CSUM: the kernel completes the checksum of every segment from
	// the pseudo-header sum we leave in the field.
	binary.BigEndian.PutUint16(pkt[l3+16:], uint16(encap.Fold(pseudo)))
	p.GSO = offload.VirtioNetHdr{
		Flags:      offload.FlagNeedsCsum,
		GSOType:    gsoType,
		HdrLen:     uint16(l3 + tcpLen),
		GSOSize:    uint16(mss),
		CsumStart:  uint16(l3),
		CsumOffset: 16,
	}
	return true
}
