package control

import (
	"net/netip"

	"github.com/podfwd/podfwd/control/masq"
	"github.com/podfwd/podfwd/dataplane"
)

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

// Rules are the masquerade rules for cfg: traffic from our pod CIDRs is
// masqueraded unless it goes to a pod of the cluster (ours or any peer's),
// to a node (ours or a peer's underlay address: pod-to-node traffic keeps
// the pod's address) or into NonMasquerade.
func (m MasqueradePolicy) Rules(cfg *dataplane.Config) masq.Rules {
	r := masq.Rules{Sources: cfg.LocalPodCIDRs}
	r.Exempt = append(r.Exempt, cfg.LocalPodCIDRs...)
	r.Exempt = append(r.Exempt, m.NonMasquerade...)
	r.Exempt = appendHost(r.Exempt, cfg.LocalUnderlay)
	for _, p := range cfg.Peers {
		r.Exempt = append(r.Exempt, p.PodCIDRs...)
		r.Exempt = appendHost(r.Exempt, p.Underlay)
		r.Exempt = appendHost(r.Exempt, p.Underlay6)
	}
	return r
}

func appendHost(to []netip.Prefix, a netip.Addr) []netip.Prefix {
	if !a.IsValid() {
		return to
	}
	return append(to, netip.PrefixFrom(a, a.BitLen()))
}
