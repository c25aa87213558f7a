package node

import (
	"log/slog"
	"net/netip"

	"github.com/podfwd/podfwd/dataplane"
)

// macChange is one Ethernet address frame mode uses that differs between
// the config in force and the next one: our interface's (peer == "") or a
// peer's next hop's.
type macChange struct {
	peer     string
	underlay netip.Addr
	hop      netip.Addr
	old, new [6]byte
	added    bool  // the peer was not in the previous config
	err      error // why the peer has no next hop at all
}

// withFrameAddresses returns a copy of src (whose peers it copies, never
// changing src) carrying fa's MACs, and what differs from prev, the
// config in force (nil at the start: every peer is added). The copy's
// Generation is above prev's even when src's is not, so that a MAC-only
// change is a new generation in metrics and traces too.
func withFrameAddresses(src, prev *dataplane.Config, fa frameAddresses) (*dataplane.Config, []macChange) {
	next := *src
	next.Peers = append([]dataplane.Peer(nil), src.Peers...)
	next.LocalUnderlayMAC = fa.local
	var changes []macChange
	before := map[netip.Addr][6]byte{}
	if prev != nil {
		if next.Generation <= prev.Generation {
			next.Generation = prev.Generation + 1
		}
		if prev.LocalUnderlayMAC != fa.local {
			changes = append(changes, macChange{old: prev.LocalUnderlayMAC, new: fa.local})
		}
		for _, p := range prev.Peers {
			before[p.Underlay] = p.UnderlayMAC
		}
	}
	for i := range next.Peers {
		p := &next.Peers[i]
		h := fa.peers[p.Underlay]
		p.UnderlayMAC = h.mac
		old, known := before[p.Underlay]
		if !known || old != h.mac {
			changes = append(changes, macChange{peer: p.Name, underlay: p.Underlay, hop: h.hop,
				old: old, new: h.mac, added: !known, err: h.err})
		}
	}
	return &next, changes
}

// logMACChanges logs each change once, as it is installed.
func logMACChanges(log *slog.Logger, generation uint64, changes []macChange) {
	for _, c := range changes {
		switch {
		case c.peer == "":
			log.Info("underlay interface MAC changed; frames leave from the new one", "old", macString(c.old), "new", macString(c.new), "generation", generation)
		case c.err != nil:
			log.Warn("peer has no next hop on the underlay interface; its frames are dropped until it has",
				"peer", c.peer, "underlay", c.underlay, "err", c.err, "generation", generation)
		case c.new == [6]byte{}:
			attrs := []any{"peer", c.peer, "underlay", c.underlay, "nextHop", c.hop, "generation", generation}
			if c.old != [6]byte{} {
				attrs = append(attrs, "wasMAC", macString(c.old))
			}
			log.Warn("peer's next hop unresolved; its frames are dropped as neighbour-unresolved until it resolves", attrs...)
		case c.added || c.old == [6]byte{}:
			log.Info("peer next hop resolved", "peer", c.peer, "underlay", c.underlay, "nextHop", c.hop, "mac", macString(c.new), "generation", generation)
		default:
			log.Info("peer next hop MAC changed", "peer", c.peer, "underlay", c.underlay, "nextHop", c.hop,
				"old", macString(c.old), "new", macString(c.new), "generation", generation)
		}
	}
}
