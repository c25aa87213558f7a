package config

import (
	"fmt"
	"net/netip"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/encap"
)

// Interface describes the underlay interface as the kernel reports it.
type Interface struct {
	Addrs []netip.Addr
	MTU   int
}

// InterfaceLookup finds an interface by name (netlink in the daemon, a
// fake in unit tests).
type InterfaceLookup func(name string) (Interface, error)

// DataplaneConfig validates f and turns it into the dataplane's config,
// resolving the underlay address and MTU through lookup when the file
// names only an interface. Errors name the field.
func (f *File) DataplaneConfig(lookup InterfaceLookup) (*dataplane.Config, error) {
	kind, native, err := f.Encap.Kind()
	if err != nil {
		return nil, err
	}
	if _, _, err := f.Poll.SpinDuration(); err != nil {
		return nil, err
	}
	if err := f.IO.Check(); err != nil {
		return nil, err
	}
	switch f.IO {
	case IOTUN, IOUDPProcess:
	case IOXDP:
		if err := f.XDP.validate(); err != nil {
			return nil, err
		}
		if f.Underlay.Interface == "" && !native {
			return nil, FieldError("underlay.interface", "io xdp needs the underlay interface to attach to")
		}
	case IOKernel:
		if f.Encap != EncapVXLAN {
			return nil, FieldError("encap", "io kernel carries vxlan only (this kernel has no geneve or ipip module), not %q", f.Encap)
		}
		if f.Underlay.Interface == "" {
			return nil, FieldError("underlay.interface", "io kernel needs the underlay interface for its VXLAN device")
		}
	}
	if f.NodeName == "" {
		return nil, FieldError("nodeName", "missing (set it or the NODE_NAME environment variable)")
	}
	if f.VNI > 1<<24-1 {
		return nil, FieldError("vni", "%d does not fit in 24 bits", f.VNI)
	}
	if _, err := f.MasqueradePolicy(); err != nil {
		return nil, err
	}
	if len(f.TUN.Name) > 15 {
		return nil, FieldError("tun.name", "%q is longer than 15 bytes", f.TUN.Name)
	}
	if err := f.Underlay.PartialChecksums.Check(); err != nil {
		return nil, err
	}
	cfg := &dataplane.Config{Generation: 1, Encap: kind, VNI: f.VNI, Port: f.Port, UnderlayMTU: f.Underlay.MTU,
		DropPartialChecksums: f.Underlay.PartialChecksums == PartialChecksumsDrop}
	if native {
		cfg.Encap = encap.KindVXLAN // unused: native mode starts no engine
	}
	if f.VNI == 0 && (kind == encap.KindVXLAN || kind == encap.KindGeneve) && !native {
		cfg.VNI = 1
	}
	if f.IO == IOXDP {
		// io xdp writes the outer IPv4 header itself. The kernel's UDP and
		// raw sockets of the other io paths set DF on every one
		// (IP_PMTUDISC_WANT), so that a tighter hop answers and the path
		// MTU is learned; copying a DF-less inner's bit instead would let
		// the hop fragment the outer packet: the receiving node's kernel
		// would have to reassemble it (its XDP program leaves fragments to
		// the reassembly socket) and nothing would be learned.
		cfg.DF = encap.DFSet
	}

	if f.Underlay.Address != "" {
		a, err := netip.ParseAddr(f.Underlay.Address)
		if err != nil {
			return nil, FieldError("underlay.address", "%q is not an IP address", f.Underlay.Address)
		}
		cfg.LocalUnderlay = a
	}
	if f.Underlay.Interface != "" && (!cfg.LocalUnderlay.IsValid() || cfg.UnderlayMTU == 0) {
		if lookup == nil {
			return nil, FieldError("underlay.interface", "cannot look up %q here", f.Underlay.Interface)
		}
		ifc, err := lookup(f.Underlay.Interface)
		if err != nil {
			return nil, FieldError("underlay.interface", "%v", err)
		}
		if cfg.UnderlayMTU == 0 {
			cfg.UnderlayMTU = ifc.MTU
		}
		if !cfg.LocalUnderlay.IsValid() {
			for _, a := range ifc.Addrs {
				if a.Is4() && !a.IsLinkLocalUnicast() {
					cfg.LocalUnderlay = a
					break
				}
			}
			if !cfg.LocalUnderlay.IsValid() {
				return nil, FieldError("underlay.interface", "%s has no IPv4 address", f.Underlay.Interface)
			}
		}
	}
	if !cfg.LocalUnderlay.IsValid() {
		return nil, FieldError("underlay", "set address or interface")
	}

	cfg.LocalVTEPMAC = VTEPMACFor(cfg.LocalUnderlay)
	if f.VTEPMAC != "" {
		if cfg.LocalVTEPMAC, err = ParseMAC("vtepMAC", f.VTEPMAC); err != nil {
			return nil, err
		}
	}
	if cfg.LocalPodCIDRs, err = parsePrefixes("podCIDRs", f.PodCIDRs); err != nil {
		return nil, err
	}
	if len(cfg.LocalPodCIDRs) == 0 {
		return nil, FieldError("podCIDRs", "at least one local pod CIDR is required")
	}
	for i, p := range f.Peers {
		field := fmt.Sprintf("peers[%d]", i)
		if p.Name == "" {
			return nil, FieldError(field+".name", "missing")
		}
		u, err := netip.ParseAddr(p.Underlay)
		if err != nil {
			return nil, FieldError(field+".underlay", "%q is not an IP address", p.Underlay)
		}
		peer := dataplane.Peer{Name: p.Name, Underlay: u, VTEPMAC: VTEPMACFor(u)}
		if p.Underlay6 != "" {
			u6, err := netip.ParseAddr(p.Underlay6)
			if err != nil || !u6.Is6() {
				return nil, FieldError(field+".underlay6", "%q is not an IPv6 address", p.Underlay6)
			}
			peer.Underlay6 = u6
		}
		if p.VTEPMAC != "" {
			if peer.VTEPMAC, err = ParseMAC(field+".vtepMAC", p.VTEPMAC); err != nil {
				return nil, err
			}
		}
		if peer.PodCIDRs, err = parsePrefixes(field+".podCIDRs", p.PodCIDRs); err != nil {
			return nil, err
		}
		cfg.Peers = append(cfg.Peers, peer)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}
