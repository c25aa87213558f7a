package config

import (
	"strings"
	"testing"

	"github.com/podfwd/podfwd/encap"
)

// io xdp sets DF on every outer IPv4 header, as the kernel's sockets of
// the other io paths do; the others keep the dataplane's default.
func TestOuterDFByIO(t *testing.T) {
	for io, want := range map[string]encap.DFPolicy{"xdp": encap.DFSet, "tun": encap.DFInherit, "udp-process": encap.DFInherit} {
		f, err := ParseFile([]byte(strings.Replace(xdpConfig, "io: xdp", "io: "+io, 1)))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := f.DataplaneConfig(nil)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.DF != want {
			t.Errorf("io %s: outer DF %v, want %v", io, cfg.DF, want)
		}
	}
}
