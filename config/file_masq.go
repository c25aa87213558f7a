package config

import "net/netip"

// MasqueradePolicy is the file's egress masquerade setting, validated.
type MasqueradePolicy struct {
	// On: traffic from local pods to destinations outside the cluster
	// leaves with the node's address (file: masquerade, default true).
	On bool
	// NonMasquerade are further destinations that keep the pod's address
	// (file: nonMasqueradeCIDRs, as ip-masq-agent's list).
	NonMasquerade []netip.Prefix
}

// MasqueradePolicy validates the masquerade fields; errors name the field.
func (f *File) MasqueradePolicy() (MasqueradePolicy, error) {
	cidrs, err := parsePrefixes("nonMasqueradeCIDRs", f.NonMasqueradeCIDRs)
	if err != nil {
		return MasqueradePolicy{}, err
	}
	return MasqueradePolicy{On: On(f.Masquerade), NonMasquerade: cidrs}, nil
}
