package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/podfwd/podfwd/config"
	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/hostnet"
	"github.com/podfwd/podfwd/node"
)

// runCommand parses `podfwd run` flags, loads and validates the config (a
// bad config fails here, before anything on the host is touched) and runs
// the daemon until SIGINT or SIGTERM.
func runCommand(args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "daemon config file (YAML)")
	ioFlag := fs.String("io", "", "override the config's io: tun | udp-process")
	encapFlag := fs.String("encap", "", "override the config's encap: vxlan | geneve | ipip | none")
	debug := fs.Bool("debug", false, "log at debug level")
	cpuProfile := fs.String("cpuprofile", "", "write a Go CPU profile of the daemon to this file until it exits")
	kubeconfig := fs.String("kubeconfig", "", "take peers and pod CIDRs from the Kubernetes API with this kubeconfig (sets kubernetes.enabled)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if *cfgPath == "" {
		return fmt.Errorf("%w: --config FILE is required", errUsage)
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	file, err := config.LoadFile(*cfgPath)
	if err != nil {
		return err
	}
	if *ioFlag != "" {
		file.IO = config.IO(*ioFlag)
	}
	if *encapFlag != "" {
		file.Encap = config.Encap(*encapFlag)
	}
	if *kubeconfig != "" {
		file.Kubernetes.Enabled, file.Kubernetes.Kubeconfig = true, *kubeconfig
	}
	// With Kubernetes, cfg is only the template: pod CIDRs and peers
	// come from the API.
	var cfg *dataplane.Config
	switch {
	case file.NeedsNodeUnderlay():
		// runKube reads the underlay address from our Node, then validates.
	case file.Kubernetes.Enabled:
		cfg, err = file.KubeBaseConfig(hostnet.LookupInterface)
	default:
		cfg, err = file.DataplaneConfig(hostnet.LookupInterface)
	}
	if err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return node.Run(ctx, node.Options{Log: log, File: file, Config: cfg})
}
