package node

import (
	"fmt"
	"log/slog"
	"net/netip"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/dataplane/linuxio"
	"github.com/podfwd/podfwd/encap"
)

// openReassembly opens, for io xdp, the sockets that receive what the
// redirect program leaves to the kernel of our tunnel: IP fragments. A
// path with a smaller MTU fragments tunnel packets that carry no DF, the
// XDP program cannot steer a fragment (a non-first one has no port), and
// the kernel reassembles them; without a socket on the tunnel port (or a
// raw IPIP socket) the datagram would then find none and be lost, counted
// by nobody but the kernel's UdpNoPorts. The sockets are only read; what
// arrives goes through the same ingress checks as a frame.
func (h *hostPorts) openReassembly(log *slog.Logger, cfg *dataplane.Config, polled bool) (fds []int, err error) {
	track := func(c interface{ Close() error }) { h.closers = append(h.closers, c.Close) }
	if cfg.Encap == encap.KindIPIP {
		if !cfg.LocalUnderlay.Unmap().Is4() {
			// No raw IPIP socket over an IPv6 underlay here (linuxio
			// supports IPv4 outers only): fragments stay the kernel's.
			log.Warn("io xdp: IPIP over an IPv6 underlay has no reassembly socket; fragmented tunnel packets are not received")
			return nil, nil
		}
		listen := linuxio.ListenIPIP
		if polled {
			listen = linuxio.ListenIPIPRaw
		}
		h.reassemblyKind = dataplane.UnderlayIP
		for _, proto := range []int{linuxio.ProtoIPIP, linuxio.ProtoIPv6in4} {
			p, err := listen(cfg.LocalUnderlay, proto)
			if err != nil {
				return nil, fmt.Errorf("reassembly socket (IP protocol %d): %w", proto, err)
			}
			track(p)
			h.reassembly = append(h.reassembly, p)
			fds = append(fds, p.FD())
		}
		return fds, nil
	}
	laddr := netip.AddrPortFrom(cfg.LocalUnderlay, tunnelPort(cfg))
	u, err := linuxio.ListenUDP(laddr, linuxio.UDPOptions{DisableGSO: true, DisableGRO: true, Logger: log, Raw: polled})
	if err != nil {
		return nil, fmt.Errorf("reassembly socket UDP %s: %w", laddr, err)
	}
	track(u)
	h.reassemblyKind = dataplane.UnderlayUDP
	h.reassembly = append(h.reassembly, u)
	return []int{u.FD()}, nil
}
