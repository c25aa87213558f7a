package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/podfwd/podfwd/bench"
	"github.com/podfwd/podfwd/internal/topo"
	"golang.org/x/sys/unix"
)

// errRowsFailed is returned when a mode that should have run did not: the
// report is still written, but the exit status says something broke.
var errRowsFailed = errors.New("some rows failed")

// benchCommand runs the harness: every selected mode side by side with
// the kernel on netns topologies, printed as tables, optionally written as
// JSON and as a Markdown report with SVG charts.
func benchCommand(args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	modes := fs.String("modes", "all", "comma-separated modes: "+modeList())
	tests := fs.String("tests", strings.Join(bench.AllTests, ","), "comma-separated tests: tcp1,tcp4,udp64,rr")
	runs := fs.Int("runs", 3, "repetitions of each test (the median is reported, with min and max)")
	dur := fs.Duration("duration", 5*time.Second, "traffic time of each run")
	mtus := fs.String("mtu", "1500", "underlay MTU, or a comma-separated list (1500,9000) for a pass at each")
	jsonPath := fs.String("json", "", "write {\"env\":…,\"rows\":[…]} to this file")
	reportDir := fs.String("report", "", "write report.md and SVG charts into this directory")
	interleave := fs.Bool("interleave", false, "bring every mode up once per run, run 1 of every mode before run 2 of any, so a change in the machine's load hits every mode alike (costs a bring-up per run)")
	quick := fs.Bool("quick", false, "one run per test of 1s (a look, not a measurement)")
	podfwd := fs.String("podfwd", "", "podfwd binary to run in the nodes (default: this one)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	cfg := bench.Config{Podfwd: *podfwd, Runs: *runs, Duration: *dur, Interleave: *interleave, CommandLine: os.Args}
	if *quick {
		cfg.Runs, cfg.Duration = 1, time.Second
	}
	var err error
	if cfg.Modes, err = bench.SelectModes(*modes); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	for _, t := range strings.Split(*tests, ",") {
		if t = strings.TrimSpace(t); t != "" {
			cfg.Tests = append(cfg.Tests, t)
		}
	}
	for _, m := range strings.Split(*mtus, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(m))
		if err != nil {
			return fmt.Errorf("%w: --mtu %q: %w", errUsage, m, err)
		}
		cfg.MTUs = append(cfg.MTUs, v)
	}
	if os.Geteuid() != 0 {
		return errors.New("bench creates network namespaces and must run as root")
	}
	if removed, err := topo.Sweep("pf"); err == nil && len(removed) > 0 {
		fmt.Fprintf(os.Stderr, "removed %d namespaces left by earlier runs\n", len(removed))
	}
	cfg.Progress = os.Stderr
	_, terr := unix.IoctlGetTermios(int(os.Stderr.Fd()), unix.TCGETS)
	cfg.Live = terr == nil

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	rep, runErr := bench.Run(ctx, cfg)
	if rep == nil {
		return fmt.Errorf("%w: %w", errUsage, runErr)
	}
	if err := bench.WriteTable(os.Stdout, rep); err != nil {
		return err
	}
	if *jsonPath != "" {
		if err := bench.WriteJSON(*jsonPath, rep); err != nil {
			return err
		}
		fmt.Printf("\nwrote %s\n", *jsonPath)
	}
	if *reportDir != "" {
		files, err := bench.WriteReport(*reportDir, rep)
		if err != nil {
			return err
		}
		fmt.Printf("wrote %s\n", strings.Join(files, ", "))
	}
	if runErr != nil {
		return runErr
	}
	for _, r := range rep.Rows {
		if strings.HasPrefix(r.Status, bench.StatusFailed) {
			return fmt.Errorf("%w: %s %s: %s", errRowsFailed, r.Mode, r.Test, r.Status)
		}
	}
	return nil
}

func modeList() string {
	var names []string
	for _, m := range bench.AllModes() {
		names = append(names, m.Name)
	}
	var variants []string
	for _, m := range bench.TunVariants() {
		variants = append(variants, m.Name)
	}
	return strings.Join(names, ",") + " (\"all\"); also " + strings.Join(variants, ",")
}
