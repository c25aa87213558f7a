package hostnet

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/podfwd/podfwd/config"
	"github.com/podfwd/podfwd/dataplane"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// KernelVXLANDevice is the kernel VXLAN device the kernel reference io
// creates (flannel's is flannel.1; ours is named apart so both can be
// compared on one host).
const KernelVXLANDevice = "podfwd.1"

// KernelVXLAN programs the kernel's own VXLAN device exactly as flannel's
// vxlan backend does, so the kernel carries pod traffic (io: kernel) and
// serves as the reference beside podfwd's userspace paths:
//
//   - a vxlan device: VNI, local underlay address, the underlay device,
//     the UDP port, no learning, our VTEP MAC, MTU = underlay MTU - 50,
//     and the first address of our pod CIDR as a /32;
//   - per peer: an FDB entry (peer VTEP MAC -> peer underlay address), a
//     permanent neighbour (peer's first pod address -> peer VTEP MAC) and
//     the route to the peer's pod CIDR via that address, onlink.
//
// IPv4 pod CIDRs only (flannel runs a second device over an IPv6 underlay
// for IPv6 pods; not done here). Entries for peers that went away are
// removed; the device is deleted by Remove.
type KernelVXLAN struct {
	Underlay string // underlay interface name
	link     netlink.Link
}

// vtepAddr is the address flannel gives a node's VTEP: the network
// address of its first IPv4 pod CIDR (10.244.K.0).
func vtepAddr(cidrs []netip.Prefix) (netip.Addr, bool) {
	for _, p := range cidrs {
		if p.Addr().Is4() {
			return p.Masked().Addr(), true
		}
	}
	return netip.Addr{}, false
}

// Apply creates or updates the device and makes its peer entries and
// routes match cfg.
func (k *KernelVXLAN) Apply(cfg *dataplane.Config) error {
	if !cfg.LocalUnderlay.Is4() {
		return fmt.Errorf("%w: io kernel needs an IPv4 underlay", config.ErrConfig)
	}
	local, ok := vtepAddr(cfg.LocalPodCIDRs)
	if !ok {
		return fmt.Errorf("%w: io kernel needs an IPv4 pod CIDR", config.ErrConfig)
	}
	if err := k.ensureDevice(cfg, local); err != nil {
		return err
	}
	idx := k.link.Attrs().Index
	var routes []Route
	wantNeigh := map[string]bool{}
	wantFDB := map[string]bool{}
	var errs []error
	for _, p := range cfg.Peers {
		vtep, ok := vtepAddr(p.PodCIDRs)
		if !ok || !p.Underlay.Is4() {
			continue
		}
		mac := net.HardwareAddr(p.VTEPMAC[:])
		if err := netlink.NeighSet(&netlink.Neigh{LinkIndex: idx, Family: unix.AF_INET, State: netlink.NUD_PERMANENT,
			IP: net.IP(vtep.AsSlice()), HardwareAddr: mac}); err != nil {
			errs = append(errs, fmt.Errorf("neighbour %s of %s: %w", vtep, p.Name, err))
		}
		if err := netlink.NeighSet(&netlink.Neigh{LinkIndex: idx, Family: unix.AF_BRIDGE, Flags: netlink.NTF_SELF,
			State: netlink.NUD_PERMANENT, IP: net.IP(p.Underlay.AsSlice()), HardwareAddr: mac}); err != nil {
			errs = append(errs, fmt.Errorf("fdb %s -> %s of %s: %w", mac, p.Underlay, p.Name, err))
		}
		wantNeigh[vtep.String()] = true
		wantFDB[mac.String()] = true
		for _, cidr := range p.PodCIDRs {
			if cidr.Addr().Is4() {
				routes = append(routes, Route{Dst: cidr, Gateway: vtep, LinkIndex: idx, OnLink: true})
			}
		}
	}
	errs = append(errs, k.pruneNeighbours(idx, wantNeigh, wantFDB))
	errs = append(errs, ReconcileRoutes(routes))
	return errors.Join(errs...)
}

func (k *KernelVXLAN) ensureDevice(cfg *dataplane.Config, local netip.Addr) error {
	ul, err := netlink.LinkByName(k.Underlay)
	if err != nil {
		return fmt.Errorf("underlay interface %q: %w", k.Underlay, err)
	}
	port := int(cfg.Port)
	if port == 0 {
		port = 8472
	}
	mtu := ul.Attrs().MTU - 50
	if cfg.UnderlayMTU != 0 {
		mtu = cfg.UnderlayMTU - 50
	}
	want := &netlink.Vxlan{
		LinkAttrs:    netlink.LinkAttrs{Name: KernelVXLANDevice, MTU: mtu, HardwareAddr: net.HardwareAddr(cfg.LocalVTEPMAC[:])},
		VxlanId:      int(cfg.VNI),
		VtepDevIndex: ul.Attrs().Index,
		SrcAddr:      net.IP(cfg.LocalUnderlay.AsSlice()),
		Port:         port,
		Learning:     false,
	}
	if old, err := netlink.LinkByName(KernelVXLANDevice); err == nil {
		// A leftover from a crash, or a config change (VNI, port, local
		// address): recreate rather than patch what cannot be changed.
		if v, ok := old.(*netlink.Vxlan); !ok || v.VxlanId != want.VxlanId || v.Port != port || !v.SrcAddr.Equal(want.SrcAddr) || v.VtepDevIndex != want.VtepDevIndex {
			if err := netlink.LinkDel(old); err != nil {
				return fmt.Errorf("replace %s: %w", KernelVXLANDevice, err)
			}
		} else {
			k.link = old
		}
	}
	if k.link == nil {
		if err := netlink.LinkAdd(want); err != nil {
			return fmt.Errorf("create %s: %w", KernelVXLANDevice, err)
		}
		l, err := netlink.LinkByName(KernelVXLANDevice)
		if err != nil {
			return err
		}
		k.link = l
	}
	if err := netlink.LinkSetMTU(k.link, mtu); err != nil {
		return fmt.Errorf("MTU of %s: %w", KernelVXLANDevice, err)
	}
	if err := netlink.LinkSetHardwareAddr(k.link, want.HardwareAddr); err != nil {
		return fmt.Errorf("MAC of %s: %w", KernelVXLANDevice, err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: net.IP(local.AsSlice()), Mask: net.CIDRMask(32, 32)}}
	if err := netlink.AddrReplace(k.link, addr); err != nil {
		return fmt.Errorf("address of %s: %w", KernelVXLANDevice, err)
	}
	return netlink.LinkSetUp(k.link)
}

// pruneNeighbours removes permanent neighbours and FDB entries on the
// device that belong to no current peer.
func (k *KernelVXLAN) pruneNeighbours(idx int, neigh, fdb map[string]bool) error {
	var errs []error
	ns, err := netlink.NeighList(idx, unix.AF_INET)
	if err != nil {
		return err
	}
	for _, n := range ns {
		if n.State&netlink.NUD_PERMANENT != 0 && !neigh[n.IP.String()] {
			if err := netlink.NeighDel(&n); err != nil {
				errs = append(errs, err)
			}
		}
	}
	fs, err := netlink.NeighList(idx, unix.AF_BRIDGE)
	if err != nil {
		return err
	}
	for _, n := range fs {
		if n.IP != nil && !fdb[n.HardwareAddr.String()] {
			if err := netlink.NeighDel(&n); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Remove deletes the device (and with it its neighbours, FDB entries and
// routes) and our routes.
func (k *KernelVXLAN) Remove() error {
	var errs []error
	if l, err := netlink.LinkByName(KernelVXLANDevice); err == nil {
		errs = append(errs, netlink.LinkDel(l))
	}
	errs = append(errs, RemoveOwnedRoutes())
	return errors.Join(errs...)
}
