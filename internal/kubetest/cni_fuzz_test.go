package kubetest

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
)

// FuzzParseCNIResult holds ParseCNIResult to the spec rules it promises,
// checked against an independent generic decoding of the same bytes: an
// accepted result has as many IPs as the JSON, each one's address and
// interface index as the JSON gives them, every address a CIDR and every
// index inside interfaces; a result carrying an error code is refused.
func FuzzParseCNIResult(f *testing.F) {
	f.Add([]byte(`{"cniVersion":"1.0.0","interfaces":[{"name":"podfwd-br0","mac":"02:00:00:00:00:01"},` +
		`{"name":"eth0","mac":"02:00:00:00:00:02","sandbox":"/var/run/netns/p"}],` +
		`"ips":[{"interface":1,"address":"10.244.7.2/24","gateway":"10.244.7.1"}],"routes":[{"dst":"0.0.0.0/0"}]}`))
	f.Add([]byte(`{"cniVersion":"1.0.0","code":7,"msg":"invalid config"}`))
	f.Add([]byte(`{"ips":[{"interface":-1,"address":"10.0.0.1/8"}]}`))
	f.Add([]byte(`{"interfaces":[{"name":"eth0"}],"ips":[{"interface":1,"address":"10.0.0.1/8"}]}`))
	f.Add([]byte(`{"ips":[{"address":"10.0.0.1"}]}`))
	f.Add([]byte(`{"ips":[{"address":"fd00::2/64","gateway":"fd00::1"}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseCNIResult(data)
		if err != nil {
			return
		}
		var generic map[string]any
		_ = json.Unmarshal(data, &generic) // null decodes to a nil map
		code, ok := jsonKey(generic, "code")
		if !ok {
			return
		}
		if code != nil {
			t.Fatalf("an error result (code %v) was accepted", code)
		}
		ipsv, ok := jsonKey(generic, "ips")
		if !ok {
			return
		}
		ips, _ := ipsv.([]any)
		if len(ips) != len(r.IPs) {
			t.Fatalf("%d IPs decoded, the JSON has %d", len(r.IPs), len(ips))
		}
		for i, ip := range r.IPs {
			g, _ := ips[i].(map[string]any)
			addr, ok1 := jsonKey(g, "address")
			iface, ok2 := jsonKey(g, "interface")
			if !ok1 || !ok2 {
				return
			}
			if addr != ip.Address {
				t.Fatalf("ips[%d].address %q, the JSON has %v", i, ip.Address, addr)
			}
			if _, err := netip.ParsePrefix(ip.Address); err != nil {
				t.Fatalf("ips[%d].address %q accepted: %v", i, ip.Address, err)
			}
			if ip.Interface == nil {
				if iface != nil {
					t.Fatalf("ips[%d].interface lost: the JSON has %v", i, iface)
				}
				continue
			}
			if n, _ := iface.(float64); n != float64(*ip.Interface) {
				t.Fatalf("ips[%d].interface %d, the JSON has %v", i, *ip.Interface, iface)
			}
			if *ip.Interface < 0 || *ip.Interface >= len(r.Interfaces) {
				t.Fatalf("ips[%d].interface %d accepted with %d interfaces", i, *ip.Interface, len(r.Interfaces))
			}
		}
	})
}

// jsonKey looks name up in an object as encoding/json (and so every Go
// CNI runtime) matches keys: case-insensitively. ok is false when two
// keys of the object match, since the map no longer says which came last
// and so won; v is nil when none does.
func jsonKey(obj map[string]any, name string) (v any, ok bool) {
	n := 0
	for k, val := range obj {
		if strings.EqualFold(k, name) {
			v, n = val, n+1
		}
	}
	return v, n <= 1
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
