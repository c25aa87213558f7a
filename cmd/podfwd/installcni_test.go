package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/podfwd/podfwd/config"
	"github.com/podfwd/podfwd/internal/kubetest"
)

// deployTemplate returns the conflist template shipped in deploy/'s
// ConfigMap, so the test exercises what users install.
func deployTemplate(t *testing.T) []byte {
	t.Helper()
	return kubetest.DeployConfigMap(t, "10-podfwd.conflist")
}

func TestInstallCNIWritesValidConflist(t *testing.T) {
	dir := t.TempDir()
	tmpl := filepath.Join(dir, "tmpl")
	if err := os.WriteFile(tmpl, deployTemplate(t), 0o644); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(dir, "net.d", "10-podfwd.conflist")
	os.MkdirAll(filepath.Dir(dest), 0o755)
	if err := installCNICommand([]string{"--template", tmpl, "--dest", dest, "--pod-cidr", "10.244.7.0/24"}); err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(dest)
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		Plugins []struct {
			Type string `json:"type"`
			IPAM struct {
				Ranges [][]struct {
					Subnet string `json:"subnet"`
				} `json:"ranges"`
			} `json:"ipam"`
		} `json:"plugins"`
	}
	if err := json.Unmarshal(out, &conf); err != nil {
		t.Fatalf("written conflist is not JSON: %v\n%s", err, out)
	}
	if conf.Plugins[0].Type != "bridge" || conf.Plugins[0].IPAM.Ranges[0][0].Subnet != "10.244.7.0/24" {
		t.Fatalf("conflist %s", out)
	}
	entries, _ := os.ReadDir(filepath.Dir(dest))
	if len(entries) != 1 {
		t.Errorf("temporary files left beside the conflist: %v", entries)
	}
	for _, bad := range []string{"10.244.7.5/24", "banana", ""} {
		if _, err := renderConflist(deployTemplate(t), bad); err == nil {
			t.Errorf("pod CIDR %q accepted", bad)
		}
	}
	if _, err := renderConflist([]byte(`{"no":"placeholder"}`), "10.0.0.0/24"); err == nil || !strings.Contains(err.Error(), "@POD_CIDR@") {
		t.Errorf("a template without the placeholder: %v", err)
	}
}

// The daemon config shipped in deploy/ must be one the daemon accepts:
// parsing is strict, so a field the loader does not know fails here, not
// on every node of a cluster.
func TestDeployDaemonConfigParses(t *testing.T) {
	f, err := config.ParseFile(kubetest.DeployConfigMap(t, "podfwd.yaml"))
	if err != nil {
		t.Fatalf("deploy's podfwd.yaml does not parse: %v", err)
	}
	if !f.Kubernetes.Enabled || f.Admin.MetricsAddress != "127.0.0.1:9810" {
		t.Errorf("deploy's config: kubernetes %+v, metrics %q", f.Kubernetes, f.Admin.MetricsAddress)
	}
	if _, _, err := f.Encap.Kind(); err != nil {
		t.Error(err)
	}
	if p, err := f.MasqueradePolicy(); err != nil || !p.On {
		t.Errorf("deploy's config must masquerade egress (pods reach the outside on day one): %+v, %v", p, err)
	}
}
