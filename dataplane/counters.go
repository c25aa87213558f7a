package dataplane

import "sync/atomic"

// PortCounters count what crossed one port in one direction. Each field is
// written by one goroutine (the loop that owns that direction) and may be
// read by anyone at any time.
type PortCounters struct {
	Packets atomic.Uint64
	Bytes   atomic.Uint64
	Batches atomic.Uint64
	Errors  atomic.Uint64
}

// DirectionCounters are the counters of one forwarding direction, owned by
// that direction's loop, so no two cores ever write the same cache line.
type DirectionCounters struct {
	Rx, Tx   PortCounters
	Drops    [NumReasons]atomic.Uint64
	Tunnel   atomic.Uint64 // packets encapsulated (egress) or decapsulated (ingress)
	ICMPSent atomic.Uint64 // ICMP errors originated
	GSOSuper atomic.Uint64 // GSO super-packets split (egress) or built by GRO (ingress)
	GSOSegs  atomic.Uint64 // segments produced by splitting or absorbed by coalescing
	// WholeGSO counts super-packets that crossed without being split or
	// rebuilt: sent whole with UDP-tunnel GSO (egress), or received whole
	// from a peer's tunnel GSO and written to the pod side whole (ingress).
	WholeGSO atomic.Uint64
	// WholeSegs counts the segments the WholeGSO super-packets carry, so
	// that packets read (a super-packet is one) and packets written (one
	// per segment on the wire) can be reconciled exactly.
	WholeSegs atomic.Uint64
	// PartialChecksums counts delivered packets whose inner TCP/UDP
	// checksum held only the pseudo-header sum (a sender's kernel left it
	// for an offload that never ran) and was trusted and completed: see
	// Config.DropPartialChecksums. On nodes that each have their own NIC
	// it stays 0.
	PartialChecksums atomic.Uint64
	_                [64]byte // keep the next direction's counters off this cache line
}

// Counters are the engine's counters: Egress is pod side to underlay,
// Ingress is underlay to pod side.
type Counters struct {
	Egress  DirectionCounters
	Ingress DirectionCounters
}

// Drops returns the total drops for reason r over both directions.
func (c *Counters) Drops(r Reason) uint64 {
	return c.Egress.Drops[r].Load() + c.Ingress.Drops[r].Load()
}

// batchTally accumulates one batch's counts in plain integers so the loop
// touches each shared atomic once per batch, not once per packet.
type batchTally struct {
	rxPackets, rxBytes uint64
	txPackets, txBytes uint64
	tunnel, icmp       uint64
	gsoSuper, gsoSegs  uint64
	wholeGSO           uint64
	wholeSegs          uint64
	partial            uint64
	drops              [NumReasons]uint32
	dropped            bool
}

func (t *batchTally) drop(r Reason) {
	t.drops[r]++
	t.dropped = true
}

// flush adds the tally to d and clears it.
func (t *batchTally) flush(d *DirectionCounters) {
	d.Rx.Packets.Add(t.rxPackets)
	d.Rx.Bytes.Add(t.rxBytes)
	d.Rx.Batches.Add(1)
	if t.txPackets > 0 {
		d.Tx.Packets.Add(t.txPackets)
		d.Tx.Bytes.Add(t.txBytes)
		d.Tx.Batches.Add(1)
	}
	if t.tunnel > 0 {
		d.Tunnel.Add(t.tunnel)
	}
	if t.icmp > 0 {
		d.ICMPSent.Add(t.icmp)
	}
	if t.gsoSuper > 0 {
		d.GSOSuper.Add(t.gsoSuper)
		d.GSOSegs.Add(t.gsoSegs)
	}
	if t.wholeGSO > 0 {
		d.WholeGSO.Add(t.wholeGSO)
		d.WholeSegs.Add(t.wholeSegs)
	}
	if t.partial > 0 {
		d.PartialChecksums.Add(t.partial)
	}
	if t.dropped {
		for r, n := range t.drops {
			if n > 0 {
				d.Drops[r].Add(uint64(n))
			}
		}
	}
	*t = batchTally{}
}
