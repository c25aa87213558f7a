package config

import (
	"errors"
	"strings"
	"testing"
)

const xdpConfig = `
nodeName: node1
io: xdp
encap: geneve
underlay:
  interface: eth0
  address: 10.99.0.1
  mtu: 1500
podCIDRs: [10.244.1.0/24]
peers:
  - name: node2
    underlay: 10.99.0.2
    podCIDRs: [10.244.2.0/24]
`

func TestXDPConfigDefaultsAndChoices(t *testing.T) {
	f, err := ParseFile([]byte(xdpConfig))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.DataplaneConfig(nil); err != nil {
		t.Fatal(err)
	}
	if f.IO != IOXDP || f.XDP.Mode != XDPModeAuto || f.XDP.ZeroCopy != XDPZeroCopyAuto || f.XDP.Queue != nil {
		t.Errorf("io %q, xdp settings %+v; want xdp with auto/auto/every queue", f.IO, f.XDP)
	}
	f, err = ParseFile([]byte(xdpConfig + "xdp: {queue: 2, mode: generic, zeroCopy: off}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.DataplaneConfig(nil); err != nil {
		t.Fatal(err)
	}
	if q := f.XDP.Queue; q == nil || *q != 2 || f.XDP.Mode != XDPModeGeneric || f.XDP.ZeroCopy != XDPZeroCopyOff {
		t.Errorf("xdp settings %+v (queue %v)", f.XDP, q)
	}
	// Queue 0 set explicitly is a restriction too, not the default.
	if f, err = ParseFile([]byte(xdpConfig + "xdp: {queue: 0}\n")); err != nil {
		t.Fatal(err)
	}
	if q := f.XDP.Queue; q == nil || *q != 0 {
		t.Errorf("xdp.queue 0 read as %v, want set to 0", q)
	}
}

func TestXDPConfigErrorsNameTheField(t *testing.T) {
	for _, c := range []struct{ text, field string }{
		{xdpConfig + "xdp: {mode: turbo}\n", "xdp.mode"},
		{xdpConfig + "xdp: {zeroCopy: maybe}\n", "xdp.zeroCopy"},
		{xdpConfig + "xdp: {queue: -1}\n", "xdp.queue"},
		{xdpConfig + "xdp: {queues: 1}\n", "field queues not found"},
		{strings.Replace(xdpConfig, "  interface: eth0\n", "", 1), "underlay.interface"},
	} {
		f, err := ParseFile([]byte(c.text))
		if err == nil {
			_, err = f.DataplaneConfig(nil)
		}
		if err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), c.field) {
			t.Errorf("want a config error naming %s, got %v", c.field, err)
		}
	}
}
