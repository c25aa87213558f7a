package kubetest

import (
	"encoding/json"
	"testing"
)

// FuzzParseCNIResult: any plugin output either decodes or errors, and a
// decoded result's interface indexes are plain data (no panic on use).
func FuzzParseCNIResult(f *testing.F) {
	f.Add([]byte(`{"cniVersion":"1.0.0","interfaces":[{"name":"podfwd-br0","mac":"02:00:00:00:00:01"},` +
		`{"name":"eth0","mac":"02:00:00:00:00:02","sandbox":"/var/run/netns/p"}],` +
		`"ips":[{"interface":1,"address":"10.244.7.2/24","gateway":"10.244.7.1"}],"routes":[{"dst":"0.0.0.0/0"}]}`))
	f.Add([]byte(`{"cniVersion":"1.0.0","code":7,"msg":"invalid config"}`))
	f.Add([]byte(`{"ips":[{"interface":-1}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseCNIResult(data)
		if err != nil {
			return
		}
		for _, ip := range r.IPs {
			if ip.Interface != nil && *ip.Interface >= 0 && *ip.Interface < len(r.Interfaces) {
				_ = r.Interfaces[*ip.Interface].Name
			}
		}
	})
}

// FuzzPluginConfig: any conflist either errors or yields a JSON object that
// carries the list's name and cniVersion.
func FuzzPluginConfig(f *testing.F) {
	f.Add([]byte(`{"cniVersion":"1.0.0","name":"podfwd","plugins":[{"type":"bridge","ipam":{"type":"host-local"}}]}`), 0)
	f.Add([]byte(`{"cniVersion":"1.0.0","name":"podfwd","plugins":[{"type":"bridge"},{"type":"portmap"}]}`), 1)
	f.Add([]byte(`{"plugins":[]}`), 0)
	f.Add([]byte(`{"plugins":[1]}`), 0)
	f.Add([]byte(`{"name":"x","plugins":[{}]}`), -1)
	f.Fuzz(func(t *testing.T, conflist []byte, index int) {
		out, err := PluginConfig(conflist, index, []byte(`{"cniVersion":"1.0.0"}`))
		if err != nil {
			return
		}
		var list struct {
			CNIVersion string `json:"cniVersion"`
			Name       string `json:"name"`
		}
		var conf map[string]any
		if err := json.Unmarshal(out, &conf); err != nil {
			t.Fatalf("output is not a JSON object: %v: %s", err, out)
		}
		_ = json.Unmarshal(conflist, &list)
		if conf["name"] != list.Name || conf["cniVersion"] != list.CNIVersion {
			t.Fatalf("name/cniVersion not carried over: %s from %s", out, conflist)
		}
		if _, ok := conf["prevResult"]; !ok {
			t.Fatalf("prevResult missing: %s", out)
		}
	})
}
