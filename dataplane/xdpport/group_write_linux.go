package xdpport

import (
	"unsafe"

	"github.com/podfwd/podfwd/dataplane"
)

// copyMember is the member that sends the packets no member lent out (the
// TUN-to-underlay direction). One fixed member keeps each flow's packets
// in order on the wire: the members' TX rings are separate queues, and a
// flow spread over them could be reordered by a multi-queue NIC, which TCP
// takes for loss. Spreading would buy no CPU either, since one writer
// goroutine does every copy; the rings and frames of one socket are sized
// for a full batch.
const copyMember = 0

// WriteBatch sends each packet as one Ethernet frame and returns how many
// it queued. A packet lent out by member k is sent in place on member k's
// TX ring (its UMEM holds the frame); every other packet is copied into a
// frame of the first member. Each member's share goes out in the order of
// pkts; when one member fails, the others' shares are still sent, so the
// packets not sent need not be the tail of pkts, and the first error is
// returned.
func (g *Group) WriteBatch(pkts []*dataplane.Packet) (int, error) {
	g.calls.Add(1)
	defer g.calls.Add(-1)
	if g.closed.Load() {
		return 0, dataplane.ErrPortClosed
	}
	sent := 0
	var first error
	for start := 0; start < len(pkts); start += g.batch {
		k, err := g.writeChunk(pkts[start:min(len(pkts), start+g.batch)])
		sent += k
		if first == nil {
			first = err
		}
	}
	return sent, first
}

// WriteTo sends pkts on member i (a pod's own veth in a group of pods'
// sockets), as that member's WriteBatch would: in place for frames member
// i lent out, copied otherwise. Writer side only.
func (g *Group) WriteTo(i int, pkts []*dataplane.Packet) (int, error) {
	g.calls.Add(1)
	defer g.calls.Add(-1)
	if g.closed.Load() {
		return 0, dataplane.ErrPortClosed
	}
	return g.members[i].WriteBatch(pkts)
}

// writeChunk sends up to g.batch packets. A chunk that belongs to one
// member (all copies, or all frames of one queue: the usual case) goes to
// it whole; a mixed one is split into g.shares first.
func (g *Group) writeChunk(chunk []*dataplane.Packet) (int, error) {
	owner := g.ownerOf(chunk[0])
	mixed := false
	for _, pk := range chunk[1:] {
		if g.ownerOf(pk) != owner {
			mixed = true
			break
		}
	}
	if !mixed {
		return g.members[owner].WriteBatch(chunk)
	}
	for _, pk := range chunk {
		o := g.ownerOf(pk)
		g.shares[o] = append(g.shares[o], pk)
	}
	sent := 0
	var first error
	for i, share := range g.shares {
		if len(share) == 0 {
			continue
		}
		k, err := g.members[i].WriteBatch(share)
		sent += k
		if first == nil {
			first = err
		}
		clear(share) // keep no *Packet past the call
		g.shares[i] = share[:0]
	}
	return sent, first
}

// ownerOf returns the member whose UMEM holds pk's buffer, or copyMember.
// A linear scan: groups are a few queues or pods, and it compares two
// addresses per member.
func (g *Group) ownerOf(pk *dataplane.Packet) int {
	if cap(pk.Buf) == 0 {
		return copyMember
	}
	at := uintptr(unsafe.Pointer(unsafe.SliceData(pk.Buf)))
	for i, m := range g.members {
		if at-m.umemBase < m.umemLen {
			return i
		}
	}
	return copyMember
}
