package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPollSpin(t *testing.T) {
	tun := strings.Replace(xdpConfig, "io: xdp", "io: tun", 1)
	for _, c := range []struct {
		yaml string
		spin time.Duration
		on   bool
		bad  bool
	}{
		{"", DefaultPollSpin, true, false},
		{"poll: {spin: off}\n", 0, false, false},
		{"poll: {spin: 0s}\n", 0, true, false},
		{"poll: {spin: 20us}\n", 20 * time.Microsecond, true, false},
		{"poll: {spin: fast}\n", 0, false, true},
		{"poll: {spin: -1us}\n", 0, false, true},
		{"poll: {spin: 1s}\n", 0, false, true},
	} {
		f, err := ParseFile([]byte(tun + c.yaml))
		if err != nil {
			t.Fatal(err)
		}
		_, cfgErr := f.DataplaneConfig(nil)
		spin, on, err := f.Poll.SpinDuration()
		if c.bad {
			if cfgErr == nil || !errors.Is(cfgErr, ErrConfig) || !strings.Contains(cfgErr.Error(), "poll.spin") {
				t.Errorf("%q: config error %v, want one naming poll.spin", c.yaml, cfgErr)
			}
			continue
		}
		if err != nil || cfgErr != nil || spin != c.spin || on != c.on {
			t.Errorf("%q: spin %v on %v (%v, %v); want %v %v", c.yaml, spin, on, err, cfgErr, c.spin, c.on)
		}
	}
}
