package encap

import (
	"errors"
	"fmt"
)

// ErrInvalidParams is wrapped by every error Params.Validate returns.
var ErrInvalidParams = errors.New("encap: invalid tunnel parameters")

// Params are one peer's tunnel parameters. Build them at configuration time,
// call Validate once, and never change them afterwards: the encap functions
// read them concurrently from many goroutines without locks.
type Params struct {
	Kind                   Kind
	VNI                    uint32   // VXLAN/Geneve, 24 bits
	Port                   uint16   // UDP destination port; 0 means the kind's default (4789 / 6081)
	SrcPortMin, SrcPortMax uint16   // UDP source port range; 0,0 means the kernel default 32768-60999
	TTL                    uint8    // outer TTL / hop limit; 0 means 64
	DF                     DFPolicy // outer IPv4 DF bit
	ZeroUDPChecksum6       bool     // IPv6 outer: send a zero UDP checksum (RFC 6935/6936) instead of computing it
	GeneveIP               bool     // Geneve carries the inner IP packet directly (protocol 0x0800/0x86DD), not Ethernet
	GeneveOptions          []byte   // pre-encoded TLV options, len a multiple of 4, at most 252
	InnerSrcMAC            [6]byte  // inner Ethernet source (our VTEP MAC) for VXLAN and Geneve-Ethernet
	InnerDstMAC            [6]byte  // inner Ethernet destination (the peer's VTEP MAC)
}

// Validate checks the parameters and returns an error wrapping
// ErrInvalidParams that names the offending field, or nil.
func (p *Params) Validate() error {
	switch p.Kind {
	case KindVXLAN, KindGeneve, KindIPIP:
	default:
		return fmt.Errorf("%w: Kind %d is not vxlan, geneve or ipip", ErrInvalidParams, p.Kind)
	}
	if p.VNI > MaxVNI {
		return fmt.Errorf("%w: VNI %d exceeds 24 bits", ErrInvalidParams, p.VNI)
	}
	if (p.SrcPortMin == 0) != (p.SrcPortMax == 0) {
		return fmt.Errorf("%w: SrcPortMin and SrcPortMax must both be set or both be 0 (got %d-%d)",
			ErrInvalidParams, p.SrcPortMin, p.SrcPortMax)
	}
	if p.SrcPortMin > p.SrcPortMax {
		return fmt.Errorf("%w: SrcPortMin %d > SrcPortMax %d", ErrInvalidParams, p.SrcPortMin, p.SrcPortMax)
	}
	if p.DF > DFClear {
		return fmt.Errorf("%w: DF policy %d unknown", ErrInvalidParams, p.DF)
	}
	if p.Kind != KindGeneve && (p.GeneveIP || len(p.GeneveOptions) > 0) {
		return fmt.Errorf("%w: GeneveIP/GeneveOptions set for kind %s", ErrInvalidParams, p.Kind)
	}
	if n := len(p.GeneveOptions); n%4 != 0 || n > MaxGeneveOptionLen {
		return fmt.Errorf("%w: GeneveOptions length %d is not a multiple of 4 up to %d",
			ErrInvalidParams, n, MaxGeneveOptionLen)
	}
	it := NewGeneveOptionIter(p.GeneveOptions)
	for {
		if _, ok := it.Next(); !ok {
			break
		}
	}
	if it.Err() != DropNone {
		return fmt.Errorf("%w: GeneveOptions: an option's length overruns the options", ErrInvalidParams)
	}
	return nil
}

// dstPort returns the UDP destination port, defaulted by kind.
func (p *Params) dstPort() uint16 {
	if p.Port != 0 {
		return p.Port
	}
	if p.Kind == KindGeneve {
		return DefaultGenevePort
	}
	return DefaultVXLANPort
}

// ttl returns the outer TTL, defaulted.
func (p *Params) ttl() uint8 {
	if p.TTL != 0 {
		return p.TTL
	}
	return DefaultTTL
}

// anyCritical reports whether any pre-encoded option has its critical bit
// set, which obliges the sender to set the header's C bit.
func anyCritical(opts []byte) bool {
	it := NewGeneveOptionIter(opts)
	for {
		o, ok := it.Next()
		if !ok {
			return false
		}
		if o.Critical() {
			return true
		}
	}
}
