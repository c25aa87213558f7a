package linuxio

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/dataplane/offload"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// tunFUDPTunnelGSO is the TUNSETOFFLOAD bit for GSO over UDP tunnels
// (Linux 6.17+, not yet in x/sys): the device takes
// virtio_net_hdr_v1_hash_tunnel headers.
const tunFUDPTunnelGSO = 0x80

// ErrTunnelGSOUnsupported means the kernel or the host's settings do not
// let a TAP carry UDP-tunnel GSO frames; the caller splits super-packets
// itself instead.
var ErrTunnelGSOUnsupported = errors.New("UDP-tunnel GSO through a TAP is not available")

// TunnelTAP is a TAP device through which whole encapsulated super-packets
// leave the node: each write is one Ethernet frame addressed to the TAP's
// own MAC, holding outer IPv4 + UDP + tunnel header + the inner GSO packet,
// described by a virtio_net_hdr_v1_hash_tunnel. The kernel takes the frame
// as received on the TAP, forwards it by its outer destination like any
// routed packet, and segments it only where a device needs it (a veth or a
// NIC with tunnel TSO takes it whole) — what the kernel's own VXLAN device
// does with its GSO packets.
//
// The outer source is this node's own address, which the kernel refuses on
// input unless the device has accept_local=1 and no reverse-path filter, and
// it forwards only from a device with forwarding=1: OpenTunnelTAP sets those
// on the TAP alone (they vanish with it), and refuses when the host-wide
// rp_filter is strict (1), which no per-device setting can lift. Nothing is ever read from the TAP: it has
// no address, no ARP and no IPv6, so the kernel sends nothing to it.
type TunnelTAP struct {
	name   string
	mac    [6]byte
	raw    *rawConn
	closed atomic.Bool

	writeFn func(fd uintptr) bool
	txPkts  []*dataplane.Packet
	txN     int
	txErrno unix.Errno
}

// TunnelTAPOptions choose how OpenTunnelTAP probes; the zero value probes
// the kernel for real.
type TunnelTAPOptions struct {
	// LocalAddr is this node's underlay address, the frames' source. With
	// a loose host-wide reverse-path filter (rp_filter=2) the TAP gets it
	// as a /32 host-scope address, because the kernel rejects any source
	// on an input device without addresses; it is already local, so
	// nothing new becomes reachable, and it goes with the TAP.
	LocalAddr netip.Addr
	// SetOffload replaces the TUNSETOFFLOAD ioctl (tests use it to play a
	// kernel that refuses the tunnel bits).
	SetOffload func(fd int, flags int) error
}

// OpenTunnelTAP creates the TAP name in the calling thread's network
// namespace, negotiates UDP-tunnel GSO and prepares the device for
// forwarding. An error wrapping ErrTunnelGSOUnsupported says why this
// kernel or host cannot use it; nothing is left behind on any error.
func OpenTunnelTAP(name string, opts TunnelTAPOptions) (_ *TunnelTAP, err error) {
	rpf := readSysctlInt("net/ipv4/conf/all/rp_filter")
	if rpf == 1 || (rpf == 2 && !opts.LocalAddr.Is4()) {
		return nil, fmt.Errorf("%w: net.ipv4.conf.all.rp_filter is %d; the kernel would drop frames whose source is this node's own address", ErrTunnelGSOUnsupported, rpf)
	}
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("linuxio: open /dev/net/tun: %w", err)
	}
	defer func() {
		if err != nil {
			unix.Close(fd)
		}
	}()
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return nil, fmt.Errorf("linuxio: tap name %q: %w", name, err)
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		return nil, fmt.Errorf("linuxio: TUNSETIFF %q: %w", name, err)
	}
	t := &TunnelTAP{name: ifr.Name()}
	if err := unix.IoctlSetPointerInt(fd, unix.TUNSETVNETHDRSZ, offload.VirtioNetHdrTunnelLen); err != nil {
		return nil, fmt.Errorf("%w: TUNSETVNETHDRSZ %d on %s: %w", ErrTunnelGSOUnsupported, offload.VirtioNetHdrTunnelLen, t.name, err)
	}
	setOffload := opts.SetOffload
	if setOffload == nil {
		setOffload = func(fd, flags int) error { return unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, flags) }
	}
	// The tunnel bit also makes the kernel parse the 24-byte header on
	// writes; kernels without it reject it with EINVAL.
	flags := unix.TUN_F_CSUM | unix.TUN_F_TSO4 | unix.TUN_F_TSO6 | tunFUDPTunnelGSO
	if err := setOffload(fd, flags); err != nil {
		return nil, fmt.Errorf("%w: TUNSETOFFLOAD UDP_TUNNEL_GSO on %s: %w", ErrTunnelGSOUnsupported, t.name, err)
	}
	loose := netip.Addr{}
	if rpf == 2 {
		loose = opts.LocalAddr
	}
	if err := t.prepareLink(loose); err != nil {
		return nil, err
	}
	// Outside the netpoller: every frame written would otherwise wake
	// the runtime's epoll when its buffer is freed (see rawConn).
	t.raw = &rawConn{fd: fd}
	t.buildWrite()
	return t, nil
}

// prepareLink sets the per-device settings forwarding needs, gives the TAP
// no IPv6 link-local address and no ARP so the kernel never queues
// anything for us to read, gives it addr (when valid; see
// TunnelTAPOptions.LocalAddr), brings the link up and learns its MAC.
//
// The IPv4 settings go through netlink (IFLA_INET_CONF), not /proc/sys:
// a container runtime mounts /proc/sys read-only for all but privileged
// containers, and the DaemonSet's is not privileged.
func (t *TunnelTAP) prepareLink(addr netip.Addr) error {
	link, err := netlink.LinkByName(t.name)
	if err != nil {
		return fmt.Errorf("linuxio: tap %s: %w", t.name, err)
	}
	if err := setIPv4DevConf(link.Attrs().Index, map[int]uint32{
		ipv4DevConfForwarding:  1,
		ipv4DevConfRPFilter:    0,
		ipv4DevConfAcceptLocal: 1,
	}); err != nil {
		return fmt.Errorf("linuxio: tap %s: forwarding=1 rp_filter=0 accept_local=1: %w", t.name, err)
	}
	// No link-local address: no router or neighbour solicitations. A host
	// without IPv6 refuses the call, which is as good.
	_ = netlink.LinkSetIP6AddrGenMode(link, in6AddrGenModeNone)
	if err := netlink.LinkSetARPOff(link); err != nil {
		return fmt.Errorf("linuxio: tap %s: arp off: %w", t.name, err)
	}
	if addr.IsValid() {
		a := &netlink.Addr{IPNet: &net.IPNet{IP: addr.AsSlice(), Mask: net.CIDRMask(32, 32)}, Scope: unix.RT_SCOPE_HOST}
		if err := netlink.AddrAdd(link, a); err != nil {
			return fmt.Errorf("linuxio: tap %s: address %s: %w", t.name, addr, err)
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("linuxio: tap %s: up: %w", t.name, err)
	}
	copy(t.mac[:], link.Attrs().HardwareAddr)
	return nil
}

func readSysctlInt(key string) int {
	b, err := os.ReadFile(filepath.Join("/proc/sys", key))
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

func (t *TunnelTAP) buildWrite() {
	t.writeFn = func(fd uintptr) bool {
		return writeEach(fd, t.txPkts, offload.VirtioNetHdrTunnelLen, &t.txN, &t.txErrno)
	}
}

// Name returns the device name.
func (t *TunnelTAP) Name() string { return t.name }

// MAC returns the TAP's Ethernet address: every frame must be sent to it,
// or the kernel takes it for another host's and drops it.
func (t *TunnelTAP) MAC() [6]byte { return t.mac }

// WriteBatch writes each packet as one frame: Buf[Start:End] is the frame
// from its Ethernet header, and GSO (with the tunnel offsets) is encoded
// into the VirtioNetHdrTunnelLen bytes in front of Start. It returns how
// many were written; on error pkts[n] is the one that failed (EINVAL: the
// kernel refused its header).
func (t *TunnelTAP) WriteBatch(pkts []*dataplane.Packet) (int, error) {
	for i, p := range pkts {
		if p.Start < offload.VirtioNetHdrTunnelLen {
			return 0, fmt.Errorf("tap %s: packet %d: %w", t.name, i, ErrNoHeadroom)
		}
		_ = p.GSO.EncodeTunnel(p.Buf[p.Start-offload.VirtioNetHdrTunnelLen : p.Start])
	}
	t.txPkts, t.txN, t.txErrno = pkts, 0, 0
	err := t.raw.Write(t.writeFn)
	t.txPkts = nil
	if err != nil {
		if t.closed.Load() {
			return t.txN, &closedError{op: "tap write", err: os.ErrClosed}
		}
		return t.txN, portError("tap write", err)
	}
	if t.txErrno != 0 {
		return t.txN, os.NewSyscallError("write", t.txErrno)
	}
	return t.txN, nil
}

// Close closes the fd, which removes the device and its sysctls.
func (t *TunnelTAP) Close() error {
	t.closed.Store(true)
	return t.raw.Close()
}
