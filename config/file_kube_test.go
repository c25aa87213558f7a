package config

import (
	"errors"
	"testing"
)

func TestKubeFileConfig(t *testing.T) {
	f, err := ParseFile([]byte("nodeName: a\nunderlay: {address: 10.0.0.1}\nkubernetes: {enabled: true, kubeconfig: /k, socket: /s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Kubernetes != (Kubernetes{Enabled: true, Kubeconfig: "/k", Socket: "/s"}) {
		t.Fatalf("kubernetes = %+v", f.Kubernetes)
	}
	base, err := f.KubeBaseConfig(nil)
	if err != nil {
		t.Fatalf("KubeBaseConfig without pod CIDRs: %v", err)
	}
	if base.LocalPodCIDRs != nil || base.Peers != nil || base.LocalUnderlay.String() != "10.0.0.1" {
		t.Fatalf("base = %+v", base)
	}
	if f.NeedsNodeUnderlay() {
		t.Fatal("NeedsNodeUnderlay with an underlay address")
	}

	short, err := ParseFile([]byte("nodeName: a\nkubernetes: true\n"))
	if err != nil {
		t.Fatalf("kubernetes: true shorthand: %v", err)
	}
	if !short.Kubernetes.Enabled || !short.NeedsNodeUnderlay() {
		t.Fatalf("shorthand: %+v, needs underlay %v", short.Kubernetes, short.NeedsNodeUnderlay())
	}
	for _, bad := range []string{"kubernetes: maybe\n", "kubernetes: {enabled: true, typo: 1}\n"} {
		if _, err := ParseFile([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}

	withPeers, err := ParseFile([]byte("nodeName: a\nunderlay: {address: 10.0.0.1}\nkubernetes: true\npeers: [{name: b, underlay: 10.0.0.2, podCIDRs: [10.1.0.0/24]}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := withPeers.KubeBaseConfig(nil); !errors.Is(err, ErrConfig) {
		t.Fatalf("static peers with kubernetes: got %v, want ErrConfig", err)
	}
}
