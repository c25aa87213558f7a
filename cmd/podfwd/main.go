// Command podfwd is the per-node pod network daemon and its tools:
//
//	podfwd run --config FILE   the daemon
//	podfwd demo                every mode side by side in network namespaces
//	podfwd bench               the benchmark harness (tables, JSON, charts)
//	podfwd trace [FILTER]      packet trace of the running daemon
//	podfwd version             build information
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
)

func usage() {
	fmt.Fprintf(os.Stderr, `usage: podfwd <command> [flags]

commands:
  run      run the per-node forwarding daemon (podfwd run --config FILE)
  demo     bring up 2 nodes x 2 pods in network namespaces and compare modes
  bench    every mode vs the kernel: TCP, 64-byte UDP, latency, CPU (--json, --report)
  trace    trace packets through a running daemon, or simulate one (podfwd trace -h)
  install-cni  write the node's CNI conflist (DaemonSet init container)
  version  print build information
`)
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = runCommand(os.Args[2:])
	case "demo":
		err = demoCommand(os.Args[2:])
	case "trace":
		err = traceCommand(os.Args[2:])
	case "bench":
		err = benchCommand(os.Args[2:])
	case "install-cni":
		err = installCNICommand(os.Args[2:])
	case "version":
		fmt.Println(versionString())
	case "-h", "--help", "help":
		usage()
	default:
		fmt.Fprintf(os.Stderr, "podfwd: unknown command %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "podfwd %s: %v\n", os.Args[1], err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

func versionString() string {
	v := "podfwd (devel)"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				v += " " + s.Value
			}
		}
		v += " " + bi.GoVersion
	}
	return v
}
