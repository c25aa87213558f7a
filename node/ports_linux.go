package node

import (
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/podfwd/podfwd/config"
	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/dataplane/linuxio"
	"github.com/podfwd/podfwd/encap"
	"github.com/vishvananda/netlink"
)

// openPorts opens the pod-side TUN and the underlay socket(s) of the
// configured io path. On error everything opened so far is closed.
func openPorts(log *slog.Logger, file *config.File, cfg *dataplane.Config) (_ *hostPorts, err error) {
	if file.IO == config.IOXDP {
		return openXDPPorts(log, file, cfg)
	}
	h := &hostPorts{tunName: file.TUN.Name, kind: dataplane.UnderlayUDP}
	defer func() {
		if err != nil {
			h.close()
		}
	}()
	track := func(c interface{ Close() error }) { h.closers = append(h.closers, c.Close) }
	var tun *linuxio.TUN // tun io's device, nil for udp-process
	// With the polling thread (tun io), the TUN and the sockets stay out
	// of Go's netpoller.
	spin, pollOn, perr := file.Poll.SpinDuration()
	if perr != nil {
		return nil, perr
	}
	polled := pollOn && file.IO != config.IOUDPProcess

	process := file.IO == config.IOUDPProcess
	switch {
	case process:
		tun, err := linuxio.OpenProcessTUN(file.TUN.Name)
		if err != nil {
			return nil, fmt.Errorf("open TUN %s: %w", file.TUN.Name, err)
		}
		track(tun)
		h.pod, h.offloads = tun, "none (udp-process baseline)"
	default:
		tun, err = linuxio.OpenTUN(file.TUN.Name, linuxio.TUNOptions{Offloads: config.On(file.Offloads.TUNVnetHdr), Raw: polled})
		if err != nil {
			return nil, fmt.Errorf("open TUN %s: %w", file.TUN.Name, err)
		}
		track(tun)
		h.pod, h.offloads = tun, "tun="+tun.Offloads().String()
		h.podOffloads = tun.Offloads().VnetHdr
		h.podUSO = tun.Offloads().USO4 && tun.Offloads().USO6
	}
	link, err := netlink.LinkByName(file.TUN.Name)
	if err != nil {
		return nil, fmt.Errorf("find TUN %s: %w", file.TUN.Name, err)
	}
	h.tunIndex = link.Attrs().Index

	local, err := openLocalPort()
	if err != nil {
		return nil, err
	}
	track(local)
	h.local = local

	if cfg.Encap == encap.KindIPIP {
		if process {
			return nil, fmt.Errorf("%w: io udp-process carries vxlan or geneve only (flannel's udp backend has no ipip)", config.ErrConfig)
		}
		h.kind = dataplane.UnderlayIP
		listen := linuxio.ListenIPIP
		if polled {
			listen = linuxio.ListenIPIPRaw
		}
		p4, err := listen(cfg.LocalUnderlay, linuxio.ProtoIPIP)
		if err != nil {
			return nil, fmt.Errorf("raw IPIP socket: %w", err)
		}
		track(p4)
		p6, err := listen(cfg.LocalUnderlay, linuxio.ProtoIPv6in4)
		if err != nil {
			return nil, fmt.Errorf("raw IPv6-in-IPv4 socket: %w", err)
		}
		track(p6)
		h.underlay, h.underlay6 = p4, p6
		if err := h.openPoller(polled, spin, tun, p4.FD(), p6.FD()); err != nil {
			return nil, err
		}
		return h, nil
	}

	port := cfg.Port
	if port == 0 {
		port = map[encap.Kind]uint16{encap.KindVXLAN: encap.DefaultVXLANPort, encap.KindGeneve: encap.DefaultGenevePort}[cfg.Encap]
	}
	laddr := netip.AddrPortFrom(cfg.LocalUnderlay, port)
	if process {
		u, err := linuxio.ListenProcessUDP(laddr)
		if err != nil {
			return nil, fmt.Errorf("UDP socket %s: %w", laddr, err)
		}
		track(u)
		h.underlay = u
		return h, nil
	}
	u, err := linuxio.ListenUDP(laddr, linuxio.UDPOptions{
		DisableGSO: !config.On(file.Offloads.UDPGSO),
		DisableGRO: !config.On(file.Offloads.UDPGRO),
		Logger:     log,
		Raw:        polled,
	})
	if err != nil {
		return nil, fmt.Errorf("UDP socket %s: %w", laddr, err)
	}
	track(u)
	h.underlay = u
	h.udpGSO = u.Offloads().GSO
	h.offloads += " udp=" + u.Offloads().String()
	h.openTunnelGSO(log, file, cfg)
	if err := h.openPoller(polled, spin, tun, u.FD()); err != nil {
		return nil, err
	}
	return h, nil
}

// openPoller sets up the one polling thread of tun io when polled (else
// each direction keeps its goroutine), spinning up to spin.
func (h *hostPorts) openPoller(polled bool, spin time.Duration, tun *linuxio.TUN, underlayFDs ...int) error {
	if !polled {
		h.offloads += " poll=goroutines"
		return nil
	}
	p, err := linuxio.NewPoller(spin, append([]int{tun.FD()}, underlayFDs...)...)
	if err != nil {
		return err
	}
	h.closers = append(h.closers, p.Close)
	h.poll = p
	h.offloads += " poll=thread spin=" + spin.String()
	return nil
}

// openTunnelGSO opens the TAP that takes super-packets whole when the
// config allows it and this path can use it. Any failure only costs speed:
// it is logged with its reason and super-packets are split as before.
func (h *hostPorts) openTunnelGSO(log *slog.Logger, file *config.File, cfg *dataplane.Config) {
	state := "off"
	defer func() { h.offloads += " tunnel-gso=" + state }()
	switch {
	case !config.On(file.Offloads.TunnelGSO):
		state = "off (offloads.tunnelGSO: false)"
		return
	case !h.podOffloads:
		state = "off (needs offloads.tunVnetHdr)"
		return
	case !cfg.LocalUnderlay.Is4():
		state = "off (IPv6 underlay)"
		return
	}
	tap, err := linuxio.OpenTunnelTAP(tunnelTAPName(file.TUN.Name), linuxio.TunnelTAPOptions{LocalAddr: cfg.LocalUnderlay})
	if err != nil {
		log.Warn("UDP-tunnel GSO not available; podfwd splits super-packets itself", "err", err)
		state = "off (refused)"
		return
	}
	h.closers = append(h.closers, tap.Close)
	h.tunnelGSO = tap
	state = "on (" + tap.Name() + ")"
}

// tunnelTAPName is the TAP's name: the TUN's with a suffix, within the
// kernel's 15 bytes.
func tunnelTAPName(tun string) string {
	const suffix = "-gso"
	if len(tun) > 15-len(suffix) {
		tun = tun[:15-len(suffix)]
	}
	return tun + suffix
}
