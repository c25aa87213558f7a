package offload

import "errors"

// Offsets into the IPv4 header (RFC 791):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Version|  IHL  |Type of Service|          Total Length         |
//	|         Identification        |Flags|      Fragment Offset    |
//	|  Time to Live |    Protocol   |         Header Checksum       |
//	|                       Source Address                          |
//	|                    Destination Address                        |
const (
	ipv4MinLen    = 20
	ipv4TOS       = 1
	ipv4TotalLen  = 2
	ipv4ID        = 4
	ipv4FragOff   = 6 // 3 flag bits then a 13-bit offset
	ipv4TTL       = 8
	ipv4Protocol  = 9
	ipv4Checksum  = 10
	ipv4Src       = 12
	ipv4Dst       = 16
	ipv4FlagDF    = 0x40 // in byte ipv4FragOff
	ipv4FlagMF    = 0x20 // in byte ipv4FragOff
	ipv4OffsetHi  = 0x1f // high bits of the fragment offset in byte ipv4FragOff
	ipv4MaxLength = 65535
)

// Offsets into the IPv6 fixed header (RFC 8200): version, traffic class and
// flow label share the first 4 bytes.
const (
	ipv6Len        = 40
	ipv6PayloadLen = 4
	ipv6NextHeader = 6
	ipv6HopLimit   = 7
	ipv6Src        = 8
	ipv6Dst        = 24
)

// Offsets into the TCP header (RFC 9293) and the UDP header (RFC 768).
const (
	tcpMinLen    = 20
	tcpSeq       = 4
	tcpAck       = 8
	tcpDataOff   = 12 // data offset in the high nibble
	tcpFlags     = 13
	tcpWindow    = 14
	tcpChecksum  = 16
	tcpUrgent    = 18
	udpLen       = 8
	udpLength    = 4
	udpChecksum  = 6
	protoTCP     = 6
	protoUDP     = 17
	tcpFlagFIN   = 0x01
	tcpFlagPSH   = 0x08
	tcpFlagACK   = 0x10
	tcpFlagCWR   = 0x80
	maxCoalesced = 65535 // largest IP packet a merged super-packet may be
)

// MaxCoalescedLen is the largest merged packet Coalesce builds, virtio_net_hdr
// included; output buffers of this length never limit coalescing.
const MaxCoalescedLen = VirtioNetHdrLen + maxCoalesced

// Sentinel errors. Callers test them with errors.Is.
var (
	// ErrTooManySegments: the super-packet needs more segments than outs (or
	// sizes) can hold.
	ErrTooManySegments = errors.New("offload: super-packet has more segments than output buffers")
	// ErrBufferTooSmall: an output buffer cannot hold headroom plus a segment.
	ErrBufferTooSmall = errors.New("offload: output buffer too small")
	// ErrMalformed: the packet's headers are inconsistent with themselves or
	// with its virtio_net_hdr.
	ErrMalformed = errors.New("offload: malformed packet or virtio_net_hdr")
	// ErrUnsupportedGSO: the GSO type is not one this package segments
	// (only TCPv4, TCPv6 and UDP_L4 are).
	ErrUnsupportedGSO = errors.New("offload: unsupported GSO type")
	// ErrBatchTooLarge: Coalesce was given more packets than the Coalescer
	// was built for.
	ErrBatchTooLarge = errors.New("offload: batch larger than the coalescer's maxBatch")
)
