package node

import (
	"fmt"
	"log/slog"
	"net/netip"

	"github.com/podfwd/podfwd/config"
	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/hostnet"
	"github.com/vishvananda/netlink"
)

// routePlan decides, for each config, which peers the engine tunnels to
// and which routes the kernel gets. Without hybrid every peer is tunnelled
// through the TUN; with hybrid, peers on our underlay subnet get native
// routes via their underlay address and only the others are tunnelled.
type routePlan struct {
	log      *slog.Logger
	tunIndex int
	direct   netip.Prefix // our underlay subnet; invalid when hybrid is off
}

// newRoutePlan reads our underlay subnet when hybrid is on.
func newRoutePlan(log *slog.Logger, file *config.File, cfg *dataplane.Config, tunIndex int) (*routePlan, error) {
	p := &routePlan{log: log, tunIndex: tunIndex}
	if !file.Hybrid {
		return p, nil
	}
	if file.Underlay.Interface == "" {
		return nil, fmt.Errorf("%w: hybrid: needs underlay.interface (its subnet decides which peers are routed natively)", config.ErrConfig)
	}
	link, err := netlink.LinkByName(file.Underlay.Interface)
	if err != nil {
		return nil, fmt.Errorf("hybrid: underlay interface %s: %w", file.Underlay.Interface, err)
	}
	addrs, err := netlink.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("hybrid: addresses of %s: %w", file.Underlay.Interface, err)
	}
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok || ip.Unmap() != cfg.LocalUnderlay {
			continue
		}
		ones, _ := a.Mask.Size()
		p.direct = netip.PrefixFrom(ip.Unmap(), ones).Masked()
	}
	if !p.direct.IsValid() {
		return nil, fmt.Errorf("hybrid: %s has no address %s", file.Underlay.Interface, cfg.LocalUnderlay)
	}
	log.Info("hybrid: native routing to peers on the underlay subnet, tunnel to the others", "subnet", p.direct)
	return p, nil
}

// split returns the config the engine runs (only tunnelled peers) and every
// route the kernel needs.
func (p *routePlan) split(cfg *dataplane.Config) (*dataplane.Config, []hostnet.Route) {
	if !p.direct.IsValid() {
		return cfg, tunRoutes(cfg, p.tunIndex)
	}
	engineCfg := *cfg
	engineCfg.Peers = nil
	var direct []dataplane.Peer
	for _, peer := range cfg.Peers {
		if p.direct.Contains(peer.Underlay) {
			direct = append(direct, peer)
		} else {
			engineCfg.Peers = append(engineCfg.Peers, peer)
		}
	}
	routes := tunRoutes(&engineCfg, p.tunIndex)
	routes = append(routes, nativeRoutes(p.log, &dataplane.Config{Peers: direct})...)
	return &engineCfg, routes
}
