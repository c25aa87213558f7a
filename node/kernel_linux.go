package node

import (
	"context"
	"log/slog"

	"github.com/podfwd/podfwd/config"
	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/hostnet"
	"github.com/prometheus/client_golang/prometheus"
)

// runKernel is io kernel: the kernel's own VXLAN device carries the pods'
// traffic, programmed by podfwd exactly as flannel's vxlan backend does
// (device, FDB, permanent neighbours, onlink routes), and kept in step with
// every config. No packet passes through podfwd. The device and routes are
// removed on exit.
func runKernel(ctx context.Context, log *slog.Logger, file *config.File, cfg *dataplane.Config, updates <-chan *dataplane.Config, extra []prometheus.Collector) error {
	k := &hostnet.KernelVXLAN{Underlay: file.Underlay.Interface}
	if err := k.Apply(cfg); err != nil {
		if rerr := k.Remove(); rerr != nil {
			log.Warn("cleaning up after a failed start", "err", rerr)
		}
		return err
	}
	showConfig, stopAdmin, err := startKernelPathAdmin(log, file, cfg,
		func() error { return linkUp(hostnet.KernelVXLANDevice) }, extra...)
	if err != nil {
		if rerr := k.Remove(); rerr != nil {
			log.Warn("cleaning up after a failed start", "err", rerr)
		}
		return err
	}
	defer stopAdmin()
	log.Info("podfwd up", "node", file.NodeName, "io", "kernel", "device", hostnet.KernelVXLANDevice,
		"vni", cfg.VNI, "underlay", cfg.LocalUnderlay, "peers", len(cfg.Peers))
	applyUpdates(ctx, log, updates, func(next *dataplane.Config) error {
		if err := k.Apply(next); err != nil {
			return err
		}
		showConfig(next)
		return nil
	})
	<-ctx.Done()
	if err := k.Remove(); err != nil {
		return err
	}
	log.Info("podfwd down", "node", file.NodeName)
	return nil
}
