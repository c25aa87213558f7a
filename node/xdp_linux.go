package node

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/podfwd/podfwd/config"
	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/dataplane/linuxio"
	"github.com/podfwd/podfwd/dataplane/xdpport"
	"github.com/podfwd/podfwd/encap"
	"github.com/podfwd/podfwd/xdp"
	"github.com/vishvananda/netlink"
)

// xdpFrameSize is the UMEM frame size of the underlay socket; the kernel
// keeps xdpKernelHeadroom of every frame in front of a received packet.
const (
	xdpFrameSize      = 4096
	xdpKernelHeadroom = 256
)

// openXDPPorts opens the pod-side TUN (as io tun does) and, for the
// underlay, an AF_XDP socket on one queue of the underlay interface with
// the redirect program attached in front of it: only tunnel traffic to our
// underlay address reaches podfwd, everything else (ARP, ICMP, SSH, the
// API server) passes to the kernel. The engine then reads and writes whole
// Ethernet frames, so the interface's MAC and each peer's next-hop MAC are
// resolved here, before anything is attached.
//
// No pass-through program is installed on the veth peer: native XDP on a
// veth receives without one, and AF_XDP transmits in copy mode through the
// ordinary transmit path (xdp's tests and the e2e tests show both), so
// nothing in the namespace we do not own is touched.
func openXDPPorts(log *slog.Logger, file *config.File, cfg *dataplane.Config) (_ *hostPorts, err error) {
	h := &hostPorts{tunName: file.TUN.Name, kind: dataplane.UnderlayFrame}
	defer func() {
		if err != nil {
			h.close()
		}
	}()
	track := func(c interface{ Close() error }) { h.closers = append(h.closers, c.Close) }

	// One polling thread serves the TUN and the AF_XDP rings, as in tun
	// io; with AF_XDP on the pods' veths too, the direct port keeps its
	// goroutines and so does the rest.
	spin, pollOn, err := file.Poll.SpinDuration()
	if err != nil {
		return nil, err
	}
	polled := pollOn && !file.XDP.Pods
	tun, err := linuxio.OpenTUN(file.TUN.Name, linuxio.TUNOptions{Offloads: config.On(file.Offloads.TUNVnetHdr), Raw: polled})
	if err != nil {
		return nil, fmt.Errorf("open TUN %s: %w", file.TUN.Name, err)
	}
	track(tun)
	h.pod, h.offloads, h.podOffloads = tun, "tun="+tun.Offloads().String(), tun.Offloads().VnetHdr
	h.podUSO = tun.Offloads().USO4 && tun.Offloads().USO6
	tunLink, err := netlink.LinkByName(file.TUN.Name)
	if err != nil {
		return nil, fmt.Errorf("find TUN %s: %w", file.TUN.Name, err)
	}
	h.tunIndex = tunLink.Attrs().Index
	local, err := openLocalPort()
	if err != nil {
		return nil, err
	}
	track(local)
	h.local = local

	ul, err := netlink.LinkByName(file.Underlay.Interface)
	if err != nil {
		return nil, fmt.Errorf("underlay interface %s: %w", file.Underlay.Interface, err)
	}
	if err := checkFrameFits(cfg.UnderlayMTU); err != nil {
		return nil, err
	}
	if err := fillFrameAddresses(log, ul, cfg); err != nil {
		return nil, err
	}
	up, offloads, err := openUnderlayXDP(log, file, cfg, ul)
	if err != nil {
		return nil, err
	}
	track(up)
	h.underlay = up
	h.offloads += offloads
	refds, err := h.openReassembly(log, cfg, polled)
	if err != nil {
		return nil, err
	}
	if err := h.openPoller(polled, spin, tun, append(up.Port.FDs(), refds...)...); err != nil {
		return nil, err
	}
	return h, nil
}

// fillFrameAddresses fills in what frame mode needs of the start's config
// and the control plane does not know: our underlay interface's MAC and
// each peer's next-hop MAC (zero for a next hop that does not resolve in
// time). Every later config passes through frameConfigs instead, which
// also follows the kernel's changes to them.
func fillFrameAddresses(log *slog.Logger, ul netlink.Link, cfg *dataplane.Config) error {
	return resolvePeerMACs(log, ul, cfg)
}

// xdpPortOptions turns the config into the port's options: which packets
// the program takes, how it attaches, how the socket binds.
func xdpPortOptions(file *config.File, cfg *dataplane.Config, ifname string) (xdpport.Options, error) {
	opts := xdpport.Options{
		Name:   "xdp:" + ifname,
		Socket: xdp.SocketConfig{FrameSize: xdpFrameSize},
	}
	if cfg.LocalUnderlay.Is4() {
		opts.Redirect.LocalIPv4 = cfg.LocalUnderlay
	} else {
		opts.Redirect.LocalIPv6 = cfg.LocalUnderlay
	}
	switch cfg.Encap {
	case encap.KindIPIP:
		opts.Redirect.IPIP = true
	default:
		opts.Redirect.UDPPorts = []uint16{tunnelPort(cfg)}
	}
	switch file.XDP.Mode {
	case config.XDPModeNative:
		opts.RequireDriver = true
	case config.XDPModeGeneric:
		opts.Attach.GenericOnly = true
	}
	switch file.XDP.ZeroCopy {
	case config.XDPZeroCopyOn:
		opts.Socket.Mode = xdp.BindZeroCopy
	case config.XDPZeroCopyOff:
		opts.Socket.Mode = xdp.BindCopy
	}
	return opts, nil
}

// tunnelPort is the UDP port of the configured tunnel.
func tunnelPort(cfg *dataplane.Config) uint16 {
	if cfg.Port != 0 {
		return cfg.Port
	}
	if cfg.Encap == encap.KindGeneve {
		return encap.DefaultGenevePort
	}
	return encap.DefaultVXLANPort
}

// errFrameTooSmall is wrapped when the underlay MTU does not fit a frame.
var errFrameTooSmall = errors.New("underlay MTU does not fit an AF_XDP frame")

func checkFrameFits(mtu int) error {
	if mtu == 0 {
		mtu = 1500
	}
	if room := xdpFrameSize - xdpKernelHeadroom - encap.EthernetLen; mtu > room {
		return fmt.Errorf("%w: MTU %d > %d (frame %d bytes, %d kept by the kernel)", errFrameTooSmall, mtu, room, xdpFrameSize, xdpKernelHeadroom)
	}
	return nil
}
