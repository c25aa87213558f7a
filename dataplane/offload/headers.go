package offload

import (
	"errors"

	"github.com/podfwd/podfwd/encap"
)

// maxCoalesced is the largest IP packet a merged super-packet may be: the
// most an IPv4 Total Length (and a TSO packet) can describe.
const maxCoalesced = encap.IPv4MaxLen

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
