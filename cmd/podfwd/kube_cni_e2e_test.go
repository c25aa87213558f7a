package main

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"testing"
	"time"

	"github.com/podfwd/podfwd/internal/kubetest"
	"github.com/podfwd/podfwd/internal/testenv"
	"github.com/podfwd/podfwd/internal/topo"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// testKubeCNIPods is the cluster as users run it: daemons in hybrid mode
// learning peers from Node objects, and pods attached by the real CNI
// reference plugins (bridge + host-local) with deploy/'s conflist, invoked
// exactly as a kubelet's runtime does. Pods on three nodes reach each other.
func testKubeCNIPods(t *testing.T, c *kubetest.Cluster, admin kubernetes.Interface, sock string) {
	tools := kubetest.EnsureTools(t)
	tp := topo.NewT(t, topo.Config{Prefix: testenv.RunPrefix() + "kc", Nodes: 3, NoPods: true})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// The apiserver is shared with the other subtests: start from no
	// Nodes (an earlier subtest's Nodes reuse our underlay addresses) and
	// leave none behind for the next one.
	deleteAllNodes(ctx, t, admin)
	t.Cleanup(func() { deleteAllNodes(context.Background(), t, admin) })
	for _, n := range tp.Nodes {
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: n.Namespace},
			Spec:       corev1.NodeSpec{PodCIDR: n.PodCIDRv4.String(), PodCIDRs: []string{n.PodCIDRv4.String()}},
			Status:     corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: n.UnderlayIPv4.String()}}},
		}
		if _, err := admin.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range tp.Nodes {
		startDaemon(t, n, kubeNodeConfig(n, "vxlan", c.Kubeconfig, sock)+"hybrid: true\n")
	}
	for _, n := range tp.Nodes {
		for _, peer := range tp.Nodes {
			if peer != n {
				waitRoute(t, n, peer.PodCIDRv4.String(), true, 30*time.Second)
			}
		}
	}
	var pods []string
	var addrs []netip.Addr
	for _, n := range tp.Nodes {
		ns, addr := cniPod(ctx, t, tools, tp, n)
		pods, addrs = append(pods, ns), append(addrs, addr)
	}
	for i := range pods {
		j := (i + 1) % len(pods)
		out, err := exec.CommandContext(ctx, "ip", "netns", "exec", pods[i], "ping", "-c", "2", "-W", "2", addrs[j].String()).CombinedOutput()
		if err != nil {
			t.Errorf("CNI pod %s -> %s: %v\n%s", addrs[i], addrs[j], err, out)
		}
	}
}

// cniPod creates a pod namespace and attaches it on node n with the
// loopback and bridge (+ host-local) plugins, returning its address.
func cniPod(ctx context.Context, t *testing.T, tools kubetest.Tools, tp *topo.Topology, n *topo.Node) (string, netip.Addr) {
	t.Helper()
	ns, err := tp.AddNamespace(ctx, fmt.Sprintf("n%dcni", n.Index))
	if err != nil {
		t.Fatal(err)
	}
	conflist, err := renderConflist(deployTemplate(t), n.PodCIDRv4.String())
	if err != nil {
		t.Fatal(err)
	}
	conflist = kubetest.WithIPAMDataDir(t, conflist, t.TempDir())
	bridgeConf, err := kubetest.PluginConfig(conflist, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	netnsPath := "/var/run/netns/" + ns
	id := "podfwd-e2e-" + ns
	lo := []byte(`{"cniVersion":"1.0.0","name":"lo","type":"loopback"}`)
	if _, err := tools.RunCNI(ctx, "loopback", kubetest.CNIInvocation{Command: "ADD", ContainerID: id, NetNS: netnsPath,
		IfName: "lo", Config: lo, HostNetNS: n.Namespace}); err != nil {
		t.Fatal(err)
	}
	out, err := tools.RunCNI(ctx, "bridge", kubetest.CNIInvocation{Command: "ADD", ContainerID: id, NetNS: netnsPath,
		IfName: "eth0", Config: bridgeConf, HostNetNS: n.Namespace})
	if err != nil {
		t.Fatal(err)
	}
	res, err := kubetest.ParseCNIResult(out)
	if err != nil || len(res.IPs) != 1 {
		t.Fatalf("CNI result %v: %s", err, out)
	}
	p, err := netip.ParsePrefix(res.IPs[0].Address)
	if err != nil || !n.PodCIDRv4.Contains(p.Addr()) {
		t.Fatalf("CNI gave %q, outside node %d's pod CIDR %s", res.IPs[0].Address, n.Index, n.PodCIDRv4)
	}
	return ns, p.Addr()
}

func deleteAllNodes(ctx context.Context, t *testing.T, admin kubernetes.Interface) {
	t.Helper()
	if err := admin.CoreV1().Nodes().DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
		t.Errorf("deleting Nodes: %v", err)
	}
}
