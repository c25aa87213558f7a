package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/podfwd/podfwd/hostnet"
	"github.com/podfwd/podfwd/internal/kubetest"
	"github.com/podfwd/podfwd/internal/testenv"
	"github.com/podfwd/podfwd/internal/topo"
	"github.com/podfwd/podfwd/kube"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// TestKubeEndToEnd runs `podfwd run` with kubernetes.enabled in three node
// namespaces against a real apiserver, in tun io with VXLAN and in native
// routing: peers come only from Node objects the test creates, pods ping
// across nodes, every daemon
// publishes its annotations and condition, deleting a Node removes its
// routes from the others, and traffic keeps flowing with the apiserver
// stopped.
//
// The apiserver listens on the host namespace's loopback, which a process
// in a node namespace cannot reach. Path-named unix sockets are
// filesystem objects, not bound to a network namespace, so the test
// relays a unix socket to the apiserver and the daemons dial it
// (kubernetes.socket); TLS still verifies the apiserver's 127.0.0.1.
func TestKubeEndToEnd(t *testing.T) {
	testenv.RequireRoot(t)
	c := kubetest.Start(t)
	admin, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	sock := relayToAPIServer(t, c.Config.Host)
	// One apiserver serves both: Node names are the namespaces' names,
	// which differ by topology prefix. Only the last stops the apiserver.
	t.Run("tun-vxlan", func(t *testing.T) { testKubeEndToEnd(t, c, admin, sock, "vxlan", "k", false) })
	t.Run("cni-pods-hybrid", func(t *testing.T) { testKubeCNIPods(t, c, admin, sock) })
	t.Run("install-cni-api", func(t *testing.T) { testInstallCNIReadsItsNode(t, c, admin) })
	t.Run("native", func(t *testing.T) { testKubeEndToEnd(t, c, admin, sock, "none", "kn", true) })
}

func testKubeEndToEnd(t *testing.T, c *kubetest.Cluster, admin kubernetes.Interface, sock, encapName, prefix string, stopAPIServer bool) {
	tp := topo.NewT(t, topo.Config{Prefix: testenv.RunPrefix() + prefix, Nodes: 3, IPv6: true})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, n := range tp.Nodes {
		if _, err := admin.CoreV1().Nodes().Create(ctx, dualStackNode(n), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var ds []*daemon
	for i, n := range tp.Nodes {
		cfg := kubeNodeConfig(n, encapName, c.Kubeconfig, sock)
		if i == 2 {
			// The last node names no underlay: it takes its Node's
			// InternalIP, as a DaemonSet's shared config would.
			cfg = strings.Replace(cfg, fmt.Sprintf("underlay:\n  interface: %s\n  address: %s\n", n.UnderlayLink, n.UnderlayIPv4), "", 1)
			if strings.Contains(cfg, "underlay:") {
				t.Fatalf("underlay not removed from:\n%s", cfg)
			}
		}
		ds = append(ds, startDaemon(t, n, cfg))
	}
	for _, n := range tp.Nodes {
		for _, peer := range tp.Nodes {
			if peer != n {
				waitRoute(t, n, peer.PodCIDRv4.String(), true, 30*time.Second)
			}
		}
	}
	pingBothWays(t, tp)
	if err := topo.Ping(ctx, tp.Nodes[0].Pods[0], tp.Nodes[2].Pods[1].IPv4, 2, 56, false); err != nil {
		t.Errorf("node 1 -> node 3: %v", err)
	}
	// The masquerade table follows the peers: node 3's pods are exempt
	// on node 1 now, and no longer once node 3 is deleted (below).
	waitExempt(t, tp.Nodes[0], tp.Nodes[2].Pods[0].IPv4, true)

	for _, n := range tp.Nodes {
		checkPublished(ctx, t, admin, n, encapName)
	}

	gone := tp.Nodes[2]
	start := time.Now()
	if err := admin.CoreV1().Nodes().Delete(ctx, gone.Namespace, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	took := waitRoute(t, tp.Nodes[0], gone.PodCIDRv4.String(), false, 10*time.Second)
	t.Logf("Node delete -> its route gone from another node: %v after the delete call returned, %v from its start (goal 1 s)",
		took.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	waitRoute(t, tp.Nodes[1], gone.PodCIDRv4.String(), false, 10*time.Second)
	waitExempt(t, tp.Nodes[0], gone.Pods[0].IPv4, false)
	// The remaining nodes still talk.
	pingBothWays(t, tp)

	if !stopAPIServer {
		// The control plane's link state is exported with the dataplane's
		// metrics (native mode runs no engine and serves none).
		body, _ := httpGetIn(t, tp.Nodes[0], "/metrics")
		for _, want := range []string{"podfwd_control_plane_synced 1", "podfwd_control_plane_last_config_timestamp_seconds ", "podfwd_control_plane_watch_errors_total "} {
			if !strings.Contains(body, want) {
				t.Errorf("node 1's metrics lack %q", want)
			}
		}
		return
	}
	// With the apiserver gone, forwarding goes on with the last config.
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	// Every remaining daemon must have seen its watch fail (client-go logs
	// each failed list/watch) before "forwarding goes on" means anything.
	for _, d := range ds[:2] {
		testenv.WaitFor(t, 30*time.Second, "podfwd on "+d.node.Namespace+" logging a failed watch after the apiserver stopped", func() error {
			if log := d.log.String(); !strings.Contains(log, watchFailed) {
				return fmt.Errorf("no %q in its log:\n%s", watchFailed, lastLines(log, 5))
			}
			return nil
		})
	}
	pingBothWays(t, tp)
	waitRoute(t, tp.Nodes[0], tp.Nodes[1].PodCIDRv4.String(), true, time.Second)
}

// dualStackNode is n's Node object as a cluster would hold it: both pod
// CIDRs, and both underlay addresses as InternalIPs (the IPv6 one serves
// native routing of the IPv6 pod CIDR).
func dualStackNode(n *topo.Node) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: n.Namespace},
		Spec: corev1.NodeSpec{PodCIDR: n.PodCIDRv4.String(),
			PodCIDRs: []string{n.PodCIDRv4.String(), n.PodCIDRv6.String()}},
		Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: n.UnderlayIPv4.String()},
			{Type: corev1.NodeInternalIP, Address: n.UnderlayIPv6.String()}}},
	}
}

// watchFailed is what client-go's reflector logs when a list or watch of
// the API server fails (k8s.io/client-go/tools/cache.DefaultWatchErrorHandler).
const watchFailed = "Failed to watch"

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func kubeNodeConfig(n *topo.Node, encapName, kubeconfig, sock string) string {
	return fmt.Sprintf(`nodeName: %s
io: tun
encap: %s
vni: %d
port: 8472
vtepMAC: %q
underlay:
  interface: %s
  address: %s
kubernetes:
  enabled: true
  kubeconfig: %s
  socket: %s
`, n.Namespace, encapName, topo.VXLANVNI, n.VTEPMAC.String(), n.UnderlayLink, n.UnderlayIPv4, kubeconfig, sock)
}

// relayToAPIServer listens on a unix socket and copies each connection to
// the apiserver at host (an https URL on loopback) until the test ends.
func relayToAPIServer(t *testing.T, host string) string {
	t.Helper()
	u, err := url.Parse(host)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "apiserver.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				up, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
				if err != nil {
					return
				}
				defer up.Close()
				done := make(chan struct{}, 2)
				go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
				go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
				<-done
			}()
		}
	}()
	return path
}

// waitRoute polls n's routes that podfwd owns until the one to dst is
// present (or absent), and returns how long that took.
func waitRoute(t *testing.T, n *topo.Node, dst string, present bool, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		out, err := n.Command(context.Background(), "ip", "route", "show", "proto", fmt.Sprint(hostnet.RouteProtocol)).CombinedOutput()
		if err != nil {
			t.Fatalf("ip route in %s: %v\n%s", n.Namespace, err, out)
		}
		has := false
		for _, line := range strings.Split(string(out), "\n") {
			has = has || strings.HasPrefix(line, dst+" ")
		}
		if has == present {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("route to %s in %s: present=%v after %v; routes:\n%s", dst, n.Namespace, has, timeout, out)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkPublished reads n's Node back: the daemon's annotations and the
// NetworkUnavailable=False condition must be there.
func checkPublished(ctx context.Context, t *testing.T, admin kubernetes.Interface, n *topo.Node, encapName string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		node, err := admin.CoreV1().Nodes().Get(ctx, n.Namespace, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ok := node.Annotations[kube.AnnotationPublicIP] == n.UnderlayIPv4.String() &&
			node.Annotations[kube.AnnotationVTEPMAC] == n.VTEPMAC.String() &&
			node.Annotations[kube.AnnotationEncap] == encapName
		var cond corev1.NodeCondition
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeNetworkUnavailable {
				cond = c
			}
		}
		ok = ok && cond.Status == corev1.ConditionFalse && cond.Reason == kube.ConditionReasonUp
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s: annotations %v, NetworkUnavailable %+v", n.Namespace, node.Annotations, cond)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestKubeDaemonScale measures a whole `podfwd run` (tun io, VXLAN) in a
// node namespace against an apiserver holding PODFWD_KUBE_SCALE peer
// Nodes: start -> dataplane up with every peer's route, the daemon's
// VmRSS, and a Node delete/create -> its route gone/present. Only runs
// when PODFWD_KUBE_SCALE is set (docs/bench/control.md); numbers are
// logged, not asserted.
func TestKubeDaemonScale(t *testing.T) {
	count, _ := strconv.Atoi(os.Getenv("PODFWD_KUBE_SCALE"))
	if count <= 0 {
		t.Skip("set PODFWD_KUBE_SCALE=5000 to run the scale measurement")
	}
	testenv.RequireRoot(t)
	c := kubetest.Start(t)
	admin := fastClient(t, c, 1000)
	sock := relayToAPIServer(t, c.Config.Host)
	tp := topo.NewT(t, topo.Config{Prefix: testenv.RunPrefix() + "ks", Nodes: 1})
	n := tp.Nodes[0]
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	if _, err := admin.CoreV1().Nodes().Create(ctx, scaleNode(n.Namespace, n.PodCIDRv4.String(), n.UnderlayIPv4.String()), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < count && ctx.Err() == nil; i = int(next.Add(1) - 1) {
				node := scaleNode(fmt.Sprintf("ds-%05d", i), fmt.Sprintf("10.%d.%d.0/24", 64+i/256, i%256), fmt.Sprintf("172.16.%d.%d", i/250, 1+i%250))
				if _, err := admin.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	d := startDaemon(t, n, kubeNodeConfig(n, "vxlan", c.Kubeconfig, sock))
	up := time.Since(start)
	last := fmt.Sprintf("10.%d.%d.0/24", 64+(count-1)/256, (count-1)%256)
	waitRoute(t, n, last, true, time.Minute)
	t.Logf("daemon start -> podfwd up: %v; -> route of the last of %d peers present: %v", up.Round(time.Millisecond), count, time.Since(start).Round(time.Millisecond))
	t.Logf("daemon VmRSS with %d peers: %d MiB", count, vmRSS(t, d.cmd.Process.Pid)>>20)

	start = time.Now()
	if err := admin.CoreV1().Nodes().Delete(ctx, "ds-00007", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRoute(t, n, "10.64.7.0/24", false, time.Minute)
	t.Logf("Node delete -> route gone: %v", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	if _, err := admin.CoreV1().Nodes().Create(ctx, scaleNode("ds-new", "10.100.0.0/24", "172.17.0.1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRoute(t, n, "10.100.0.0/24", true, time.Minute)
	t.Logf("Node create -> route present: %v", time.Since(start).Round(time.Millisecond))
	t.Logf("daemon VmRSS after the changes: %d MiB", vmRSS(t, d.cmd.Process.Pid)>>20)
}

// fastClient is an admin client of c allowed qps requests a second (and
// bursts of twice that) instead of client-go's default 5.
func fastClient(t *testing.T, c *kubetest.Cluster, qps float32) kubernetes.Interface {
	t.Helper()
	fast := rest.CopyConfig(c.Config)
	fast.QPS, fast.Burst = qps, int(2*qps)
	admin, err := kubernetes.NewForConfig(fast)
	if err != nil {
		t.Fatal(err)
	}
	return admin
}

func scaleNode(name, cidr, addr string) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{kube.AnnotationPublicIP: addr, kube.AnnotationEncap: "vxlan"}},
		Spec:       corev1.NodeSpec{PodCIDR: cidr, PodCIDRs: []string{cidr}},
		Status:     corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: addr}}},
	}
}

// vmRSS is process pid's resident set in bytes.
func vmRSS(t *testing.T, pid int) uint64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}
