package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/podfwd/podfwd/bench"
	"github.com/podfwd/podfwd/internal/topo"
)

// podfwdBin is the daemon binary the end-to-end tests run, built once by
// TestMain from this package's source.
var podfwdBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "podfwd-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	podfwdBin = filepath.Join(dir, "podfwd")
	build := exec.Command("go", "build", "-o", podfwdBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building podfwd for the e2e tests:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// daemon is a podfwd process running in a node namespace.
type daemon struct {
	node   *topo.Node
	cmd    *exec.Cmd
	log    *bench.LogBuffer
	done   chan struct{}
	err    error
	config string
}

// startDaemon runs `podfwd run` with cfg in node's namespace and waits until
// it reports "podfwd up". It is stopped with SIGTERM at cleanup.
func startDaemon(t *testing.T, node *topo.Node, cfg string, args ...string) *daemon {
	t.Helper()
	path := filepath.Join(t.TempDir(), node.Namespace+".yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	d := &daemon{node: node, log: &bench.LogBuffer{}, done: make(chan struct{}), config: cfg}
	d.cmd = node.Command(context.Background(), podfwdBin, append([]string{"run", "--config", path}, args...)...)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.err = d.cmd.Wait(); close(d.done) }()
	t.Cleanup(func() { d.stop(t) })
	deadline := time.After(15 * time.Second)
	for !strings.Contains(d.log.String(), "podfwd up") {
		select {
		case <-d.done:
			t.Fatalf("podfwd on %s exited before coming up (%v):\n%s", node.Namespace, d.err, d.log)
		case <-deadline:
			t.Fatalf("podfwd on %s not up after 15s:\n%s", node.Namespace, d.log)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return d
}

// stop sends SIGTERM and waits for a clean exit; it returns the log.
func (d *daemon) stop(t *testing.T) string {
	t.Helper()
	select {
	case <-d.done:
		return d.log.String()
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
		if d.err != nil {
			t.Errorf("podfwd on %s exited with %v after SIGTERM:\n%s", d.node.Namespace, d.err, d.log)
		}
	case <-time.After(10 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
		t.Errorf("podfwd on %s ignored SIGTERM for 10s:\n%s", d.node.Namespace, d.log)
	}
	return d.log.String()
}

// nodeConfig is the shared config writer of the bench package.
var nodeConfig = bench.NodeConfig

// transfer sends size bytes of pseudo-random data over TCP from pod `from`
// to a listener at dst inside pod `to`, and fails t unless the SHA-256 of
// what arrived equals that of what was sent.
func transfer(t *testing.T, from, to *topo.Pod, dst netip.Addr, size int64) {
	t.Helper()
	var ln net.Listener
	if err := to.Do(func() (err error) {
		ln, err = net.Listen("tcp", netip.AddrPortFrom(dst, 5001).String())
		return err
	}); err != nil {
		t.Fatalf("listen in %s: %v", to.Namespace, err)
	}
	defer ln.Close()
	type result struct {
		sum [32]byte
		n   int64
		err error
	}
	got := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- result{err: err}
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		h := sha256.New()
		n, err := io.Copy(h, c)
		var r result
		copy(r.sum[:], h.Sum(nil))
		r.n, r.err = n, err
		got <- r
	}()
	var conn net.Conn
	if err := from.Do(func() (err error) {
		conn, err = net.DialTimeout("tcp", netip.AddrPortFrom(dst, 5001).String(), 5*time.Second)
		return err
	}); err != nil {
		t.Fatalf("connect from %s to %s: %v", from.Namespace, dst, err)
	}
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	h := sha256.New()
	src := io.LimitReader(rand.NewChaCha8([32]byte{1, 2, 3}), size)
	start := time.Now()
	sent, err := io.Copy(io.MultiWriter(conn, h), src)
	conn.Close()
	if err != nil {
		t.Fatalf("sending: %v after %d bytes", err, sent)
	}
	r := <-got
	if r.err != nil {
		t.Fatalf("receiving: %v after %d bytes", r.err, r.n)
	}
	var want [32]byte
	copy(want[:], h.Sum(nil))
	if r.n != size || r.sum != want {
		t.Fatalf("received %d bytes with SHA-256 %x; sent %d with %x", r.n, r.sum, size, want)
	}
	t.Logf("%d MiB %s -> %s intact in %v (%.2f Gbit/s)", size>>20, from.IPv4, dst,
		time.Since(start).Round(time.Millisecond), float64(size*8)/time.Since(start).Seconds()/1e9)
}

// pingBothWays pings between the first pods of the first two nodes, both
// directions, over IPv4 and (when the topology has it) IPv6.
func pingBothWays(t *testing.T, tp *topo.Topology) {
	t.Helper()
	ctx := context.Background()
	a, b := tp.Nodes[0].Pods[0], tp.Nodes[1].Pods[0]
	for _, pair := range [][2]*topo.Pod{{a, b}, {b, a}} {
		if err := topo.Ping(ctx, pair[0], pair[1].IPv4, 3, 56, false); err != nil {
			t.Errorf("IPv4 ping %s -> %s: %v", pair[0].IPv4, pair[1].IPv4, err)
		}
		if pair[1].IPv6.IsValid() {
			if err := topo.Ping(ctx, pair[0], pair[1].IPv6, 3, 56, false); err != nil {
				t.Errorf("IPv6 ping %s -> %s: %v", pair[0].IPv6, pair[1].IPv6, err)
			}
		}
	}
}

// logCounter reads name=N from a daemon log's counters line.
func logCounter(log, name string) (uint64, bool) {
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, "msg=counters") {
			continue
		}
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, name+"="); ok {
				n, err := strconv.ParseUint(v, 10, 64)
				return n, err == nil
			}
		}
	}
	return 0, false
}

// checkGSOPath checks from both nodes' counters that the super-packets of
// a transfer took the path the case says: sent whole and delivered whole
// with UDP-tunnel GSO, or split by podfwd (and then rebuilt by GRO).
func checkGSOPath(t *testing.T, c e2eCase, logs ...string) {
	t.Helper()
	if c.io != "tun" || c.encap == "none" {
		return
	}
	var sentWhole, deliveredWhole, split uint64
	for _, log := range logs {
		a, _ := logCounter(log, "gsoSentWhole")
		b, _ := logCounter(log, "gsoDeliveredWhole")
		s, ok := logCounter(log, "gsoSplit")
		if !ok {
			t.Errorf("no counters line in the log:\n%s", log)
		}
		sentWhole, deliveredWhole, split = sentWhole+a, deliveredWhole+b, split+s
	}
	if c.wholeGSO() {
		if sentWhole == 0 || deliveredWhole == 0 {
			t.Errorf("super-packets sent whole %d, delivered whole %d; want both > 0", sentWhole, deliveredWhole)
		}
		return
	}
	if sentWhole != 0 || split == 0 {
		t.Errorf("super-packets sent whole %d, split %d; want none whole, some split", sentWhole, split)
	}
}
