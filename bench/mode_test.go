package bench

import (
	"errors"
	"testing"
)

func TestSelectModes(t *testing.T) {
	all, err := SelectModes("")
	if err != nil || len(all) != len(AllModes()) {
		t.Fatalf("SelectModes(\"\") = %d modes, %v", len(all), err)
	}
	got, err := SelectModes("tun/vxlan, kernel/vxlan,podfwd/none,tun/vxlan")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range got {
		names = append(names, m.Name)
	}
	if want := "tun/vxlan,kernel/vxlan,tun/none"; modeNames(got) != want {
		t.Errorf("selected %v, want %s", names, want)
	}
	for _, bad := range []string{"tun/nope", ",", "kernel"} {
		if _, err := SelectModes(bad); !errors.Is(err, ErrOption) {
			t.Errorf("SelectModes(%q) err = %v, want ErrOption", bad, err)
		}
	}
}

// TestAllModesMatrix holds the matrix issue 7 asks for: every io × encap
// and every kernel reference is a row, runnable or not.
func TestAllModesMatrix(t *testing.T) {
	want := []string{"kernel/native", "kernel/vxlan", "kernel/geneve", "udp-process/vxlan",
		"tun/vxlan", "tun/geneve", "tun/ipip", "tun/none", "xdp/vxlan", "xdp/geneve", "xdp/ipip",
		"xdp-pods/vxlan", "xdp-pods/geneve", "xdp-pods/ipip", "hybrid"}
	got := AllModes()
	if len(got) != len(want) {
		t.Fatalf("AllModes = %s", modeNames(got))
	}
	for i, m := range got {
		if m.Name != want[i] || m.IO == "" || m.Encap == "" {
			t.Errorf("mode %d = %+v, want name %s with io and encap", i, m, want[i])
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{}
	if err := c.defaults(); err != nil || c.Runs != 3 || len(c.MTUs) != 1 || len(c.Tests) != 4 {
		t.Errorf("defaults = %+v, %v", c, err)
	}
	for _, bad := range []Config{{Tests: []string{"tcp2"}}, {MTUs: []int{100}}, {Runs: -1}, {Duration: 1}} {
		if err := bad.defaults(); !errors.Is(err, ErrOption) {
			t.Errorf("%+v: err = %v, want ErrOption", bad, err)
		}
	}
}
