package node

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/podfwd/podfwd/config"
	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/dataplane/linuxio"
	"github.com/podfwd/podfwd/hostnet"
	"github.com/prometheus/client_golang/prometheus"
)

// undoStack records how to reverse each host change, so a start that fails
// halfway leaves the host as it found it.
type undoStack []func()

func (u *undoStack) push(f func()) { *u = append(*u, f) }

func (u *undoStack) run() {
	for i := len(*u) - 1; i >= 0; i-- {
		(*u)[i]()
	}
	*u = nil
}

// runDaemon runs the node's io path with the egress masquerade around it,
// so every io has it, kept in step with the same configs.
func runDaemon(ctx context.Context, log *slog.Logger, file *config.File, cfg *dataplane.Config, updates <-chan *dataplane.Config, extra []prometheus.Collector) (err error) {
	policy, err := file.MasqueradePolicy()
	if err != nil {
		return err
	}
	masq, err := hostnet.StartMasquerade(log, policy, cfg)
	if err != nil {
		return err
	}
	pathCtx, stopPath := context.WithCancel(ctx)
	defer func() {
		stopPath()
		if merr := masq.Stop(); merr != nil {
			log.Warn("removing the masquerade table", "err", merr)
		}
	}()
	return runPath(pathCtx, log, file, cfg, masq.Follow(pathCtx, updates), extra)
}

// runPath brings the node's dataplane up with cfg, applies every later
// config from updates (nil for a static config) until ctx ends, and
// removes everything it created on the way out.
func runPath(ctx context.Context, log *slog.Logger, file *config.File, cfg *dataplane.Config, updates <-chan *dataplane.Config, extra []prometheus.Collector) (err error) {
	_, native, _ := file.Encap.Kind()
	if native {
		return runNative(ctx, log, file, cfg, updates, extra)
	}
	if file.IO == config.IOKernel {
		return runKernel(ctx, log, file, cfg, updates, extra)
	}
	var undo undoStack
	defer func() {
		if err != nil {
			undo.run()
		}
	}()

	ports, err := openPorts(log, file, cfg)
	if err != nil {
		return err
	}
	undo.push(ports.close)
	var direct *podDirect
	if file.IO == config.IOXDP && file.XDP.Pods {
		if direct, err = openPodDirect(log, file); err != nil {
			return err
		}
		defer direct.close()
	}

	mtu := cfg.TunnelMTU()
	if err := linuxio.SetLinkMTU(nil, ports.tunName, mtu); err != nil {
		return fmt.Errorf("set MTU of %s: %w", ports.tunName, err)
	}
	if err := linuxio.SetLinkUp(nil, ports.tunName); err != nil {
		return fmt.Errorf("set up %s: %w", ports.tunName, err)
	}
	engine, err := dataplane.New(dataplane.Options{
		Pod: ports.pod, Underlay: ports.underlay, Underlay6: ports.underlay6, Local: ports.local,
		UnderlayKind: ports.kind, Logger: log, UDPGSO: ports.udpGSO, PodOffloads: ports.podOffloads,
		PodUDPOffloads: ports.podUSO,
		Reassembly:     ports.reassembly, ReassemblyKind: ports.reassemblyKind,
		PodDirect: direct.port(), TunnelGSO: ports.tunnelGSO, Poll: ports.poll,
	})
	if err != nil {
		return err
	}
	plan, err := newRoutePlan(log, file, cfg, ports.tunIndex)
	if err != nil {
		return err
	}
	engineCfg, routes := plan.split(cfg)
	pmtus := newPathMTUs(log, cfg)
	engineCfg = pmtus.attach(engineCfg)
	if err := engine.SetConfig(engineCfg); err != nil {
		return err
	}
	if direct != nil {
		direct.start(ctx, engine)
	}
	collectors := extra
	if direct != nil {
		collectors = append(collectors[:len(collectors):len(collectors)], direct.collector())
	}
	if xp, ok := ports.underlay.(*loggedXDPPort); ok {
		collectors = append(collectors, newXDPCollector(xp.Port))
	}
	collectors = append(collectors[:len(collectors):len(collectors)], pmtus)
	// /readyz says ready only once the routes steer pod traffic to the
	// TUN and the engine's loops run: probes (and bench) take ready to
	// mean "forwards now".
	var running atomic.Bool
	stopAdmin, err := startAdmin(log, file, engine, cfg, running.Load, collectors...)
	if err != nil {
		return err
	}
	defer stopAdmin()
	undo.push(func() {
		if err := hostnet.RemoveOwnedRoutes(); err != nil {
			log.Warn("removing routes", "err", err)
		}
	})
	if err := hostnet.ReconcileRoutes(routes); err != nil {
		return fmt.Errorf("routes: %w", err)
	}
	log.Info("podfwd up",
		"node", file.NodeName, "io", file.IO, "encap", cfg.Encap.String(), "vni", cfg.VNI,
		"underlay", cfg.LocalUnderlay, "tun", ports.tunName, "tunMTU", mtu,
		"offloads", ports.offloads, "peers", len(cfg.Peers), "tunnelled", len(engineCfg.Peers), "routes", len(routes))

	apply := func(next *dataplane.Config) error {
		nextEngine, nextRoutes := plan.split(next)
		if err := engine.SetConfig(pmtus.attach(nextEngine)); err != nil {
			return err
		}
		return hostnet.ReconcileRoutes(nextRoutes)
	}
	var following sync.WaitGroup
	followCtx, stopFollowing := context.WithCancel(ctx)
	defer stopFollowing()
	if file.IO == config.IOXDP {
		// Whole frames need the underlay MACs, which the control plane
		// does not know and the kernel may change at any time: every
		// config passes through frameConfigs, which the follower also
		// calls when a MAC changes.
		frames := newFrameConfigs(log, file.Underlay.Interface, cfg, apply)
		apply = frames.update
		following.Go(func() { followNeighbours(followCtx, log, frames, defaultFollowTiming) })
	}
	following.Go(func() { pmtus.run(followCtx) })
	go applyUpdates(ctx, log, updates, apply)
	running.Store(true)
	runErr := engine.Run(ctx) // closes the ports when ctx ends
	running.Store(false)
	stopFollowing()
	following.Wait()
	if rerr := hostnet.RemoveOwnedRoutes(); rerr != nil {
		log.Warn("removing routes", "err", rerr)
	}
	logCounters(log, engine)
	log.Info("podfwd down", "node", file.NodeName)
	if runErr != nil && ctx.Err() == nil {
		return runErr
	}
	return nil
}

// tunRoutes are the routes to every peer's pod CIDRs through the TUN.
func tunRoutes(cfg *dataplane.Config, tunIndex int) []hostnet.Route {
	var routes []hostnet.Route
	for _, p := range cfg.Peers {
		for _, cidr := range p.PodCIDRs {
			routes = append(routes, hostnet.Route{Dst: cidr, LinkIndex: tunIndex})
		}
	}
	return routes
}

// applyUpdates applies each config from updates with apply until ctx ends.
// A config that fails is logged and the previous one stays in force:
// forwarding never stops for a bad update.
func applyUpdates(ctx context.Context, log *slog.Logger, updates <-chan *dataplane.Config, apply func(*dataplane.Config) error) {
	for {
		select {
		case <-ctx.Done():
			return
		case next, ok := <-updates:
			if !ok {
				return
			}
			if err := apply(next); err != nil {
				log.Error("config update not applied; keeping the previous one", "generation", next.Generation, "err", err)
				continue
			}
			log.Info("config applied", "generation", next.Generation, "peers", len(next.Peers))
		}
	}
}

// runNative programs routes to each peer's pod CIDRs via the peer's
// underlay address (host-gw); no packet passes through podfwd.
func runNative(ctx context.Context, log *slog.Logger, file *config.File, cfg *dataplane.Config, updates <-chan *dataplane.Config, extra []prometheus.Collector) error {
	routes := nativeRoutes(log, cfg)
	if err := hostnet.ReconcileRoutes(routes); err != nil {
		_ = hostnet.RemoveOwnedRoutes()
		return fmt.Errorf("routes: %w", err)
	}
	showConfig, stopAdmin, err := startKernelPathAdmin(log, file, cfg, func() error { return nil }, extra...)
	if err != nil {
		_ = hostnet.RemoveOwnedRoutes()
		return err
	}
	defer stopAdmin()
	log.Info("podfwd up", "node", file.NodeName, "encap", "none", "routes", len(routes))
	applyUpdates(ctx, log, updates, func(next *dataplane.Config) error {
		if err := hostnet.ReconcileRoutes(nativeRoutes(log, next)); err != nil {
			return err
		}
		showConfig(next)
		return nil
	})
	<-ctx.Done()
	if err := hostnet.RemoveOwnedRoutes(); err != nil {
		return fmt.Errorf("removing routes: %w", err)
	}
	log.Info("podfwd down", "node", file.NodeName)
	return nil
}

// nativeRoutes are the routes to every peer's pod CIDRs via the peer's
// underlay address of the same IP family.
func nativeRoutes(log *slog.Logger, cfg *dataplane.Config) []hostnet.Route {
	var routes []hostnet.Route
	for _, p := range cfg.Peers {
		for _, cidr := range p.PodCIDRs {
			gw := p.Underlay
			if cidr.Addr().Is6() && gw.Is4() {
				gw = p.Underlay6
			}
			if !gw.IsValid() || cidr.Addr().Is4() != gw.Is4() {
				log.Warn("native routing needs an underlay address of the pod CIDR's family (peers[].underlay6); skipped", "peer", p.Name, "cidr", cidr)
				continue
			}
			routes = append(routes, hostnet.Route{Dst: cidr, Gateway: gw})
		}
	}
	return routes
}

func logCounters(log *slog.Logger, e *dataplane.Engine) {
	c := &e.Counters
	attrs := []any{
		"egressRx", c.Egress.Rx.Packets.Load(), "egressTx", c.Egress.Tx.Packets.Load(),
		"ingressRx", c.Ingress.Rx.Packets.Load(), "ingressTx", c.Ingress.Tx.Packets.Load(),
		"gsoSplit", c.Egress.GSOSuper.Load(), "gsoSentWhole", c.Egress.WholeGSO.Load(),
		"gsoDeliveredWhole", c.Ingress.WholeGSO.Load(), "groBuilt", c.Ingress.GSOSuper.Load(),
	}
	for r := dataplane.Reason(1); int(r) < dataplane.NumReasons; r++ {
		if n := c.Drops(r); n > 0 {
			attrs = append(attrs, "drop."+r.String(), n)
		}
	}
	log.Info("counters", attrs...)
}

// hostPorts are the ports of one io path and what is needed to undo them.
type hostPorts struct {
	pod       dataplane.Port
	underlay  dataplane.Port
	underlay6 dataplane.Port
	// reassembly are io xdp's sockets for fragmented tunnel packets.
	reassembly     []dataplane.Port
	reassemblyKind dataplane.UnderlayKind
	local          dataplane.Port
	kind           dataplane.UnderlayKind
	udpGSO         bool
	podOffloads    bool
	podUSO         bool                    // the TUN takes UDP_L4 GSO packets
	tunnelGSO      dataplane.TunnelGSOPort // nil: super-packets are split
	poll           dataplane.Poller        // nil: a goroutine per direction
	tunName        string
	tunIndex       int
	offloads       string
	closers        []func() error
}

func (h *hostPorts) close() {
	for _, c := range h.closers {
		_ = c()
	}
}
