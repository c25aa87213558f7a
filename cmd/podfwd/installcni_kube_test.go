package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/podfwd/podfwd/internal/kubetest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// testInstallCNIReadsItsNode runs install-cni's API lookup against the real
// apiserver, as the ServiceAccount deploy/ gives the DaemonSet (its RBAC
// applied from deploy/ here), for a dual-stack Node, a Node with only the
// older spec.podCIDR, one with none yet, and one that does not exist.
func testInstallCNIReadsItsNode(t *testing.T, c *kubetest.Cluster, admin kubernetes.Interface) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir, err := kubetest.RepoFile("deploy")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"00-namespace.yaml", "10-rbac.yaml"} {
		if out, err := c.Kubectl(ctx, "apply", "-f", dir+"/"+f); err != nil {
			t.Fatalf("kubectl apply %s: %v\n%s", f, err, out)
		}
	}
	cfg := rest.CopyConfig(c.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:podfwd-system:podfwd"}
	sa, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []corev1.Node{
		{ObjectMeta: metav1.ObjectMeta{Name: "icni-dual"}, Spec: corev1.NodeSpec{PodCIDR: "10.244.9.0/24", PodCIDRs: []string{"10.244.9.0/24", "fd00:244:9::/64"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "icni-old"}, Spec: corev1.NodeSpec{PodCIDR: "10.244.8.0/24"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "icni-none"}},
	} {
		if _, err := admin.CoreV1().Nodes().Create(ctx, &n, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = admin.CoreV1().Nodes().Delete(context.Background(), n.Name, metav1.DeleteOptions{}) })
	}
	for node, want := range map[string]string{"icni-dual": "10.244.9.0/24", "icni-old": "10.244.8.0/24"} {
		if got, err := nodePodCIDRFrom(ctx, sa, node); err != nil || got != want {
			t.Errorf("pod CIDR of %s = %q, %v; want %s", node, got, err, want)
		}
	}
	for node, want := range map[string]string{"icni-none": "no spec.podCIDR yet", "icni-missing": "not found"} {
		if got, err := nodePodCIDRFrom(ctx, sa, node); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("pod CIDR of %s = %q, %v; want an error saying %q", node, got, err, want)
		}
	}
}
