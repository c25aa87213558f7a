package dataplane

import "testing"

// assertConserved fails t unless every packet the engine read is
// accounted for, in the units each counter counts (see the metrics'
// conservation check in cmd/podfwd): on ingress, datagrams received =
// packets written to the pod side + drops + the segments GRO merged beyond
// one per super-packet; on egress, packets read (a super-packet is one) +
// the segments splitting or whole sending made beyond one = datagrams
// sent + drops.
func assertConserved(t *testing.T, c *Counters) {
	t.Helper()
	sum := func(d *DirectionCounters) (n uint64) {
		for r := range d.Drops {
			n += d.Drops[r].Load()
		}
		return n
	}
	in := &c.Ingress
	if rx, rest := in.Rx.Packets.Load(), in.Tx.Packets.Load()+sum(in)+in.GSOSegs.Load()-in.GSOSuper.Load(); rx != rest {
		t.Errorf("ingress: %d datagrams received, %d accounted for (tx %d, drops %d, coalesced %d into %d)",
			rx, rest, in.Tx.Packets.Load(), sum(in), in.GSOSegs.Load(), in.GSOSuper.Load())
	}
	eg := &c.Egress
	read := eg.Rx.Packets.Load() + eg.GSOSegs.Load() - eg.GSOSuper.Load() + eg.WholeSegs.Load() - eg.WholeGSO.Load()
	if out := eg.Tx.Packets.Load() + sum(eg); read != out {
		t.Errorf("egress: %d packets read (%d, split %d into %d, whole %d carrying %d) but %d accounted for (tx %d, drops %d)",
			read, eg.Rx.Packets.Load(), eg.GSOSuper.Load(), eg.GSOSegs.Load(), eg.WholeGSO.Load(), eg.WholeSegs.Load(),
			out, eg.Tx.Packets.Load(), sum(eg))
	}
}
