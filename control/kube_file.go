package control

import (
	"github.com/podfwd/podfwd/dataplane"
)

// KubeBaseConfig validates f for the Kubernetes source and returns the
// template of its configs (KubeOptions.Base): everything the file decides,
// with LocalPodCIDRs only if the file lists some (otherwise our Node's)
// and no peers. Static peers and Kubernetes exclude each other, so a file
// listing both is an error rather than a silent merge.
func (f *File) KubeBaseConfig(lookup InterfaceLookup) (*dataplane.Config, error) {
	if len(f.Peers) > 0 {
		return nil, fieldErr("peers", "static peers cannot be combined with kubernetes.enabled")
	}
	g := *f
	if len(g.PodCIDRs) == 0 {
		// DataplaneConfig insists on a local pod CIDR; the Node supplies
		// ours later, so validate the rest with a stand-in and drop it.
		g.PodCIDRs = []string{"192.0.2.0/32"}
	}
	cfg, err := g.DataplaneConfig(lookup)
	if err != nil {
		return nil, err
	}
	if len(f.PodCIDRs) == 0 {
		cfg.LocalPodCIDRs = nil
	}
	return cfg, nil
}
