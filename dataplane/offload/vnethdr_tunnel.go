package offload

import "encoding/binary"

// VirtioNetHdrTunnelLen is the size of struct virtio_net_hdr_v1_hash_tunnel:
// the 12-byte virtio_net_hdr_v1, 8 bytes of RSS hash report, then the outer
// transport and inner network header offsets. A TUN/TAP device takes it
// after TUNSETVNETHDRSZ 24 with TUN_F_UDP_TUNNEL_GSO negotiated (Linux 6.17+).
const VirtioNetHdrTunnelLen = 24

// GSOUDPTunnelIPv4 (VIRTIO_NET_HDR_GSO_UDP_TUNNEL_IPV4), or-ed with the
// inner GSO type: the packet is a UDP-tunnel GSO packet with an IPv4
// outer header and an outer UDP checksum of zero.
const GSOUDPTunnelIPv4 = 0x20

// EncodeTunnel writes h as a virtio_net_hdr_v1_hash_tunnel into the first
// VirtioNetHdrTunnelLen bytes of b: num_buffers and the hash report are
// zero, OuterTHOffset and InnerNHOffset follow. Offsets count from the
// frame's first byte (its Ethernet header).
func (h *VirtioNetHdr) EncodeTunnel(b []byte) error {
	if len(b) < VirtioNetHdrTunnelLen {
		return ErrShortVirtioNetHdr
	}
	_ = h.Encode(b)
	clear(b[VirtioNetHdrLen:20])
	binary.LittleEndian.PutUint16(b[20:], h.OuterTHOffset)
	binary.LittleEndian.PutUint16(b[22:], h.InnerNHOffset)
	return nil
}
