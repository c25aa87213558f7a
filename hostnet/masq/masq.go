// Package masq programs podfwd's egress masquerade: traffic from local pods
// to destinations outside the cluster leaves with the node's address, as
// flannel's --ip-masq and ip-masq-agent do. The rules live in one nftables
// table that podfwd owns alone (inet podfwd): every change rewrites the
// whole table in one transaction, so a table left by a crashed run is
// adopted rather than duplicated, and removing it removes everything.
package masq

import (
	"net/netip"
	"slices"
)

// TableName is the name of the inet table podfwd owns (`nft list table
// inet podfwd`). Nothing else may write to it.
const TableName = "podfwd"

// Rules is what the table says: packets from Sources to any destination
// outside Exempt are masqueraded. Both families may be mixed.
type Rules struct {
	// Sources are the local pod CIDRs.
	Sources []netip.Prefix
	// Exempt are destinations kept un-NATed: every pod CIDR of the
	// cluster, the nodes' addresses and the configured non-masquerade
	// CIDRs.
	Exempt []netip.Prefix
}

// equal reports whether r and o program the same table.
func (r Rules) equal(o Rules) bool {
	for _, v4 := range []bool{true, false} {
		if !slices.Equal(spans(r.Sources, v4), spans(o.Sources, v4)) ||
			!slices.Equal(spans(r.Exempt, v4), spans(o.Exempt, v4)) {
			return false
		}
	}
	return true
}
