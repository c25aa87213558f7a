package hostnet

import (
	"net/netip"

	"github.com/podfwd/podfwd/config"
	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/hostnet/masq"
)

// masqueradeRules are the masquerade rules for cfg under policy m: traffic from our pod CIDRs is
// masqueraded unless it goes to a pod of the cluster (ours or any peer's),
// to a node (ours or a peer's underlay address: pod-to-node traffic keeps
// the pod's address) or into m.NonMasquerade.
func masqueradeRules(m config.MasqueradePolicy, cfg *dataplane.Config) masq.Rules {
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
