package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"github.com/podfwd/podfwd/bench"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/podfwd/podfwd/config"
	"github.com/podfwd/podfwd/encap"
	"github.com/podfwd/podfwd/internal/testenv"
	"github.com/podfwd/podfwd/internal/topo"
	"golang.org/x/sys/unix"
)

type e2eCase struct {
	io, encap string
	port      int
	split     bool // offloads.tunnelGSO: false — the fallback path
}

func (c e2eCase) name() string {
	if c.split {
		return c.io + "-" + c.encap + "-split"
	}
	return c.io + "-" + c.encap
}

// config is the node's config file for this case.
func (c e2eCase) config(tp *topo.Topology, n *topo.Node) string {
	cfg := nodeConfig(tp, n, c.io, c.encap, c.port)
	if c.split {
		cfg += "offloads: {tunnelGSO: false}\n"
	}
	return cfg
}

// wholeGSO says whether this case's super-packets leave whole (UDP-tunnel
// GSO) rather than split by podfwd.
func (c e2eCase) wholeGSO() bool {
	return c.io == "tun" && (c.encap == "vxlan" || c.encap == "geneve") && !c.split
}

// The matrix of the dataplane issue: every io path with every encap it
// carries, on 2 nodes x 2 pods, IPv4 and IPv6 pods over an IPv4 underlay.
var e2eMatrix = []e2eCase{
	{"tun", "vxlan", 8472, false},
	{"tun", "vxlan", 8472, true},
	{"tun", "geneve", 6081, false},
	{"tun", "geneve", 6081, true},
	{"tun", "ipip", 0, false},
	{"udp-process", "vxlan", 8472, false},
	{"udp-process", "geneve", 6081, false},
	{"tun", "none", 0, false},
}

func TestEndToEnd(t *testing.T) {
	testenv.RequireRoot(t)
	for _, c := range e2eMatrix {
		t.Run(c.name(), func(t *testing.T) {
			// Pods get the underlay's MTU so that a too-big packet reaches
			// the node and must be answered there, not refused in the pod.
			tp := topo.NewT(t, topo.Config{Prefix: testenv.RunPrefix() + "e", IPv6: true, PodMTU: 1500})
			var ds []*daemon
			for _, n := range tp.Nodes {
				ds = append(ds, startDaemon(t, n, c.config(tp, n)))
			}
			a, b := tp.Nodes[0].Pods[0], tp.Nodes[1].Pods[1]
			defer func() {
				if t.Failed() { // what the daemons counted, and the sender's path MTU
					for _, d := range ds {
						t.Logf("podfwd on %s: %s", d.node.Namespace, linesWith(d.stop(t), "counters", "WARN", "ERROR"))
					}
					out, _ := b.Command(context.Background(), "ip", "-6", "route", "get", a.IPv6.String()).CombinedOutput()
					t.Logf("pod %s: ip -6 route get %s: %s", b.Namespace, a.IPv6, out)
				}
			}()
			pingBothWays(t, tp)
			transfer(t, a, b, b.IPv4, 64<<20)
			transfer(t, b, a, a.IPv6, 8<<20)
			if c.encap == "none" {
				probesAnswer(t, tp.Nodes[0])
				return
			}
			checkTooBig(t, tp, c)
			injectStrangers(t, tp, c)
			for _, n := range tp.Nodes {
				checkConservation(t, n)
			}
			log := ds[0].stop(t)
			for _, want := range []string{"drop.unknown-peer=1", "drop.spoofed-source=1"} {
				if !strings.Contains(log, want) {
					t.Errorf("node 1's counters lack %s; log:\n%s", want, log)
				}
			}
			checkGSOPath(t, c, log, ds[1].stop(t))
		})
	}
}

// checkTooBig sends a DF ping larger than the tunnel MTU and expects the
// "fragmentation needed" answer with the tunnel's MTU.
func checkTooBig(t *testing.T, tp *topo.Topology, c e2eCase) {
	t.Helper()
	kind, _, _ := config.Encap(c.encap).Kind()
	mtu := 1500 - encap.Overhead(kind, false, 0)
	from, to := tp.Nodes[0].Pods[0], tp.Nodes[1].Pods[0]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := from.Command(ctx, "ping", "-c", "2", "-W", "1", "-M", "do", "-s", "1472", to.IPv4.String()).CombinedOutput()
	if err == nil {
		t.Fatalf("a 1500-byte DF ping crossed a tunnel with MTU %d:\n%s", mtu, out)
	}
	if !strings.Contains(string(out), fmt.Sprintf("mtu = %d", mtu)) && !strings.Contains(string(out), fmt.Sprintf("mtu=%d", mtu)) {
		t.Errorf("DF ping: want fragmentation needed with mtu %d, got:\n%s", mtu, out)
	}
}

// injectStrangers sends node 1 two forged tunnel packets from node 2's
// namespace: one from an underlay address that is no peer, one from the
// real peer carrying an inner source of a third node's pod CIDR. Both must
// be dropped and counted, and neither delivered.
func injectStrangers(t *testing.T, tp *topo.Topology, c e2eCase) {
	t.Helper()
	n1, n2 := tp.Nodes[0], tp.Nodes[1]
	stranger := netip.MustParseAddr("10.99.0.200")
	if out, err := n2.Command(context.Background(), "ip", "addr", "add", stranger.String()+"/24", "dev", n2.UnderlayLink).CombinedOutput(); err != nil {
		t.Fatalf("adding a stranger address: %v: %s", err, out)
	}
	dstPod := n1.Pods[0].IPv4
	send := func(src netip.Addr, innerSrc netip.Addr) {
		inner := ipv4UDP(innerSrc, dstPod, []byte("forged"))
		err := n2.Do(func() error {
			if c.encap == "ipip" {
				return sendRawIPIP(src, n1.UnderlayIPv4, inner)
			}
			kind, _, _ := config.Encap(c.encap).Kind()
			params := encap.Params{Kind: kind, VNI: 1, InnerSrcMAC: [6]byte(n2.VTEPMAC), InnerDstMAC: [6]byte(n1.VTEPMAC)}
			buf := make([]byte, 128+len(inner))
			copy(buf[128:], inner)
			start, r := encap.PrependTunnel(buf, 128, len(buf), &params)
			if r != encap.DropNone {
				return fmt.Errorf("building forged packet: %v", r)
			}
			conn, err := net.DialUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0)),
				net.UDPAddrFromAddrPort(netip.AddrPortFrom(n1.UnderlayIPv4, uint16(c.port))))
			if err != nil {
				return err
			}
			defer conn.Close()
			_, err = conn.Write(buf[start:])
			return err
		})
		if err != nil {
			t.Fatalf("sending forged packet: %v", err)
		}
	}
	send(stranger, n2.Pods[0].IPv4)                           // unknown peer
	send(n2.UnderlayIPv4, netip.MustParseAddr("10.244.77.5")) // spoofed inner source
	// Node 1 must have counted both before the caller stops it and reads
	// the counters from its exit log.
	testenv.WaitFor(t, 10*time.Second, "node 1 counting both forged packets as ingress drops", func() error {
		body, _ := httpGetIn(t, n1, "/metrics")
		for _, reason := range []string{"unknown-peer", "spoofed-source"} {
			if want := fmt.Sprintf("podfwd_drops_total{path=\"ingress\",reason=%q} 1\n", reason); !strings.Contains(body, want) {
				return fmt.Errorf("/metrics lacks %q", strings.TrimSpace(want))
			}
		}
		return nil
	})
}

func sendRawIPIP(src, dst netip.Addr, inner []byte) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_IPIP)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: src.As4()}); err != nil {
		return err
	}
	return unix.Sendto(fd, inner, 0, &unix.SockaddrInet4{Addr: dst.As4()})
}

// ipv4UDP builds a minimal IPv4/UDP packet with a valid header checksum.
func ipv4UDP(src, dst netip.Addr, payload []byte) []byte {
	b := make([]byte, 28+len(payload))
	b[0], b[8], b[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	s4, d4 := src.As4(), dst.As4()
	copy(b[12:], s4[:])
	copy(b[16:], d4[:])
	binary.BigEndian.PutUint16(b[10:], encap.Checksum(b[:20], 0))
	binary.BigEndian.PutUint16(b[20:], 40000)
	binary.BigEndian.PutUint16(b[22:], 9)
	binary.BigEndian.PutUint16(b[24:], uint16(8+len(payload)))
	copy(b[28:], payload)
	return b
}

// TestKernelVXLANInterop runs podfwd (vxlan on flannel's port, in tun io
// and in xdp io) on node 1 against node 2 using the kernel's own VXLAN
// device, programmed as flannel's vxlan backend does. Traffic must flow
// both ways.
func TestKernelVXLANInterop(t *testing.T) {
	testenv.RequireRoot(t)
	for _, c := range []struct{ io, prefix string }{{"tun", "k"}, {"xdp", "y"}} {
		t.Run(c.io, func(t *testing.T) {
			tp := topo.NewT(t, topo.Config{Prefix: testenv.RunPrefix() + c.prefix, Mode: topo.KernelVXLAN})
			n1 := tp.Nodes[0]
			// Node 1 hands its side to podfwd: drop its kernel VXLAN
			// device (and with it the routes through it).
			if out, err := n1.Command(context.Background(), "ip", "link", "del", topo.VXLANDevice).CombinedOutput(); err != nil {
				t.Fatalf("removing node 1's kernel VXLAN device: %v: %s", err, out)
			}
			d := startDaemon(t, n1, nodeConfig(tp, n1, c.io, "vxlan", topo.DefaultVXLANPort))
			defer func() {
				if t.Failed() {
					t.Logf("podfwd log:\n%s", d.stop(t))
				}
			}()
			pingBothWays(t, tp)
			a, b := n1.Pods[0], tp.Nodes[1].Pods[0]
			transfer(t, a, b, b.IPv4, 64<<20)
			transfer(t, b, a, a.IPv4, 64<<20)
			if c.io == "tun" { // whole super-packets both ways: ours to the kernel's device, its to us
				log := d.stop(t)
				for _, name := range []string{"gsoSentWhole", "gsoDeliveredWhole"} {
					if n, ok := logCounter(log, name); !ok || n == 0 {
						t.Errorf("%s=%d (found %v); want > 0; log:\n%s", name, n, ok, log)
					}
				}
			}
		})
	}
}

// TestTunnelsDecodeInTshark captures Geneve and IPIP packets that podfwd
// puts on the underlay and has tshark, a decoder we did not write, read
// the fields back.
func TestTunnelsDecodeInTshark(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "tshark", "tcpdump")
	for _, c := range []struct {
		encap, filter, fields string
		want                  string
	}{
		{"geneve", "udp port 6081", "-e geneve.vni -e geneve.proto_type -e ip.src -e ip.dst", "0x000001\t0x6558\t%s,%s\t%s,%s"},
		{"ipip", "ip proto 4", "-e ip.proto -e ip.src -e ip.dst", "4,1\t%s,%s\t%s,%s"},
	} {
		t.Run(c.encap, func(t *testing.T) {
			tp := topo.NewT(t, topo.Config{Prefix: testenv.RunPrefix() + "s"})
			for _, n := range tp.Nodes {
				startDaemon(t, n, nodeConfig(tp, n, "tun", c.encap, map[string]int{"geneve": 6081}[c.encap]))
			}
			pcap := t.TempDir() + "/cap.pcap"
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			dump := tp.Nodes[1].Command(ctx, "tcpdump", "-i", topo.UnderlayLink, "-c", "1", "-U", "-w", pcap, c.filter)
			dumpOut := &bench.LogBuffer{}
			dump.Stdout, dump.Stderr = dumpOut, dumpOut
			if err := dump.Start(); err != nil {
				t.Fatal(err)
			}
			dumped := make(chan error, 1)
			go func() { dumped <- dump.Wait() }()
			testenv.WaitFor(t, 10*time.Second, "tcpdump listening on node 2's underlay", func() error {
				select {
				case err := <-dumped:
					t.Fatalf("tcpdump exited before it listened (%v): %s", err, dumpOut)
				default:
				}
				if !strings.Contains(dumpOut.String(), "listening on") {
					return fmt.Errorf("tcpdump said: %q", dumpOut.String())
				}
				return nil
			})
			from, to := tp.Nodes[0].Pods[0], tp.Nodes[1].Pods[0]
			if err := topo.Ping(ctx, from, to.IPv4, 1, 56, false); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-dumped:
				if err != nil {
					t.Fatalf("tcpdump: %v: %s", err, dumpOut)
				}
			case <-ctx.Done():
				t.Fatalf("tcpdump captured no %s packet in 20 s: %s", c.filter, dumpOut)
			}
			args := append([]string{"-r", pcap, "-T", "fields"}, strings.Fields(c.fields)...)
			out, err := exec.Command("tshark", args...).CombinedOutput()
			if err != nil {
				t.Fatalf("tshark: %v: %s", err, out)
			}
			want := fmt.Sprintf(c.want, tp.Nodes[0].UnderlayIPv4, from.IPv4, tp.Nodes[1].UnderlayIPv4, to.IPv4)
			if got := strings.TrimSpace(lastLine(string(out))); got != want {
				t.Errorf("tshark read %q, want %q", got, want)
			}
		})
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
