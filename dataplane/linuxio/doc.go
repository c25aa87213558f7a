// Package linuxio holds podfwd's Linux I/O ports: a TUN device with
// virtio-net header offloads, a UDP socket batched with recvmmsg/sendmmsg and
// UDP GSO/GRO, a raw IP socket for IPIP, and the one-packet-per-syscall
// "udp-process" baseline that mirrors flannel's udp backend. Every port
// implements dataplane.Port. On other systems the constructors return
// ErrUnsupported.
package linuxio

import "errors"

// ErrUnsupported is returned by the constructors on systems other than Linux.
var ErrUnsupported = errors.New("linuxio: not supported on this system")

// ErrNoHeadroom means a packet's Start leaves less room in front than the
// port must prepend (the 10-byte virtio-net header on a TUN with offloads).
var ErrNoHeadroom = errors.New("linuxio: packet has too little headroom")

// ErrShortBuffer means a packet's buffer has less room after Start than the
// port needs to receive into it (65535 bytes with UDP GRO).
var ErrShortBuffer = errors.New("linuxio: packet buffer too small")

// ErrNoAddr means a packet written to an underlay port has no valid
// destination in Addr, or one of an address family the socket cannot reach.
var ErrNoAddr = errors.New("linuxio: packet has no usable destination address")

// ErrBadSegments means a packet has Segments > 1 but no positive
// SegmentSize, so it cannot be sent as a GSO train.
var ErrBadSegments = errors.New("linuxio: packet has Segments > 1 and no SegmentSize")
