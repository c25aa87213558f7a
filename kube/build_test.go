package kube

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/encap"
	corev1 "k8s.io/api/core/v1"
)

func TestBuildPeerSet(t *testing.T) {
	local := netip.MustParseAddr("10.0.0.1")
	views := map[string]nodeView{}
	add := func(name, cidr, addr string) {
		views[name] = viewNode(testNode(name, []string{cidr}, nil, internal(addr)), true)
	}
	add("self", "10.244.1.0/24", "10.0.0.1")
	add("b", "10.244.2.0/24", "10.0.0.2")
	add("a", "10.244.3.0/24", "10.0.0.3")
	add("dup-underlay", "10.244.4.0/24", "10.0.0.2")
	add("overlaps-us", "10.244.0.0/16", "10.0.0.5")
	add("same-cidr", "10.244.2.0/24", "10.0.0.6")
	add("claims-our-ip", "10.244.7.0/24", "10.0.0.1")
	views["no-cidr"] = viewNode(testNode("no-cidr", nil, nil, internal("10.0.0.8")), true)

	set, dropped, ok := buildPeerSet("self", views, nil, local)
	if !ok {
		t.Fatal("not ok with our Node present")
	}
	if len(set.local) != 1 || set.local[0] != netip.MustParsePrefix("10.244.1.0/24") {
		t.Fatalf("local = %v", set.local)
	}
	var names []string
	for _, p := range set.peers {
		names = append(names, p.Name)
	}
	if strings.Join(names, ",") != "a,b" {
		t.Fatalf("peers = %v, want a,b (sorted, bad ones left out)", names)
	}
	for _, name := range []string{"dup-underlay", "overlaps-us", "same-cidr", "claims-our-ip"} {
		if dropped[name] == "" {
			t.Errorf("%s not reported as dropped (dropped: %v)", name, dropped)
		}
	}
	base := &dataplane.Config{LocalUnderlay: local, Encap: encap.KindVXLAN, VNI: 1}
	cfg := configFrom(base, set, 7)
	if err := cfg.Validate(); err != nil {
		t.Fatalf("built config invalid: %v", err)
	}
	if cfg.Generation != 7 || base.Peers != nil || base.LocalPodCIDRs != nil {
		t.Fatalf("generation %d, base changed: %+v", cfg.Generation, base)
	}

	delete(views, "self")
	if _, _, ok := buildPeerSet("self", views, nil, local); ok {
		t.Fatal("ok without our pod CIDRs")
	}
	fallback := []netip.Prefix{netip.MustParsePrefix("10.250.0.0/24")}
	if set, _, ok := buildPeerSet("self", views, fallback, local); !ok || set.local[0] != fallback[0] {
		t.Fatalf("fallback local CIDRs not used: %v %v", ok, set.local)
	}
}

func TestPeerSetEqual(t *testing.T) {
	views := map[string]nodeView{
		"self": viewNode(testNode("self", []string{"10.244.1.0/24"}, nil, internal("10.0.0.1")), true),
		"b":    viewNode(testNode("b", []string{"10.244.2.0/24"}, nil, internal("10.0.0.2")), true),
	}
	local := netip.MustParseAddr("10.0.0.1")
	s1, _, _ := buildPeerSet("self", views, nil, local)
	s2, _, _ := buildPeerSet("self", views, nil, local)
	if !s1.equal(s2) {
		t.Fatal("same views, unequal sets")
	}
	views["b"] = viewNode(testNode("b", []string{"10.244.2.0/24"}, map[string]string{AnnotationVTEPMAC: "0a:00:00:00:00:09"}, internal("10.0.0.2")), true)
	s3, _, _ := buildPeerSet("self", views, nil, local)
	if s1.equal(s3) {
		t.Fatal("VTEP MAC change left the sets equal")
	}
}

func TestSlimNodeKeepsWhatViewReads(t *testing.T) {
	n := testNode("a", []string{"10.244.1.0/24"}, map[string]string{AnnotationVTEPMAC: "0a:00:00:00:00:01", "kubeadm.io/x": "big"}, internal("10.0.0.1"))
	n.Status.Images = []corev1.ContainerImage{{Names: []string{"img"}}}
	got, err := slimNode(n)
	if err != nil {
		t.Fatal(err)
	}
	s := got.(*corev1.Node)
	if !viewNode(s, true).equal(viewNode(n, true)) {
		t.Fatal("slimmed node views differently")
	}
	if len(s.Annotations) != 1 || s.Status.Images != nil {
		t.Fatalf("slimmed node kept too much: %+v", s)
	}
}
