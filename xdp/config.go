package xdp

import (
	"errors"
	"fmt"
)

// BindMode selects how a Socket binds to its queue.
type BindMode int

const (
	// BindAuto lets the kernel try zero-copy first and fall back to copy
	// mode when the driver cannot do zero-copy (veth cannot).
	BindAuto BindMode = iota
	// BindCopy forces copy mode.
	BindCopy
	// BindZeroCopy forces zero-copy mode; the bind fails where the driver
	// lacks it.
	BindZeroCopy
)

// String names the mode as it appears in logs.
func (m BindMode) String() string {
	switch m {
	case BindAuto:
		return "auto"
	case BindCopy:
		return "copy"
	case BindZeroCopy:
		return "zero-copy"
	}
	return fmt.Sprintf("BindMode(%d)", int(m))
}

// SocketConfig sizes a Socket's UMEM and rings. The zero value of each field
// means its default.
type SocketConfig struct {
	// FrameSize is the size of one UMEM frame: 2048 or 4096 (default 4096).
	FrameSize int
	// NumFrames is the number of frames in the UMEM (default 4096).
	NumFrames int
	// Headroom is extra space the kernel leaves free in front of every
	// received packet, for headers the caller prepends (encapsulation).
	// The kernel always keeps XDP_PACKET_HEADROOM (256) as well: on this
	// kernel in copy mode a packet starts at offset 256+Headroom of its
	// frame (checked in TestTransmitPrependedHeaders). Default 0; it must
	// leave room for a packet in the frame.
	Headroom int
	// RxSize, TxSize, FillSize and CompletionSize are ring sizes, each a
	// power of two (defaults NumFrames/2 for fill and RX, NumFrames/2 for
	// TX and completion). The frames not posted to the fill ring stay on
	// the free list for AllocFrame.
	RxSize, TxSize, FillSize, CompletionSize int
	// Mode selects zero-copy or copy; BindAuto (the default) tries
	// zero-copy first.
	Mode BindMode
}

// ErrBadConfig is wrapped by every error about an invalid SocketConfig.
var ErrBadConfig = errors.New("xdp: bad socket config")

// withDefaults returns c with defaults filled in, or an error wrapping
// ErrBadConfig.
func (c SocketConfig) withDefaults() (SocketConfig, error) {
	if c.FrameSize == 0 {
		c.FrameSize = 4096
	}
	if c.FrameSize != 2048 && c.FrameSize != 4096 {
		return c, fmt.Errorf("%w: frame size %d, want 2048 or 4096", ErrBadConfig, c.FrameSize)
	}
	if c.NumFrames == 0 {
		c.NumFrames = 4096
	}
	if c.NumFrames < 2 {
		return c, fmt.Errorf("%w: %d frames", ErrBadConfig, c.NumFrames)
	}
	// The kernel keeps XDP_PACKET_HEADROOM (256) in front of our headroom
	// in every frame; a packet still has to fit after both.
	if c.Headroom < 0 || c.Headroom > c.FrameSize-256-1024 {
		return c, fmt.Errorf("%w: headroom %d in %d-byte frames", ErrBadConfig, c.Headroom, c.FrameSize)
	}
	half := c.NumFrames / 2
	for _, p := range []*int{&c.RxSize, &c.TxSize, &c.FillSize, &c.CompletionSize} {
		if *p == 0 {
			*p = floorPow2(half)
		}
		if *p <= 0 || *p&(*p-1) != 0 {
			return c, fmt.Errorf("%w: ring size %d is not a power of two", ErrBadConfig, *p)
		}
	}
	if c.FillSize > c.NumFrames {
		return c, fmt.Errorf("%w: fill ring %d larger than %d frames", ErrBadConfig, c.FillSize, c.NumFrames)
	}
	return c, nil
}

func floorPow2(n int) int {
	p := 1
	for p*2 <= n {
		p *= 2
	}
	return p
}
