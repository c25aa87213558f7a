package topo

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync/atomic"
)

// Fixed names and numbers of the topology. Interface names live inside the
// topology's own namespaces, so they never collide with the host's and stay
// well under Linux's 15-byte limit.
const (
	// UnderlayLink is the name of every node's underlay interface.
	UnderlayLink = "eth0"
	// PodBridge is the name of the bridge in every node that pods plug into.
	PodBridge = "cni0"
	// PodLink is the name of every pod's interface.
	PodLink = "eth0"
	// VXLANDevice is the kernel VXLAN device KernelVXLAN creates (flannel's name).
	VXLANDevice = "flannel.1"
	// VXLANDeviceV6 is the IPv6-underlay VXLAN device (flannel's name).
	VXLANDeviceV6 = "flannel-v6.1"
	// VXLANVNI is the VNI flannel uses and KernelVXLAN programs.
	VXLANVNI = 1
	// DefaultVXLANPort is flannel's VXLAN UDP port.
	DefaultVXLANPort = 8472

	underlayBridge = "br0"
	maxNodes       = 250
	maxPodsPerNode = 200
	firstPodHost   = 10
)

// topologies counts topologies made with a default prefix in this process.
var topologies atomic.Int32

// defaultPrefix is "pf" + 4 hex digits of the PID (as testenv.RunPrefix), so
// Sweep can tell the owner's PID; later topologies of the same process get
// a "t<n>" suffix, which keeps the 4 digits Sweep reads intact.
func defaultPrefix() string {
	p := fmt.Sprintf("pf%04x", os.Getpid()&0xffff)
	if n := topologies.Add(1); n > 1 {
		p += "t" + strconv.Itoa(int(n))
	}
	return p
}

func underlayNamespace(prefix string) string { return prefix + "-ul" }

func nodeNamespace(prefix string, k int) string { return fmt.Sprintf("%s-n%d", prefix, k) }

func podNamespace(prefix string, k, j int) string { return fmt.Sprintf("%s-n%dp%d", prefix, k, j) }

// underlayPort is node k's veth peer on the underlay bridge.
func underlayPort(k int) string { return "n" + strconv.Itoa(k) }

// podHostVeth is pod j's veth peer inside its node, enslaved to cni0.
func podHostVeth(j int) string { return "vethp" + strconv.Itoa(j) }

func underlayIPv4(k int) netip.Addr { return netip.AddrFrom4([4]byte{10, 99, 0, byte(k)}) }

func underlayIPv6(k int) netip.Addr {
	return netip.AddrFrom16([16]byte{0: 0xfd, 1: 0x99, 14: byte(k >> 8), 15: byte(k)})
}

func podCIDRv4(k int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 244, byte(k), 0}), 24)
}

// podCIDRv6 is fd00:244:K::/64.
func podCIDRv6(k int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom16([16]byte{0: 0xfd, 2: 0x02, 3: 0x44, 4: byte(k >> 8), 5: byte(k)}), 64)
}

// hostIn returns the address with host part h inside a /24 or /64 prefix.
func hostIn(p netip.Prefix, h int) netip.Addr {
	if p.Addr().Is4() {
		b := p.Addr().As4()
		b[3] = byte(h)
		return netip.AddrFrom4(b)
	}
	b := p.Addr().As16()
	b[14], b[15] = byte(h>>8), byte(h)
	return netip.AddrFrom16(b)
}

// vtepMAC is a stable, locally administered MAC for node k's VXLAN device:
// 02:70:66 ("pf"), then 00 for IPv4 or 06 for IPv6, then k.
func vtepMAC(k int, v6 bool) net.HardwareAddr {
	family := byte(0x00)
	if v6 {
		family = 0x06
	}
	return net.HardwareAddr{0x02, 0x70, 0x66, family, byte(k >> 8), byte(k)}
}
