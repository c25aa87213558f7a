package kube

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/podfwd/podfwd/config"
	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/encap"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func testNode(name string, cidrs []string, ann map[string]string, addrs ...corev1.NodeAddress) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: ann},
		Spec:       corev1.NodeSpec{PodCIDRs: cidrs},
		Status:     corev1.NodeStatus{Addresses: addrs},
	}
}

func internal(a string) corev1.NodeAddress {
	return corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: a}
}

func TestViewNode(t *testing.T) {
	mac := [6]byte{0x0a, 1, 2, 3, 4, 5}
	for _, tc := range []struct {
		name     string
		node     *corev1.Node
		wantSkip string // substring; "" means a usable peer
		want     dataplane.Peer
	}{
		{"internal IP", testNode("a", []string{"10.244.1.0/24"}, nil, internal("fd00::1"), internal("10.0.0.1")),
			"", dataplane.Peer{Name: "a", Underlay: netip.MustParseAddr("10.0.0.1"), Underlay6: netip.MustParseAddr("fd00::1"),
				VTEPMAC: config.VTEPMACFor(netip.MustParseAddr("10.0.0.1")), PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.1.0/24")}}},
		{"annotation beats internal IP, MAC annotation",
			testNode("b", []string{"10.244.2.0/24", "fd00:244:2::/64"}, map[string]string{AnnotationPublicIP: "10.0.0.2", AnnotationVTEPMAC: "0a:01:02:03:04:05"}, internal("10.9.9.9")),
			"", dataplane.Peer{Name: "b", Underlay: netip.MustParseAddr("10.0.0.2"), VTEPMAC: mac,
				PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.2.0/24"), netip.MustParsePrefix("fd00:244:2::/64")}}},
		{"overwrite beats public-ip",
			testNode("c", []string{"10.244.3.0/24"}, map[string]string{AnnotationPublicIP: "10.0.0.3", AnnotationPublicIPOverwrite: "192.168.7.3"}),
			"", dataplane.Peer{Name: "c", Underlay: netip.MustParseAddr("192.168.7.3"), VTEPMAC: config.VTEPMACFor(netip.MustParseAddr("192.168.7.3")),
				PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.3.0/24")}}},
		{"legacy podCIDR field", &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "d"}, Spec: corev1.NodeSpec{PodCIDR: "10.244.4.0/24"},
			Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeExternalIP, Address: "1.1.1.1"}, internal("10.0.0.4")}}},
			"", dataplane.Peer{Name: "d", Underlay: netip.MustParseAddr("10.0.0.4"), VTEPMAC: config.VTEPMACFor(netip.MustParseAddr("10.0.0.4")),
				PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.4.0/24")}}},
		{"no pod CIDR", testNode("e", nil, nil, internal("10.0.0.5")), "no pod CIDR", dataplane.Peer{}},
		{"host bits", testNode("f", []string{"10.244.6.1/24"}, nil, internal("10.0.0.6")), "canonical", dataplane.Peer{}},
		{"no address", testNode("g", []string{"10.244.7.0/24"}, nil, corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: "10.0.0.7"}), "no underlay", dataplane.Peer{}},
		{"only IPv6 address", testNode("h", []string{"10.244.8.0/24"}, nil, internal("fd00::8")), "no underlay", dataplane.Peer{}},
		{"bad annotation", testNode("i", []string{"10.244.9.0/24"}, map[string]string{AnnotationPublicIP: "nope"}, internal("10.0.0.9")), "not an IP", dataplane.Peer{}},
		{"wrong family annotation", testNode("j", []string{"10.244.10.0/24"}, map[string]string{AnnotationPublicIP: "fd00::10"}), "family", dataplane.Peer{}},
		{"bad MAC", testNode("k", []string{"10.244.11.0/24"}, map[string]string{AnnotationVTEPMAC: "zz"}, internal("10.0.0.11")), "MAC", dataplane.Peer{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := viewNode(tc.node, true)
			if tc.wantSkip != "" {
				if !strings.Contains(v.skip, tc.wantSkip) {
					t.Fatalf("skip = %q, want it to mention %q", v.skip, tc.wantSkip)
				}
				return
			}
			if v.skip != "" {
				t.Fatalf("skipped: %s", v.skip)
			}
			if !peerEqual(v.peer, tc.want) {
				t.Fatalf("peer:\n got %+v\nwant %+v", v.peer, tc.want)
			}
		})
	}
}

// A label or condition change leaves the view equal, so the source sends
// nothing; a change of address does not.
func TestViewNodeEqualIgnoresIrrelevant(t *testing.T) {
	a := testNode("a", []string{"10.244.1.0/24"}, map[string]string{"other.io/x": "1"}, internal("10.0.0.1"))
	b := a.DeepCopy()
	b.Labels = map[string]string{"zone": "b"}
	b.Annotations["other.io/x"] = "2"
	b.ResourceVersion = "99"
	b.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
	if !viewNode(a, true).equal(viewNode(b, true)) {
		t.Fatal("irrelevant changes made the views differ")
	}
	b.Status.Addresses = []corev1.NodeAddress{internal("10.0.0.2")}
	if viewNode(a, true).equal(viewNode(b, true)) {
		t.Fatal("an address change left the views equal")
	}
}

func FuzzViewNode(f *testing.F) {
	f.Add("10.244.1.0/24", "", "10.0.0.1", "", "", "fd00::1")
	f.Add("fd00::/64", "10.0.0.2", "", "1.2.3.4", "0a:00:00:00:00:01", "")
	f.Add(" 10.1.0.0/16 ", "::ffff:1.2.3.4", "fe80::1%eth0", "x", "zz", "1.2.3.4")
	f.Fuzz(func(t *testing.T, cidr, publicIP, internalAddr, overwrite, mac, ip6 string) {
		ann := map[string]string{}
		for k, v := range map[string]string{AnnotationPublicIP: publicIP, AnnotationPublicIPOverwrite: overwrite, AnnotationVTEPMAC: mac, AnnotationPublicIP6: ip6} {
			if v != "" {
				ann[k] = v
			}
		}
		n := testNode("n", []string{cidr}, ann, internal(internalAddr))
		for _, family4 := range []bool{true, false} {
			v := viewNode(n, family4)
			if v.skip != "" {
				continue
			}
			// A usable peer must survive the dataplane's own validation.
			cfg := dataplane.Config{Encap: encap.KindVXLAN, VNI: 1, LocalUnderlay: netip.MustParseAddr("10.255.255.254"), LocalPodCIDRs: []netip.Prefix{netip.MustParsePrefix("100.64.0.0/32")}}
			if !family4 {
				cfg.LocalUnderlay = netip.MustParseAddr("fdff::fe")
			}
			if v.peer.Underlay == cfg.LocalUnderlay || v.podCIDRs[0].Overlaps(cfg.LocalPodCIDRs[0]) {
				continue
			}
			cfg.Peers = []dataplane.Peer{v.peer}
			if err := cfg.Validate(); err != nil {
				t.Fatalf("usable view %+v fails validation: %v", v.peer, err)
			}
		}
	})
}
