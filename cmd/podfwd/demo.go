package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/podfwd/podfwd/bench"
	"github.com/podfwd/podfwd/internal/topo"
	"golang.org/x/sys/unix"
)

// demoCommand shows podfwd working on this machine: the harness of
// `podfwd bench --quick` over the modes podfwd runs today (the kernel's
// datapaths, the udp-process baseline, tun io in each encap, native
// routing, and AF_XDP on the underlay alone and on the pods' veths too),
// one short run of TCP, 64-byte UDP and request/response each, printed as
// tables with ratios to the kernel VXLAN device.
func demoCommand(args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	dur := fs.Duration("duration", time.Second, "traffic time per test and mode")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if os.Geteuid() != 0 {
		return errors.New("demo creates network namespaces and must run as root")
	}
	if removed, err := topo.Sweep("pf"); err == nil && len(removed) > 0 {
		fmt.Printf("removed %d namespaces left by earlier runs\n", len(removed))
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	fmt.Println("podfwd demo: 2 nodes x 2 pods in network namespaces, pod 1.1 -> pod 2.1 across nodes, one short run per test")
	fmt.Println("(podfwd bench measures properly: 3 runs, more tests, CPU cost, JSON and charts)")
	xdpModes, err := bench.SelectModes("xdp/vxlan,xdp-pods/vxlan")
	if err != nil {
		return err
	}
	_, terr := unix.IoctlGetTermios(int(os.Stderr.Fd()), unix.TCGETS)
	rep, err := bench.Run(ctx, bench.Config{
		Modes:       append(bench.DefaultModes(), xdpModes...),
		Tests:       []string{bench.TestTCP1, bench.TestUDP64, bench.TestRR},
		Runs:        1,
		Duration:    *dur,
		Progress:    os.Stderr,
		Live:        terr == nil,
		CommandLine: os.Args,
		OnUp:        func(ctx context.Context, m bench.Mode, tp *topo.Topology) { demoPing(ctx, m, tp, terr == nil) },
	})
	if rep == nil {
		return err
	}
	if werr := bench.WriteTable(os.Stdout, rep); werr != nil {
		return werr
	}
	if err != nil {
		return err
	}
	for _, r := range rep.Rows {
		if r.Status != bench.StatusOK {
			return fmt.Errorf("mode %s did not work: %s", r.Mode, strings.TrimPrefix(r.Status, bench.StatusFailed))
		}
	}
	return nil
}

// demoPing pings pod 1.1 -> pod 2.1 and back once a mode is up and prints
// the outcome, so the demo shows pods reaching each other before it
// measures them.
func demoPing(ctx context.Context, m bench.Mode, tp *topo.Topology, live bool) {
	clear := "" // on a terminal, wipe the live progress line first
	if live {
		clear = "\r\033[K"
	}
	a, b := tp.Nodes[0].Pods[0], tp.Nodes[1].Pods[0]
	for _, pair := range [][2]*topo.Pod{{a, b}, {b, a}} {
		res := "ok"
		if err := topo.Ping(ctx, pair[0], pair[1].IPv4, 2, 56, false); err != nil {
			res = "FAILED: " + strings.SplitN(err.Error(), "\n", 2)[0]
		}
		fmt.Fprintf(os.Stderr, "%s  %-18s ping %s -> %s: %s\n", clear, m.Name, pair[0].IPv4, pair[1].IPv4, res)
	}
}
