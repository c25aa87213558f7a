package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/podfwd/podfwd/internal/kubetest"
	"github.com/podfwd/podfwd/internal/testenv"
	"github.com/podfwd/podfwd/internal/topo"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// io xdp with Kubernetes: a peer whose Node appears after the start comes
// in through a config update, which installs it unresolved at once (no
// wait inside the update); the follower asks for its next hop right away,
// installs the MAC, and pods reach each other.
func TestXDPKubePeerAddedAfterStartIsResolved(t *testing.T) {
	testenv.RequireRoot(t)
	c := kubetest.Start(t)
	admin, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	sock := relayToAPIServer(t, c.Config.Host)
	tp := topo.NewT(t, topo.Config{Prefix: testenv.RunPrefix() + "fk"})
	a, b := tp.Nodes[0], tp.Nodes[1]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	createNode := func(n *topo.Node) {
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: n.Namespace},
			Spec:       corev1.NodeSpec{PodCIDR: n.PodCIDRv4.String(), PodCIDRs: []string{n.PodCIDRv4.String()}},
			Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: n.UnderlayIPv4.String()}}},
		}
		if _, err := admin.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = admin.CoreV1().Nodes().Delete(context.Background(), n.Namespace, metav1.DeleteOptions{})
		})
	}
	xdpConfig := func(n *topo.Node) string {
		return strings.Replace(kubeNodeConfig(n, "vxlan", c.Kubeconfig, sock), "io: tun\n", "io: xdp\n", 1)
	}

	createNode(a)
	da := startDaemon(t, a, xdpConfig(a))
	createNode(b)
	waitLog(t, da, 30*time.Second, "peer next hop resolved", "peer="+b.Namespace)
	db := startDaemon(t, b, xdpConfig(b))
	pingUntil(t, a.Pods[0], b.Pods[0].IPv4, 10*time.Second)
	pingUntil(t, b.Pods[0], a.Pods[0].IPv4, 10*time.Second)
	logA := da.stop(t)
	db.stop(t)
	t.Logf("node 1: %s", linesWith(logA, "next hop", "config applied"))
	if strings.Contains(linesWith(logA, "peer="+b.Namespace), "generation=1 ") {
		t.Errorf("node 2 was known at node 1's start; the test meant it to come by an update")
	}
}
