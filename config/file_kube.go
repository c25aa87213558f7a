package config

import (
	"net/netip"

	"github.com/podfwd/podfwd/dataplane"
	"gopkg.in/yaml.v3"
)

// UnmarshalYAML accepts `kubernetes: true` (or false) as a shorthand for
// `kubernetes: {enabled: true}`, besides the full mapping.
func (k *Kubernetes) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		var on bool
		if err := n.Decode(&on); err != nil {
			return FieldError("kubernetes", "%q is neither a boolean nor a mapping", n.Value)
		}
		*k = Kubernetes{Enabled: on}
		return nil
	}
	// A custom decoder loses the file's strict mode, so unknown keys are
	// refused here: a typo must not silently disable a setting.
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			switch key := n.Content[i].Value; key {
			case "enabled", "kubeconfig", "socket":
			default:
				return FieldError("kubernetes."+key, "unknown field")
			}
		}
	}
	type plain Kubernetes // no UnmarshalYAML: decodes the mapping as usual
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	*k = Kubernetes(p)
	return nil
}

// NeedsNodeUnderlay reports whether the file leaves the underlay address to
// the Kubernetes source: enabled, with neither underlay.address nor
// underlay.interface set. The Kubernetes source then fills it in from our
// Node (kube.ResolveNodeUnderlay).
func (f *File) NeedsNodeUnderlay() bool {
	return f.Kubernetes.Enabled && f.Underlay.Address == "" && f.Underlay.Interface == ""
}

// KubeBaseConfig validates f for the Kubernetes source and returns the
// template of its configs (kube.Options.Base): everything the file decides,
// with LocalPodCIDRs only if the file lists some (otherwise our Node's)
// and no peers. Static peers and Kubernetes exclude each other, so a file
// listing both is an error rather than a silent merge.
func (f *File) KubeBaseConfig(lookup InterfaceLookup) (*dataplane.Config, error) {
	if len(f.Peers) > 0 {
		return nil, FieldError("peers", "static peers cannot be combined with kubernetes.enabled")
	}
	g := *f
	if len(g.PodCIDRs) == 0 {
		// DataplaneConfig insists on a local pod CIDR; the Node supplies
		// ours later, so validate the rest with a stand-in and drop it.
		g.PodCIDRs = []string{netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 0, 2, 0}), 32).String()}
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
