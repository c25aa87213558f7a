package xdp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// Program names as the kernel shows them (bpftool, netlink); Attach uses
// them to recognise a stale program of ours left by an earlier run.
const (
	RedirectProgramName = "podfwd_xsk"
	PassProgramName     = "podfwd_pass"
)

// ErrBadRedirectConfig is wrapped by every error about an invalid
// RedirectConfig.
var ErrBadRedirectConfig = errors.New("xdp: bad redirect config")

// RedirectConfig says which packets the XDP program takes: tunnel traffic
// whose destination is one of the node's local addresses. Everything else
// passes to the kernel.
type RedirectConfig struct {
	// LocalIPv4 and LocalIPv6 are the node's underlay addresses; an
	// invalid (zero) Addr matches no packet of that family.
	LocalIPv4 netip.Addr
	LocalIPv6 netip.Addr
	// UDPPorts are the tunnel ports (VXLAN, Geneve), at most 4; 0 is not
	// a port.
	UDPPorts []uint16
	// IPIP takes IP protocols 4 (IPv4 inside) and 41 (IPv6 inside).
	IPIP bool
}

// encode returns the map value for c (layout in program.go).
func (c RedirectConfig) encode() ([]byte, error) {
	v := make([]byte, cfgValueSize)
	var flags uint32
	if c.LocalIPv4.IsValid() {
		a := c.LocalIPv4.Unmap()
		if !a.Is4() {
			return nil, fmt.Errorf("%w: LocalIPv4 %s is not IPv4", ErrBadRedirectConfig, c.LocalIPv4)
		}
		b := a.As4()
		copy(v[cfgOffIPv4:], b[:])
		flags |= cfgFlagIPv4
	}
	if c.LocalIPv6.IsValid() {
		if !c.LocalIPv6.Is6() || c.LocalIPv6.Is4In6() {
			return nil, fmt.Errorf("%w: LocalIPv6 %s is not IPv6", ErrBadRedirectConfig, c.LocalIPv6)
		}
		b := c.LocalIPv6.As16()
		copy(v[cfgOffIPv6:], b[:])
		flags |= cfgFlagIPv6
	}
	if len(c.UDPPorts) > maxPorts {
		return nil, fmt.Errorf("%w: %d UDP ports, at most %d", ErrBadRedirectConfig, len(c.UDPPorts), maxPorts)
	}
	for i, p := range c.UDPPorts {
		if p == 0 {
			return nil, fmt.Errorf("%w: UDP port 0", ErrBadRedirectConfig)
		}
		binary.BigEndian.PutUint16(v[cfgOffPorts+2*i:], p)
	}
	if c.IPIP {
		flags |= cfgFlagIPIP
	}
	binary.NativeEndian.PutUint32(v[cfgOffFlags:], flags)
	return v, nil
}
