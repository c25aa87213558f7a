package config

import (
	"errors"
	"strings"
	"testing"
)

// Every enumerated field accepts exactly its constants and names itself
// when it refuses a value.
func TestEnumsCheck(t *testing.T) {
	encapCheck := func(e Encap) error { _, _, err := e.Kind(); return err }
	for _, c := range []struct {
		field string
		good  []error
		bad   error
	}{
		{"io", []error{IOTUN.Check(), IOUDPProcess.Check(), IOXDP.Check(), IOKernel.Check()}, IO("dpdk").Check()},
		{"encap", []error{encapCheck(EncapVXLAN), encapCheck(EncapGeneve), encapCheck(EncapIPIP), encapCheck(EncapNone)}, encapCheck("gre")},
		{"xdp.mode", []error{XDPModeAuto.Check(), XDPModeNative.Check(), XDPModeGeneric.Check()}, XDPMode("turbo").Check()},
		{"xdp.zeroCopy", []error{XDPZeroCopyAuto.Check(), XDPZeroCopyOn.Check(), XDPZeroCopyOff.Check()}, XDPZeroCopy("maybe").Check()},
	} {
		for i, err := range c.good {
			if err != nil {
				t.Errorf("%s constant %d refused: %v", c.field, i, err)
			}
		}
		if !errors.Is(c.bad, ErrConfig) || !strings.Contains(c.bad.Error(), "config: "+c.field+": ") {
			t.Errorf("%s: bad value gave %v, want a config error naming the field", c.field, c.bad)
		}
	}
	if _, native, err := EncapNone.Kind(); !native || err != nil {
		t.Errorf("encap none: native %v, err %v", native, err)
	}
}
