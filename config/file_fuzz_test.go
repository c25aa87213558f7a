package config

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// FuzzParseFile holds ParseFile to four properties on any input that it
// accepts: (1) strictness, against yaml.v3's own generic decoding: every
// key of every mapping the file gives is a field File declares, so a typo
// never falls back to a default; (2) the defaults are filled in; (3) a
// round trip through yaml.Marshal gives the same File and the same
// dataplane config (or the same refusal); (4) a config that converts is
// one the dataplane validated.
func FuzzParseFile(f *testing.F) {
	f.Add([]byte(goodConfig))
	f.Add([]byte(goodConfig + "hybird: true\n"))                                    // a typo'd top-level key
	f.Add([]byte(strings.Replace(goodConfig, "    underlay:", "    underlya:", 1))) // a typo'd peer key
	f.Add([]byte("nodeName: x\nunderlay: {address: 10.0.0.1}\npodCIDRs: [10.1.0.0/16]\npeers: [{name: y, underlay: 10.0.0.2, podCIDRs: ['::/0']}]"))
	f.Add([]byte("encap: none\nio: udp-process\nvtepMAC: zz"))
	f.Add([]byte("peers: [{}]"))
	f.Add([]byte("offloads: {udpGSO: false}\nadmin: {socket: off}\nxdp: {}\nkubernetes: {enabled: true}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ParseFile(data)
		if err != nil {
			return
		}
		var generic any
		if err := yaml.Unmarshal(data, &generic); err != nil {
			t.Fatalf("ParseFile accepted what yaml.v3 cannot decode generically: %v", err)
		}
		if key := unknownKey(generic, reflect.TypeOf(File{})); key != "" {
			t.Fatalf("ParseFile accepted the unknown key %q", key)
		}
		if file.IO == "" || file.Encap == "" || file.TUN.Name == "" || file.Admin.Socket == "" || file.Admin.MetricsAddress == "" {
			t.Fatalf("defaults missing: io %q encap %q tun %q admin %+v", file.IO, file.Encap, file.TUN.Name, file.Admin)
		}
		out, err := yaml.Marshal(file)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		again, err := ParseFile(out)
		if err != nil {
			t.Fatalf("ParseFile refuses its own file written back: %v\n%s", err, out)
		}
		// Compared as written, since YAML cannot tell a nil list from an
		// empty one and neither can the daemon.
		if out2, err := yaml.Marshal(again); err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("round trip changed the file (%v):\n%s\n%s", err, out, out2)
		}
		cfg, err := file.DataplaneConfig(nil)
		cfg2, err2 := again.DataplaneConfig(nil)
		if (err == nil) != (err2 == nil) || err == nil && !reflect.DeepEqual(cfg, cfg2) {
			t.Fatalf("round trip changed the dataplane config: %v / %v", err, err2)
		}
		if err != nil {
			return
		}
		if verr := cfg.Validate(); verr != nil {
			t.Fatalf("DataplaneConfig returned a config that fails validation: %v", verr)
		}
	})
}

// unknownKey returns the first mapping key in v (a generic YAML decoding)
// that the struct type typ, read through its yaml tags, does not declare.
func unknownKey(v any, typ reflect.Type) string {
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	switch typ.Kind() {
	case reflect.Slice:
		if list, ok := v.([]any); ok {
			for _, e := range list {
				if k := unknownKey(e, typ.Elem()); k != "" {
					return k
				}
			}
		}
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		for key, val := range m {
			field, ok := fieldByTag(typ, key)
			if !ok {
				return key
			}
			if k := unknownKey(val, field.Type); k != "" {
				return key + "." + k
			}
		}
	}
	return ""
}

func fieldByTag(typ reflect.Type, key string) (reflect.StructField, bool) {
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		if name == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}
