package control

import "testing"

// FuzzParseFile: any bytes give a config or an error, never a panic, and a
// config that converts is one the dataplane validated.
func FuzzParseFile(f *testing.F) {
	f.Add([]byte(goodConfig))
	f.Add([]byte("nodeName: x\nunderlay: {address: 10.0.0.1}\npodCIDRs: [10.1.0.0/16]\npeers: [{name: y, underlay: 10.0.0.2, podCIDRs: ['::/0']}]"))
	f.Add([]byte("encap: none\nio: udp-process\nvtepMAC: zz"))
	f.Add([]byte("peers: [{}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ParseFile(data)
		if err != nil {
			return
		}
		cfg, err := file.DataplaneConfig(nil)
		if err != nil {
			return
		}
		if verr := cfg.Validate(); verr != nil {
			t.Fatalf("DataplaneConfig returned a config that fails validation: %v", verr)
		}
	})
}
