package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/podfwd/podfwd/admin"
	"github.com/podfwd/podfwd/config"
	"github.com/podfwd/podfwd/dataplane"
	"github.com/prometheus/client_golang/prometheus"
)

// startAdmin serves the admin API on the configured unix socket and the
// metrics, /healthz and /readyz on the configured TCP address, for engine.
// /readyz reports ready while running says the host is programmed and the
// engine runs, and the TUN is up.
// Neither is allowed to stop forwarding: a listener that cannot be opened
// (another daemon holds the socket, no loopback in the namespace) is
// logged and skipped. stop ends trace sessions and closes both listeners.
func startAdmin(log *slog.Logger, file *config.File, engine *dataplane.Engine, cfg *dataplane.Config, running func() bool, extra ...prometheus.Collector) (stop func(), err error) {
	srv := admin.NewServer(engine, log, admin.Info{Node: file.NodeName, IO: string(file.IO), Frames: file.IO == config.IOXDP})
	for _, c := range extra {
		if err := srv.Registry().Register(c); err != nil {
			log.Warn("metrics collector not registered", "err", err)
		}
	}
	srv.Ready = engineReady(running, file.TUN.Name)
	return serveAdmin(log, file, srv), nil
}

// startKernelPathAdmin is startAdmin for the modes where the kernel
// forwards and podfwd only programs it (encap none, io kernel): the same
// listeners, so that the DaemonSet's probes and the scrape work in every
// mode, over an engine that is never run and only holds the config in
// force (generation, peers, config-applied in the metrics; its forwarding
// counters stay 0, which is true). Traces are refused with the reason.
// setConfig installs each later config; ready says whether the node's
// kernel is programmed.
func startKernelPathAdmin(log *slog.Logger, file *config.File, cfg *dataplane.Config, ready func() error, extra ...prometheus.Collector) (setConfig func(*dataplane.Config), stop func(), err error) {
	engine, err := dataplane.New(dataplane.Options{Pod: dataplane.NewMemPort("kernel", 1), Underlay: dataplane.NewMemPort("kernel", 1), Logger: log})
	if err != nil {
		return nil, nil, err
	}
	setConfig = func(c *dataplane.Config) {
		if err := engine.SetConfig(c); err != nil {
			log.Warn("admin: config not shown in metrics", "err", err)
		}
	}
	setConfig(cfg)
	io := string(file.IO)
	if _, native, _ := file.Encap.Kind(); native {
		io = "native"
	}
	srv := admin.NewServer(engine, log, admin.Info{Node: file.NodeName, IO: io, KernelForwards: true})
	for _, c := range extra {
		if err := srv.Registry().Register(c); err != nil {
			log.Warn("metrics collector not registered", "err", err)
		}
	}
	srv.Ready = ready
	return setConfig, serveAdmin(log, file, srv), nil
}

// serveAdmin opens the configured listeners for srv; the returned stop
// ends trace sessions and closes them.
func serveAdmin(log *slog.Logger, file *config.File, srv *admin.Server) (stop func()) {
	var servers []*http.Server
	serve := func(what string, l net.Listener, h http.Handler) {
		hs := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
		servers = append(servers, hs)
		go func() {
			if err := hs.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Warn("admin listener failed", "what", what, "err", err)
			}
		}()
		log.Info("admin listening", "what", what, "addr", l.Addr().String())
	}
	if path := file.Admin.Socket; path != config.AdminOff {
		if l, err := admin.ListenUnix(path); err != nil {
			log.Warn("admin socket unavailable; podfwd trace cannot attach to this daemon", "err", err)
		} else {
			serve("api", l, srv.AdminHandler())
		}
	}
	if addr := file.Admin.MetricsAddress; addr != config.AdminOff {
		if l, err := net.Listen("tcp", addr); err != nil {
			log.Warn("metrics listener unavailable", "addr", addr, "err", err)
		} else {
			serve("metrics", l, srv.MetricsHandler())
		}
	}
	return func() {
		srv.Close() // ends trace streams, so Shutdown need not wait for them
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		for _, hs := range servers {
			if err := hs.Shutdown(ctx); err != nil {
				hs.Close()
			}
		}
	}
}

// engineReady is the readiness of the engine path: routes programmed and
// the engine running (running), and the pod-side link up.
func engineReady(running func() bool, tun string) func() error {
	return func() error {
		if !running() {
			return errNotRunning
		}
		return linkUp(tun)
	}
}

// errNotRunning is the readiness reason between start and the moment the
// routes are programmed and the engine's loops start (and after they stop).
var errNotRunning = errors.New("routes not programmed or engine not running yet")

// linkUp says why the pod-side link is not up, or nil.
func linkUp(name string) error {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return fmt.Errorf("link %s: %w", name, err)
	}
	if ifi.Flags&net.FlagUp == 0 {
		return fmt.Errorf("link %s is down", name)
	}
	return nil
}
