package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/podfwd/podfwd/bench"
	"github.com/podfwd/podfwd/internal/topo"
)

// demoCommand shows podfwd working on this machine: for each mode it
// builds two nodes with two pods each in network namespaces, pings pod to
// pod across nodes, measures one TCP stream, and tears everything down.
func demoCommand(args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	dur := fs.Duration("duration", 3*time.Second, "iperf3 time per mode")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("demo creates network namespaces and must run as root")
	}
	if removed, err := topo.Sweep("pf"); err == nil && len(removed) > 0 {
		fmt.Printf("removed %d namespaces left by earlier runs\n", len(removed))
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	fmt.Println("podfwd demo: 2 nodes x 2 pods in network namespaces, pod 1.1 -> pod 2.1 across nodes")
	var results []bench.Result
	for _, m := range bench.DefaultModes() {
		if ctx.Err() != nil {
			break
		}
		fmt.Printf("  %-20s ... ", m.Name)
		r := bench.RunMode(ctx, m, bench.Options{Duration: *dur})
		results = append(results, r)
		switch {
		case r.Err != nil:
			fmt.Printf("FAILED: %v\n", r.Err)
		default:
			fmt.Printf("ping %s, TCP %.2f Gbit/s\n", okWord(r.PingOK), r.Gbps)
		}
	}
	fmt.Println()
	printTable(results)
	for _, r := range results {
		if r.Err != nil || !r.PingOK {
			return fmt.Errorf("mode %s did not work", r.Mode.Name)
		}
	}
	return nil
}

func okWord(ok bool) string {
	if ok {
		return "ok"
	}
	return "FAILED"
}

// printTable prints each mode's TCP rate with its ratio to the kernel VXLAN
// device and to the udp-process baseline measured in the same run.
func printTable(results []bench.Result) {
	var kernel, baseline float64
	for _, r := range results {
		switch r.Mode.Name {
		case bench.KernelVXLANName:
			kernel = r.Gbps
		case "udp-process/vxlan":
			baseline = r.Gbps
		}
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "mode\tping\tTCP Gbit/s\tretransmits\tvs kernel vxlan\tvs udp-process\t")
	for _, r := range results {
		if r.Err != nil {
			fmt.Fprintf(w, "%s\t%s\terror\t\t\t\t\n", r.Mode.Name, okWord(r.PingOK))
			continue
		}
		fmt.Fprintf(w, "%s\t%s\t%.2f\t%d\t%s\t%s\t\n", r.Mode.Name, okWord(r.PingOK), r.Gbps, r.Retransmits, ratio(r.Gbps, kernel), ratio(r.Gbps, baseline))
	}
	w.Flush()
}

func ratio(v, ref float64) string {
	if ref <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", v/ref)
}
