package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/podfwd/podfwd/admin"
	"github.com/podfwd/podfwd/config"
	"github.com/podfwd/podfwd/trace"
)

const traceUsage = `usage: podfwd trace [flags] [FILTER]
       podfwd trace [flags] --simulate 'src ADDR dst ADDR [tcp|udp|icmp] [sport N] [dport N] [ttl N] [size N]'

Attaches to the running daemon's admin socket and prints every stage of each
packet the filter matches: time, direction, port, parse, route (prefix ->
next hop), encap/decap (type, VNI, outer addresses), GSO/GRO, and the verdict
or drop reason. FILTER is tcpdump-like: host, net, src, dst, port, sport,
dport, tcp, udp, icmp, icmp6, ip, ip6, vni N, and/or/not, parentheses; it is
matched against the inner and the outer headers.

--simulate builds the described packet and asks the daemon what it would do
with it under the live config, without sending anything.

flags:
`

// traceCommand is `podfwd trace`.
func traceCommand(args []string) error {
	fs := flag.NewFlagSet("trace", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), traceUsage); fs.PrintDefaults() }
	socket := fs.String("socket", "", "admin socket of the daemon (default: the config's admin.socket, else "+config.DefaultAdminSocket+")")
	cfgPath := fs.String("config", "", "daemon config file to take the admin socket path from")
	asJSON := fs.Bool("json", false, "print one JSON object per packet")
	pcapPath := fs.String("pcap", "", "also write the packets to this pcapng file, decisions in each packet's comment")
	count := fs.Int("count", 0, "stop after this many packets (0: no limit)")
	duration := fs.Duration("duration", 0, "stop after this long (0: no limit)")
	snapLen := fs.Int("snaplen", 0, "bytes kept of each packet for --pcap (default 2048)")
	simulate := fs.String("simulate", "", "what-if: describe a packet and print the path the live config gives it")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	path, err := adminSocket(*socket, *cfgPath)
	if err != nil {
		return err
	}
	client := admin.NewClient(path)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()

	if *simulate != "" {
		rec, err := client.Simulate(ctx, *simulate)
		if err != nil {
			return err
		}
		return printRecord(out, rec, *asJSON)
	}
	filter := strings.Join(fs.Args(), " ")
	if _, err := trace.ParseFilter(filter); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	var pcap *trace.PcapWriter
	if *pcapPath != "" {
		f, err := os.Create(*pcapPath)
		if err != nil {
			return err
		}
		defer f.Close()
		bw := bufio.NewWriter(f)
		defer bw.Flush()
		if pcap, err = trace.NewPcapWriter(bw, trace.LinkTypeRaw, 65535); err != nil {
			return err
		}
	}
	n := 0
	err = client.Trace(ctx, admin.TraceOptions{Filter: filter, WithWire: pcap != nil, SnapLen: *snapLen},
		func() { fmt.Fprintf(os.Stderr, "podfwd trace: attached to %s, filter %q\n", path, filter) },
		func(rec *trace.Record) error {
			if pcap != nil {
				if err := rec.WritePcap(pcap); err != nil {
					return err
				}
			}
			if err := printRecord(out, rec, *asJSON); err != nil {
				return err
			}
			if err := out.Flush(); err != nil {
				return err
			}
			n++
			if *count > 0 && n >= *count {
				return io.EOF
			}
			return nil
		})
	fmt.Fprintf(os.Stderr, "podfwd trace: %d packets\n", n)
	return err
}

func printRecord(w io.Writer, rec *trace.Record, asJSON bool) error {
	if asJSON {
		rec.Wire = nil
		return json.NewEncoder(w).Encode(rec)
	}
	return rec.WriteText(w)
}

// adminSocket picks the socket: the flag, else the config's, else the
// default.
func adminSocket(flagPath, cfgPath string) (string, error) {
	if flagPath != "" {
		return flagPath, nil
	}
	if cfgPath != "" {
		f, err := config.LoadFile(cfgPath)
		if err != nil {
			return "", err
		}
		if f.Admin.Socket == config.AdminOff {
			return "", fmt.Errorf("%w: %s switches the admin socket off", errUsage, cfgPath)
		}
		return f.Admin.Socket, nil
	}
	return config.DefaultAdminSocket, nil
}
