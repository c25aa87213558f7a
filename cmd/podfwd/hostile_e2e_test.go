package main

import (
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/podfwd/podfwd/config"
	"github.com/podfwd/podfwd/encap"
	"github.com/podfwd/podfwd/internal/testenv"
	"github.com/podfwd/podfwd/internal/topo"
	"golang.org/x/sys/unix"
)

// TestHostileCorpus fires hostileCorpus at a live daemon on node 1 from
// the underlay: frames written on node 2's underlay link as node 2 (the
// known peer) and as a stranger address. For every case it checks the
// outcome by the daemon's counters (which reason moved, or that it was
// forwarded) and by a capture in node 1's pod (nothing reaches the pod
// that should not), proves the daemon alive with a good packet behind each
// case, and checks the conservation equation after the whole corpus.
func TestHostileCorpus(t *testing.T) {
	testenv.RequireRoot(t)
	for _, v := range []struct {
		io, encap string
		port      int
		strict    bool // underlay.partialChecksums: drop
	}{{"tun", "vxlan", 8472, false}, {"tun", "geneve", 6081, false}, {"tun", "ipip", 0, false}, {"xdp", "vxlan", 8472, false},
		{"xdp", "geneve", 6081, false}, {"xdp", "ipip", 0, false}, {"tun", "vxlan", 8472, true}, {"kernel", "vxlan", 8472, false}} {
		name := v.io + "-" + v.encap
		if v.strict {
			name += "-partial-drop"
		}
		t.Run(name, func(t *testing.T) {
			cfg := topo.Config{Prefix: testenv.RunPrefix() + "hc", Nodes: 3, PodsPerNode: 1, IPv6: true}
			judge := v.io == "kernel" // the kernel's own VXLAN device on node 1, no podfwd
			if judge {
				cfg.Mode = topo.KernelVXLAN
			}
			tp := topo.NewT(t, cfg)
			n1, n2, n3 := tp.Nodes[0], tp.Nodes[1], tp.Nodes[2]
			wireUnderlay(t, tp)
			var d *daemon
			if !judge {
				cfg := nodeConfig(tp, n1, v.io, v.encap, v.port)
				if v.strict {
					strict := strings.Replace(cfg, "underlay:\n", "underlay:\n  partialChecksums: drop\n", 1)
					if strict == cfg {
						t.Fatalf("no underlay section in:\n%s", cfg)
					}
					cfg = strict
				}
				d = startDaemon(t, n1, cfg)
			}
			kind, _, err := config.Encap(v.encap).Kind()
			if err != nil {
				t.Fatal(err)
			}
			peer := wire{kind: kind, port: uint16(v.port), vni: topo.VXLANVNI,
				srcMAC: linkMAC(t, n2, n2.UnderlayLink), dstMAC: linkMAC(t, n1, n1.UnderlayLink),
				vtepSrc: [6]byte(n2.VTEPMAC), vtepDst: [6]byte(n1.VTEPMAC),
				src: n2.UnderlayIPv4, dst: n1.UnderlayIPv4}
			stranger := peer
			stranger.src = n2.UnderlayIPv4.Next().Next().Next().Next().Next() // no node's address
			r := &hostileRig{peer: peer, stranger: stranger,
				victim: n1.Pods[0].IPv4, peerPod: n2.Pods[0].IPv4, third: n3.Pods[0].IPv4,
				victim6: n1.Pods[0].IPv6, peerPod6: n2.Pods[0].IPv6,
				kind: kind, underlayXDP: v.io == "xdp", udpKind: kind != encap.KindIPIP, strictPartial: v.strict}
			send := openSender(t, n2)
			capt := openCapture(t, n1.Pods[0])
			sock := openListener(t, n1.Pods[0])

			var failed []string
			for i, c := range hostileCorpus {
				want := c.want(r)
				if want == "" || judge && kernelCannotJudge[c.name] != "" {
					continue
				}
				mark := []byte(fmt.Sprintf("hostile#%03d:%s", i, c.name))
				fence := []byte(fmt.Sprintf("fence#%03d", i))
				var before metrics
				if !judge {
					before = scrapeMetrics(t, n1)
				}
				for _, f := range c.build(r, mark) {
					send(f)
				}
				send(r.one(r.good(fence))[0])
				if !capt.wait(fence, 3*time.Second) {
					t.Fatalf("case %s: a good packet sent after it never reached the pod; the node's datapath is dead", c.name)
				}
				delivered := capt.seen(mark)
				if judge {
					// What the pod accepted: its socket for UDP, for the rest
					// what reached its interface.
					accepted := delivered
					if kernelJudgesBySocket[c.name] {
						accepted = sock.seen(mark)
					}
					if accepted != (want == fwd) {
						failed = append(failed, fmt.Sprintf("%s: the kernel's VXLAN device delivered=%v, podfwd's expected outcome is %s", c.name, accepted, want))
					}
					continue
				}
				if sock.seen(mark) && want != fwd {
					failed = append(failed, fmt.Sprintf("%s: the pod's socket received it; want %s", c.name, want))
				}
				if got := outcome(before, settle(t, n1, before), delivered); got != want {
					failed = append(failed, fmt.Sprintf("%s: got %s, want %s", c.name, got, want))
				}
			}
			if len(failed) > 0 {
				t.Errorf("%d hostile cases with the wrong outcome:\n%s", len(failed), strings.Join(failed, "\n"))
			}
			if judge {
				return
			}
			select {
			case <-d.done:
				t.Fatalf("podfwd exited: %v\n%s", d.err, d.log)
			default:
			}
			checkConservation(t, n1)
		})
	}
}

// kernelJudgesBySocket are the cases whose inner UDP checksum is bad: the
// kernel's device hands them to the pod, whose stack drops them
// (InCsumErrors), so the pod's socket tells what was accepted. podfwd must
// drop them itself: its offload flags would vouch for them.
var kernelJudgesBySocket = map[string]bool{
	"bad-inner-udp-checksum": true,
}

// kernelCannotJudge are the cases the kernel's VXLAN device does not
// decide as podfwd must, and why.
var kernelCannotJudge = map[string]string{
	"unknown-peer":                     "it takes VXLAN from any sender",
	"spoofed-inner-source-third-node":  "it does not tie inner sources to the sending node",
	"spoofed-inner-source-victim-node": "it does not tie inner sources to the sending node",
	"spoofed-inner-source-ipv6":        "it does not tie inner sources to the sending node",
	"inner-first-fragment-alone":       "whether the node holds a lone fragment depends on conntrack, which podfwd's masquerade table turns on",
	"bad-inner-tcp-checksum":           "it hands the segment to the pod, whose stack drops it; no socket shows that for TCP",
	"partial-inner-udp-checksum":       "it knows from the skb that a wire packet is not CHECKSUM_PARTIAL and the pod verifies it; podfwd, reading a socket, cannot tell it from a host-local sender's",
	"partial-inner-tcp-checksum":       "as partial-inner-udp-checksum",
	"jumbo-tcp-bad-checksum":           "it hands the segment to the pod, whose stack drops it; no socket shows that for TCP",
}

// wireUnderlay makes the underlay bridge forward frames as a switch
// does: with br_netfilter loaded, a bridge validates IPv4 headers (dropping
// bad checksums and lengths) and may reassemble fragments, so the node
// under attack would never see those frames.
func wireUnderlay(t *testing.T, tp *topo.Topology) {
	t.Helper()
	const knob = "/proc/sys/net/bridge/bridge-nf-call-iptables"
	out, err := exec.Command("ip", "netns", "exec", tp.Underlay, "sh", "-c",
		"[ ! -e "+knob+" ] || echo 0 > "+knob).CombinedOutput()
	if err != nil {
		t.Fatalf("turning off br_netfilter on the underlay bridge: %v: %s", err, out)
	}
}

// settle scrapes node's metrics until the fence packet sent after a case
// is counted as delivered and both directions add up.
func settle(t *testing.T, node *topo.Node, before metrics) metrics {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		m := scrapeMetrics(t, node)
		if m.podDatagrams() > before.podDatagrams() && m.conservation() == "" || time.Now().After(deadline) {
			return m
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// outcome names what happened to one case between two scrapes, the fence
// packet behind it (one datagram received and forwarded) taken out.
func outcome(before, after metrics, delivered bool) string {
	// Datagrams, not writes: the case and the fence may leave as one
	// merged UDP packet.
	rx := `podfwd_packets_total{direction="rx",port="underlay"}`
	_, b := before.drops("ingress")
	_, a := after.drops("ingress")
	var moved []string
	for reason, n := range a {
		if n > b[reason] {
			moved = append(moved, reason)
		}
	}
	sort.Strings(moved)
	rxd := after.get(rx) - before.get(rx) - 1
	txd := after.podDatagrams() - before.podDatagrams() - 1
	switch {
	case len(moved) > 0:
		s := "drop:" + strings.Join(moved, "+")
		if delivered || txd > 0 {
			s += "+delivered"
		}
		return s
	case txd > 0 && delivered:
		return fwd
	case txd > 0:
		return fwdUndelivered
	case rxd == 0 && !delivered:
		return kernelDropped
	}
	return fmt.Sprintf("unaccounted(rx+%d tx+%d delivered=%v)", rxd, txd, delivered)
}

// linkMAC returns the Ethernet address of link in node's namespace.
func linkMAC(t *testing.T, node *topo.Node, link string) [6]byte {
	t.Helper()
	var mac [6]byte
	if err := node.Do(func() error {
		ifi, err := net.InterfaceByName(link)
		if err != nil {
			return err
		}
		copy(mac[:], ifi.HardwareAddr)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return mac
}

// openSender returns a function that writes whole Ethernet frames on
// node's underlay link from a packet socket, so that every header,
// checksum and fragment is exactly as the case built it.
func openSender(t *testing.T, node *topo.Node) func([]byte) {
	t.Helper()
	var fd, ifindex int
	if err := node.Do(func() error {
		ifi, err := net.InterfaceByName(node.UnderlayLink)
		if err != nil {
			return err
		}
		ifindex = ifi.Index
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return func(frame []byte) {
		to := &unix.SockaddrLinklayer{Ifindex: ifindex, Halen: 6}
		copy(to.Addr[:], frame[:6])
		if err := unix.Sendto(fd, frame, 0, to); err != nil {
			t.Fatalf("sending a %d-byte frame: %v", len(frame), err)
		}
	}
}

// capture records every frame that reaches a pod's interface.
type capture struct {
	mu     sync.Mutex
	frames [][]byte
}

// openCapture starts capturing on pod's interface until the test ends.
func openCapture(t *testing.T, pod *topo.Pod) *capture {
	t.Helper()
	var fd int
	if err := pod.Do(func() error {
		ifi, err := net.InterfaceByName(pod.Link)
		if err != nil {
			return err
		}
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index})
	}); err != nil {
		t.Fatal(err)
	}
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 100000})
	c := &capture{}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		buf := make([]byte, 1<<17)
		for {
			select {
			case <-done:
				return
			default:
			}
			n, _, err := unix.Recvfrom(fd, buf, 0)
			if err != nil || n <= 0 {
				continue
			}
			c.mu.Lock()
			c.frames = append(c.frames, append([]byte(nil), buf[:n]...))
			c.mu.Unlock()
		}
	}()
	t.Cleanup(func() { close(done); <-stopped; unix.Close(fd) })
	return c
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// seen reports whether any captured frame contains mark.
func (c *capture) seen(mark []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range c.frames {
		if bytes.Contains(f, mark) {
			return true
		}
	}
	return false
}

// wait waits up to d for a frame containing mark.
func (c *capture) wait(mark []byte, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if c.seen(mark) {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return c.seen(mark)
}

// openListener receives UDP on port 7777 (IPv4 and IPv6) in pod until the
// test ends, recording each datagram's payload.
func openListener(t *testing.T, pod *topo.Pod) *capture {
	t.Helper()
	var conn *net.UDPConn
	if err := pod.Do(func() (err error) {
		conn, err = net.ListenUDP("udp", &net.UDPAddr{Port: 7777})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	c := &capture{}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		buf := make([]byte, 1<<16)
		for {
			n, _, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			c.mu.Lock()
			c.frames = append(c.frames, append([]byte(nil), buf[:n]...))
			c.mu.Unlock()
		}
	}()
	t.Cleanup(func() { conn.Close(); <-stopped })
	return c
}
