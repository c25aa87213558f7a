package main

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/podfwd/podfwd/bench"
	"github.com/podfwd/podfwd/internal/testenv"
	"github.com/podfwd/podfwd/internal/topo"
)

// outsideHost is the host number of the outside server on the underlay
// (10.99.0.200, fd99::200): no node, no route to any pod CIDR.
const outsideHost = 200

// TestMasqueradeEgress runs podfwd in every io on two nodes with an
// outside host beside them on the underlay. A pod on node 1 reaches the
// outside host over TCP, UDP and ICMP, IPv4 and IPv6, and the outside host
// sees node 1's underlay address; a ping between pods on the two nodes
// still carries the pods' own addresses on the wire (read by tshark).
func TestMasqueradeEgress(t *testing.T) {
	testenv.RequireRoot(t)
	for _, c := range []e2eCase{
		{"tun", "vxlan", topo.DefaultVXLANPort, false},
		{"udp-process", "vxlan", topo.DefaultVXLANPort, false},
		{"xdp", "vxlan", topo.DefaultVXLANPort, false},
		{"kernel", "vxlan", topo.DefaultVXLANPort, false},
		{"tun", "none", 0, false},
	} {
		t.Run(c.name(), func(t *testing.T) {
			tp := topo.NewT(t, topo.Config{Prefix: testenv.RunPrefix() + "m", IPv6: true})
			out, err := tp.AddOutside(context.Background(), outsideHost)
			if err != nil {
				t.Fatal(err)
			}
			srv := serveOutside(t, out)
			for _, n := range tp.Nodes {
				startDaemon(t, n, nodeConfig(tp, n, c.io, c.encap, c.port))
			}
			node, pod := tp.Nodes[0], tp.Nodes[0].Pods[0]
			for _, f := range []struct{ dst, want string }{
				{out.IPv4.String(), node.UnderlayIPv4.String()},
				{out.IPv6.String(), node.UnderlayIPv6.String()},
			} {
				dst := out.IPv4
				if strings.Contains(f.dst, ":") {
					dst = out.IPv6
				}
				for proto, seen := range map[string]func() (string, error){
					"tcp":  func() (string, error) { return seenTCP(pod, dst) },
					"udp":  func() (string, error) { return seenUDP(pod, dst) },
					"icmp": func() (string, error) { return srv.seenICMP(pod, dst) },
				} {
					got, err := seen()
					if err != nil {
						t.Errorf("%s from pod %s to outside %s: %v", proto, pod.IPv4, dst, err)
					} else if got != f.want {
						t.Errorf("%s from pod to outside %s: the outside saw %s, want node 1's %s", proto, dst, got, f.want)
					}
				}
			}
			podAddressesOnWire(t, tp, c)
		})
	}
}

// podAddressesOnWire pings pod 1 of node 2 from pod 1 of node 1 while
// tcpdump captures node 1's wire (in the underlay namespace, where AF_XDP
// traffic is seen too), and has tshark check that every echo request
// carries the pods' addresses (the inner header when tunnelled).
func podAddressesOnWire(t *testing.T, tp *topo.Topology, c e2eCase) {
	t.Helper()
	for _, tool := range []string{"tcpdump", "tshark"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing (make deps installs it): %v", tool, err)
		}
	}
	from, to := tp.Nodes[0].Pods[0], tp.Nodes[1].Pods[0]
	pcap := t.TempDir() + "/wire.pcap"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dump := tp.UnderlayCommand(ctx, "tcpdump", "--immediate-mode", "-i", "n1", "-U", "-w", pcap)
	dumpOut := &bench.LogBuffer{}
	dump.Stdout, dump.Stderr = dumpOut, dumpOut
	if err := dump.Start(); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(dumpOut.String(), "listening on") {
		if ctx.Err() != nil {
			t.Fatalf("tcpdump did not start: %s", dumpOut)
		}
		time.Sleep(20 * time.Millisecond)
	}
	pingErr := topo.Ping(ctx, from, to.IPv4, 3, 56, false)
	_ = dump.Process.Signal(syscall.SIGINT)
	_ = dump.Wait()
	if pingErr != nil {
		t.Fatalf("pod-to-pod ping: %v", pingErr)
	}
	args := []string{"-r", pcap, "-Y", "icmp.type == 8", "-T", "fields", "-e", "ip.src", "-e", "ip.dst"}
	if c.port != 0 {
		args = append(args, "-d", fmt.Sprintf("udp.port==%d,vxlan", c.port))
	}
	outb, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(outb)), "\n")
	if len(lines) < 3 {
		t.Fatalf("tshark found %d echo requests on node 1's wire, want 3:\n%s\ntcpdump: %s", len(lines), outb, dumpOut)
	}
	for _, l := range lines {
		src, dst, _ := strings.Cut(l, "\t")
		// Tunnelled, tshark lists outer then inner: the inner is last.
		if src[strings.LastIndex(src, ",")+1:] != from.IPv4.String() || dst[strings.LastIndex(dst, ",")+1:] != to.IPv4.String() {
			t.Errorf("echo request on the wire %q, want inner %s -> %s (pod-to-pod must not be NATed)", l, from.IPv4, to.IPv4)
		}
	}
}
