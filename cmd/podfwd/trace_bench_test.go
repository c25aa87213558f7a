package main

import (
	"context"
	"fmt"
	"github.com/podfwd/podfwd/bench"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/podfwd/podfwd/internal/testenv"
	"github.com/podfwd/podfwd/internal/topo"
)

// BenchmarkTraceOverheadTCP measures pod-to-pod TCP throughput through two
// daemons with no trace attached and with `podfwd trace` attached whose
// filter matches nothing, in tun io (TSO: one Match per super-packet) and
// udp-process io (one Match per packet). Root only.
//
//	go test -run '^$' -bench TraceOverhead -benchtime 8x ./cmd/podfwd
func BenchmarkTraceOverheadTCP(b *testing.B) {
	testenv.RequireRoot(b)
	for _, io := range []string{"tun", "udp-process"} {
		b.Run(io, func(b *testing.B) {
			tp := topo.NewT(b, topo.Config{Prefix: testenv.RunPrefix() + "b"})
			dir := b.TempDir()
			sock := ""
			for _, n := range tp.Nodes {
				s := filepath.Join(dir, n.Namespace+".sock")
				if sock == "" {
					sock = s
				}
				benchDaemon(b, n, nodeConfig(tp, n, io, "vxlan", 8472)+fmt.Sprintf("admin:\n  socket: %s\n", s))
			}
			from, to := tp.Nodes[0].Pods[0], tp.Nodes[1].Pods[0]
			const size = 32 << 20
			b.Run("no-tracer", func(b *testing.B) { benchTCP(b, from, to, size) })
			b.Run("tracer-matching-nothing", func(b *testing.B) {
				ctx, cancel := context.WithCancel(context.Background())
				tr := exec.CommandContext(ctx, podfwdBin, "trace", "--socket", sock, "host 192.0.2.99")
				stderr := &bench.LogBuffer{}
				tr.Stderr = stderr
				if err := tr.Start(); err != nil {
					b.Fatal(err)
				}
				defer func() { cancel(); _ = tr.Wait() }()
				for !strings.Contains(stderr.String(), "attached") {
					time.Sleep(10 * time.Millisecond)
				}
				benchTCP(b, from, to, size)
			})
		})
	}
}

// benchTCP sends size bytes from pod `from` to pod `to` b.N times.
func benchTCP(b *testing.B, from, to *topo.Pod, size int64) {
	var ln net.Listener
	addr := netip.AddrPortFrom(to.IPv4, 5002).String()
	if err := to.Do(func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	buf := make([]byte, 256<<10)
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var c net.Conn
		if err := from.Do(func() (err error) { c, err = net.DialTimeout("tcp", addr, 5*time.Second); return err }); err != nil {
			b.Fatal(err)
		}
		for sent := int64(0); sent < size; sent += int64(len(buf)) {
			if _, err := c.Write(buf); err != nil {
				b.Fatal(err)
			}
		}
		c.Close()
	}
	b.ReportMetric(float64(size*int64(b.N)*8)/b.Elapsed().Seconds()/1e9, "Gbit/s")
}

// benchDaemon runs `podfwd run` in node's namespace until the benchmark
// ends; it waits for "podfwd up".
func benchDaemon(b *testing.B, node *topo.Node, cfg string) {
	path := filepath.Join(b.TempDir(), node.Namespace+".yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	log := &bench.LogBuffer{}
	cmd := node.Command(context.Background(), podfwdBin, "run", "--config", path)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() })
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(log.String(), "podfwd up") {
		if time.Now().After(deadline) {
			b.Fatalf("podfwd not up:\n%s", log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
