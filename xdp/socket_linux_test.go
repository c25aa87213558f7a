package xdp

import (
	"errors"
	"testing"
)

func TestSocketConfigValidation(t *testing.T) {
	c, err := SocketConfig{}.withDefaults()
	if err != nil || c.FrameSize != 4096 || c.NumFrames != 4096 || c.FillSize != 2048 || c.TxSize != 2048 {
		t.Fatalf("defaults: %+v, %v", c, err)
	}
	for name, bad := range map[string]SocketConfig{
		"frame 1500":      {FrameSize: 1500},
		"one frame":       {NumFrames: 1},
		"headroom huge":   {FrameSize: 2048, Headroom: 1024},
		"negative room":   {Headroom: -1},
		"ring not pow2":   {RxSize: 100},
		"fill past umem":  {NumFrames: 64, FillSize: 128},
		"negative frames": {NumFrames: -4},
	} {
		if _, err := bad.withDefaults(); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%s: %v, want ErrBadConfig", name, err)
		}
	}
}

func TestOneSocketPerQueueAndBindModes(t *testing.T) {
	p := newVethPair(t)
	cfg := SocketConfig{FrameSize: 2048, NumFrames: 64}
	inNS(t, p.hB, func() error {
		s, err := Open(p.idxB, 0, cfg)
		if err != nil {
			return err
		}
		defer s.Close()
		if s.ZeroCopy() {
			t.Errorf("a veth socket reports zero-copy")
		}
		if _, err := Open(p.idxB, 0, cfg); !errors.Is(err, ErrQueueBusy) {
			t.Errorf("second socket on the same queue: %v, want ErrQueueBusy", err)
		}
		return nil
	})
	inNS(t, p.hA, func() error {
		if _, err := Open(p.idxA, 0, SocketConfig{FrameSize: 2048, NumFrames: 64, Mode: BindZeroCopy}); !errors.Is(err, ErrZeroCopyUnsupported) {
			t.Errorf("forced zero-copy on veth: %v, want ErrZeroCopyUnsupported", err)
		}
		s, err := Open(p.idxA, 0, SocketConfig{FrameSize: 2048, NumFrames: 64, Mode: BindCopy})
		if err != nil {
			return err
		}
		defer s.Close()
		if s.ZeroCopy() {
			t.Errorf("BindCopy socket reports zero-copy")
		}
		return nil
	})
}
