package kube

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/podfwd/podfwd/config"
	"github.com/podfwd/podfwd/dataplane"
	corev1 "k8s.io/api/core/v1"
)

// Annotations podfwd publishes on its own Node and reads from its peers'.
// The names follow flannel's kube subnet manager (public-ip and its
// operator-set overwrite), under our own prefix.
const (
	AnnotationPrefix            = "podfwd.io/"
	AnnotationPublicIP          = AnnotationPrefix + "public-ip"
	AnnotationPublicIPOverwrite = AnnotationPrefix + "public-ip-overwrite"
	AnnotationPublicIP6         = AnnotationPrefix + "public-ip6"
	AnnotationVTEPMAC           = AnnotationPrefix + "vtep-mac"
	AnnotationEncap             = AnnotationPrefix + "encap"
	AnnotationVNI               = AnnotationPrefix + "vni"
	AnnotationPort              = AnnotationPrefix + "port"
)

// nodeView is what podfwd uses of one Node: the pod CIDRs and, for a peer,
// how to reach it. skip says why the Node cannot be a peer ("" when it
// can). Two views are equal exactly when the Node changed nothing we use.
type nodeView struct {
	podCIDRs []netip.Prefix
	peer     dataplane.Peer
	skip     string
}

func (v nodeView) equal(o nodeView) bool {
	return v.skip == o.skip && slices.Equal(v.podCIDRs, o.podCIDRs) && peerEqual(v.peer, o.peer)
}

func peerEqual(a, b dataplane.Peer) bool {
	return a.Name == b.Name && a.Underlay == b.Underlay && a.Underlay6 == b.Underlay6 &&
		a.VTEPMAC == b.VTEPMAC && a.UnderlayMAC == b.UnderlayMAC && slices.Equal(a.PodCIDRs, b.PodCIDRs)
}

// viewNode derives what we use of n. Everything on a Node is written by
// others, so nothing here trusts it: bad values make the Node skipped with
// a reason, never an error or a panic. family4 says whether our underlay
// is IPv4, so a peer is reached over the same family.
func viewNode(n *corev1.Node, family4 bool) nodeView {
	v := nodeView{peer: dataplane.Peer{Name: n.Name}}
	cidrs := n.Spec.PodCIDRs
	if len(cidrs) == 0 && n.Spec.PodCIDR != "" {
		cidrs = []string{n.Spec.PodCIDR}
	}
	for _, s := range cidrs {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil || p != p.Masked() {
			v.skip = fmt.Sprintf("pod CIDR %q is not a canonical CIDR", s)
			v.podCIDRs = nil // all or nothing: half a node's CIDRs is no answer
			return v
		}
		v.podCIDRs = append(v.podCIDRs, p)
	}
	if len(v.podCIDRs) == 0 {
		v.skip = "no pod CIDR (spec.podCIDRs and spec.podCIDR are empty)"
		return v
	}
	v.peer.PodCIDRs = v.podCIDRs

	ann := n.Annotations
	under, why := nodeUnderlay(n, family4)
	if !under.IsValid() {
		v.skip = why
		return v
	}
	v.peer.Underlay = under
	v.peer.VTEPMAC = config.VTEPMACFor(under)
	if s, ok := ann[AnnotationVTEPMAC]; ok {
		mac, err := config.ParseMAC(AnnotationVTEPMAC, s)
		if err != nil {
			v.skip = err.Error()
			return v
		}
		v.peer.VTEPMAC = mac
	}
	// The IPv6 underlay only serves native routing of IPv6 pod CIDRs over
	// an IPv4 underlay; a bad one costs that, not the whole peer.
	if family4 {
		if a, err := netip.ParseAddr(strings.TrimSpace(ann[AnnotationPublicIP6])); err == nil && a.Is6() && !a.Is4In6() {
			v.peer.Underlay6 = a
		} else {
			v.peer.Underlay6 = internalIP(n, false)
		}
	}
	return v
}

// nodeUnderlay picks a Node's underlay address of our family: the
// operator's overwrite annotation, else the address the node's podfwd
// published, else its first InternalIP.
func nodeUnderlay(n *corev1.Node, family4 bool) (netip.Addr, string) {
	for _, key := range []string{AnnotationPublicIPOverwrite, AnnotationPublicIP} {
		s, ok := n.Annotations[key]
		if !ok {
			continue
		}
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil || a.Is4In6() || a.Zone() != "" {
			return netip.Addr{}, fmt.Sprintf("annotation %s=%q is not an IP address", key, s)
		}
		if a.Is4() != family4 {
			return netip.Addr{}, fmt.Sprintf("annotation %s=%s is not of our underlay's IP family", key, a)
		}
		return a, ""
	}
	if a := internalIP(n, family4); a.IsValid() {
		return a, ""
	}
	return netip.Addr{}, "no underlay address (no podfwd.io/public-ip annotation, no InternalIP of our family)"
}

// internalIP is the Node's first InternalIP of the given family, or zero.
func internalIP(n *corev1.Node, family4 bool) netip.Addr {
	for _, a := range n.Status.Addresses {
		if a.Type != corev1.NodeInternalIP {
			continue
		}
		ip, err := netip.ParseAddr(strings.TrimSpace(a.Address))
		if err == nil && ip.Zone() == "" && !ip.Is4In6() && ip.Is4() == family4 {
			return ip
		}
	}
	return netip.Addr{}
}
