package kubetest

import (
	"encoding/json"
	"os"
	"testing"

	"gopkg.in/yaml.v3"
)

// DeployConfigMap returns the file named key from deploy/'s ConfigMap (the
// daemon config, the CNI conflist template), so tests exercise exactly what
// users install. It fails t when the file or the key is missing.
func DeployConfigMap(t testing.TB, key string) []byte {
	t.Helper()
	path, err := RepoFile("deploy/20-configmap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cm struct {
		Data map[string]string `yaml:"data"`
	}
	if err := yaml.Unmarshal(raw, &cm); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	v, ok := cm.Data[key]
	if !ok || v == "" {
		t.Fatalf("%s has no %s", path, key)
	}
	return []byte(v)
}

// WithIPAMDataDir returns conflist with the first plugin's host-local IPAM
// keeping its leases in dir, so a test never writes to the host's
// /var/lib/cni. It fails t unless that plugin is bridge with host-local.
func WithIPAMDataDir(t testing.TB, conflist []byte, dir string) []byte {
	t.Helper()
	var list map[string]any
	if err := json.Unmarshal(conflist, &list); err != nil {
		t.Fatalf("conflist: %v", err)
	}
	plugins, _ := list["plugins"].([]any)
	if len(plugins) == 0 {
		t.Fatal("conflist has no plugins")
	}
	bridge, _ := plugins[0].(map[string]any)
	ipam, _ := bridge["ipam"].(map[string]any)
	if bridge["type"] != "bridge" || ipam == nil || ipam["type"] != "host-local" {
		t.Fatalf("conflist's first plugin is not bridge with host-local IPAM: %v", bridge)
	}
	ipam["dataDir"] = dir
	out, err := json.Marshal(list)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
