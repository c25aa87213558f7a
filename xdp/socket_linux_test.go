package xdp

import (
	"errors"
	"testing"
	"time"

	"github.com/podfwd/podfwd/internal/testenv"
	"golang.org/x/sys/unix"
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
	testenv.InNetns(t, p.HB, func() error {
		s, err := Open(p.IdxB, 0, cfg)
		if err != nil {
			return err
		}
		defer s.Close()
		if s.ZeroCopy() {
			t.Errorf("a veth socket reports zero-copy")
		}
		if _, err := Open(p.IdxB, 0, cfg); !errors.Is(err, ErrQueueBusy) {
			t.Errorf("second socket on the same queue: %v, want ErrQueueBusy", err)
		}
		return nil
	})
	testenv.InNetns(t, p.HA, func() error {
		if _, err := Open(p.IdxA, 0, SocketConfig{FrameSize: 2048, NumFrames: 64, Mode: BindZeroCopy}); !errors.Is(err, ErrZeroCopyUnsupported) {
			t.Errorf("forced zero-copy on veth: %v, want ErrZeroCopyUnsupported", err)
		}
		s, err := Open(p.IdxA, 0, SocketConfig{FrameSize: 2048, NumFrames: 64, Mode: BindCopy})
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

func TestWakeEndsWait(t *testing.T) {
	p := newVethPair(t)
	var s *Socket
	testenv.InNetns(t, p.HB, func() (err error) {
		s, err = Open(p.IdxB, 0, SocketConfig{FrameSize: 2048, NumFrames: 64})
		return err
	})
	defer s.Close()
	type result struct {
		ready bool
		err   error
	}
	done := make(chan result)
	go func() {
		ready, err := s.Wait(-1)
		done <- result{ready, err}
	}()
	if err := s.Wake(); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.ready || r.err != nil {
			t.Fatalf("woken Wait returned %v, %v; want false, nil", r.ready, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return after Wake")
	}
	// The wake-up was consumed: the eventfd is empty again, so the next
	// Wait blocks.
	var buf [8]byte
	if _, err := unix.Read(s.wakeFD, buf[:]); !errors.Is(err, unix.EAGAIN) {
		t.Fatalf("eventfd after a woken Wait: %v, want EAGAIN (drained)", err)
	}
}
