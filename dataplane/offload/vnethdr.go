// Package offload implements the segmentation and coalescing work that the
// kernel hands to a TUN device opened with IFF_VNET_HDR: splitting GSO
// super-packets into MSS-sized segments and coalescing received TCP segments
// into super-packets (GRO). It works on byte slices only; it does no I/O and
// imports nothing of podfwd but encap (for the checksum).
package offload

import (
	"encoding/binary"
	"errors"
)

// VirtioNetHdrLen is the size of struct virtio_net_hdr (without num_buffers),
// which the kernel prepends to every packet on a TUN with IFF_VNET_HDR.
const VirtioNetHdrLen = 10

// Flags of virtio_net_hdr.
const (
	// FlagNeedsCsum: the checksum at CsumStart+CsumOffset covers only the
	// pseudo-header and must be completed by whoever sends the packet.
	FlagNeedsCsum = 1
	// FlagDataValid: the checksum was already verified.
	FlagDataValid = 2
)

// GSO types of virtio_net_hdr.
const (
	GSONone  = 0
	GSOTCPv4 = 1
	GSOUDP   = 3
	GSOTCPv6 = 4
	GSOUDPL4 = 5
	GSOECN   = 0x80
)

// VirtioNetHdr is the metadata the kernel attaches to a TUN packet when
// IFF_VNET_HDR is set. Multi-byte fields are little-endian on the wire
// (virtio 1.0 on a little-endian host; TUNSETVNETLE is not needed on x86).
type VirtioNetHdr struct {
	Flags      uint8
	GSOType    uint8
	HdrLen     uint16 // bytes of L2-L4 headers in front of the payload
	GSOSize    uint16 // segment payload size (MSS) for GSO packets
	CsumStart  uint16
	CsumOffset uint16

	// OuterTHOffset and InnerNHOffset locate the outer UDP header and the
	// inner IP header of a UDP-tunnel GSO frame (see EncodeTunnel); zero
	// otherwise. The 10-byte header has no room for them.
	OuterTHOffset uint16
	InnerNHOffset uint16
}

// ErrShortVirtioNetHdr means a buffer is too small to hold a virtio_net_hdr.
var ErrShortVirtioNetHdr = errors.New("offload: buffer shorter than virtio_net_hdr")

// Decode reads a virtio_net_hdr from the first VirtioNetHdrLen bytes of b.
func (h *VirtioNetHdr) Decode(b []byte) error {
	if len(b) < VirtioNetHdrLen {
		return ErrShortVirtioNetHdr
	}
	h.Flags = b[0]
	h.GSOType = b[1]
	h.HdrLen = binary.LittleEndian.Uint16(b[2:])
	h.GSOSize = binary.LittleEndian.Uint16(b[4:])
	h.CsumStart = binary.LittleEndian.Uint16(b[6:])
	h.CsumOffset = binary.LittleEndian.Uint16(b[8:])
	return nil
}

// Encode writes h into the first VirtioNetHdrLen bytes of b.
func (h *VirtioNetHdr) Encode(b []byte) error {
	if len(b) < VirtioNetHdrLen {
		return ErrShortVirtioNetHdr
	}
	b[0] = h.Flags
	b[1] = h.GSOType
	binary.LittleEndian.PutUint16(b[2:], h.HdrLen)
	binary.LittleEndian.PutUint16(b[4:], h.GSOSize)
	binary.LittleEndian.PutUint16(b[6:], h.CsumStart)
	binary.LittleEndian.PutUint16(b[8:], h.CsumOffset)
	return nil
}

// IsGSO reports whether h describes a super-packet that must be segmented.
func (h *VirtioNetHdr) IsGSO() bool { return h.GSOType&^GSOECN != GSONone }
