// Package dataplane is podfwd's forwarding engine: packet buffers with
// headroom, the Port batch interface, the immutable forwarding config, the
// pipeline of stages over batches, counters by named reason, and the trace
// hook. It never imports the control plane.
package dataplane

import (
	"net/netip"

	"github.com/podfwd/podfwd/dataplane/offload"
)

// Headroom is the space reserved in front of every received packet so that
// any encapsulation can be prepended without moving the payload: outer
// Ethernet (14) + IPv6 (40) + UDP (8) + Geneve with maximum options (8+252)
// + inner Ethernet (14) = 336, rounded up to a cache-line multiple, plus room
// for a virtio-net header.
const Headroom = 384

// Packet is one buffer travelling from receive to send. The bytes on the
// wire are Buf[Start:End]; Buf[:Start] is headroom for encapsulation and
// decapsulation moves Start forward. Packets belong to a Pool; a stage that
// holds a *Packet owns it until it hands it on or returns it.
type Packet struct {
	Buf   []byte // whole backing buffer; never re-sliced or reallocated
	Start int    // first byte of the packet
	End   int    // one past the last byte

	// GSO is the virtio-net header metadata of a TUN super-packet (tun io
	// with offloads); the zero value means an ordinary packet.
	GSO offload.VirtioNetHdr

	// Addr is the underlay peer: the source on receive from an underlay
	// port, the destination on send to one.
	Addr netip.AddrPort

	// Segments, when > 1, says the packet holds that many equal-sized
	// datagrams of SegmentSize bytes (last may be shorter), to be sent with
	// UDP GSO or as received with UDP GRO.
	Segments    int
	SegmentSize int
}

// Bytes returns the packet's current contents, Buf[Start:End].
func (p *Packet) Bytes() []byte { return p.Buf[p.Start:p.End] }

// Len returns the length of the packet's contents.
func (p *Packet) Len() int { return p.End - p.Start }

// HeadroomLeft returns how many bytes can still be prepended.
func (p *Packet) HeadroomLeft() int { return p.Start }

// Prepend moves Start back by n bytes and returns the new first n bytes for
// the caller to fill, or nil when the headroom is too small.
func (p *Packet) Prepend(n int) []byte {
	if n > p.Start {
		return nil
	}
	p.Start -= n
	return p.Buf[p.Start : p.Start+n]
}

// Advance drops the first n bytes (decapsulation). It reports false, and
// changes nothing, when the packet is shorter than n.
func (p *Packet) Advance(n int) bool {
	if n > p.End-p.Start {
		return false
	}
	p.Start += n
	return true
}

// Reset empties the packet, leaving headroom bytes in front, and clears its
// metadata so nothing leaks from the previous use of the buffer.
func (p *Packet) Reset(headroom int) {
	p.Start = headroom
	p.End = headroom
	p.GSO = offload.VirtioNetHdr{}
	p.Addr = netip.AddrPort{}
	p.Segments = 0
	p.SegmentSize = 0
}

// SetLen sets the packet to hold n bytes starting at Start, as after a read
// into Buf[Start:].
func (p *Packet) SetLen(n int) { p.End = p.Start + n }
