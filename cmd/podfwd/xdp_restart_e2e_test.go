package main

import (
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/podfwd/podfwd/internal/testenv"
	"github.com/podfwd/podfwd/internal/topo"
)

// A DaemonSet's rolling update starts the new podfwd right after the old
// one got SIGTERM (or was killed): the kernel releases the old AF_XDP
// queue binding only shortly after the process is gone. Ten restarts each
// way, with a UDP echo running across the nodes the whole time: every new
// daemon must start (waiting for the queue if it must) and forward again
// within 1 s of being started.
func TestXDPRapidRestarts(t *testing.T) {
	testenv.RequireRoot(t)
	tp := topo.NewT(t, topo.Config{Prefix: testenv.RunPrefix() + "q"})
	n1, n2 := tp.Nodes[0], tp.Nodes[1]
	cfg1 := nodeConfig(tp, n1, "xdp", "vxlan", 0)
	startDaemon(t, n2, nodeConfig(tp, n2, "xdp", "vxlan", 0))
	d := startDaemon(t, n1, cfg1)
	echo := newUDPEcho(t, n1.Pods[0], n2.Pods[0])
	if !echo.answers(5 * time.Second) {
		t.Fatal("no echo across the nodes before any restart")
	}
	for i := 0; i < 20; i++ {
		sig := syscall.SIGTERM
		if i%2 == 1 {
			sig = syscall.SIGKILL
		}
		if err := d.cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		<-d.done
		started := time.Now()
		d = startDaemon(t, n1, cfg1)
		if !echo.answers(time.Second - time.Since(started)) {
			t.Fatalf("restart %d after %v: no echo within 1 s of the new daemon's start; its log:\n%s", i+1, sig, d.log.String())
		}
		t.Logf("restart %d after %v: forwarding again %v after the new daemon started", i+1, sig, time.Since(started).Round(time.Millisecond))
	}
}

// udpEcho sends datagrams from pod a to an echo server in pod b.
type udpEcho struct {
	client *net.UDPConn
	server netip.AddrPort
}

func newUDPEcho(t *testing.T, a, b *topo.Pod) *udpEcho {
	t.Helper()
	var srv, cli *net.UDPConn
	if err := b.Do(func() (err error) {
		srv, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(b.IPv4, 7007)))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	go func() {
		buf := make([]byte, 64)
		for {
			n, from, err := srv.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			_, _ = srv.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
	if err := a.Do(func() (err error) {
		cli, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(a.IPv4, 0)))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return &udpEcho{client: cli, server: netip.AddrPortFrom(b.IPv4, 7007)}
}

// answers probes every 10 ms until an echo comes back or within passes.
func (e *udpEcho) answers(within time.Duration) bool {
	deadline := time.Now().Add(within)
	buf := make([]byte, 64)
	for time.Now().Before(deadline) {
		if _, err := e.client.WriteToUDPAddrPort([]byte("probe"), e.server); err != nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		_ = e.client.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		if _, _, err := e.client.ReadFromUDPAddrPort(buf); err == nil {
			return true
		}
	}
	return false
}
