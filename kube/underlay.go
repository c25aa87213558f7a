package kube

import (
	"context"
	"fmt"

	"github.com/podfwd/podfwd/config"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// ResolveNodeUnderlay sets f.Underlay.Address to our Node's first
// InternalIP (IPv4 preferred), the address the kubelet reports and that
// peers fall back to, so a DaemonSet config needs no per-node interface.
func ResolveNodeUnderlay(ctx context.Context, client kubernetes.Interface, f *config.File) error {
	n, err := client.CoreV1().Nodes().Get(ctx, f.NodeName, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("read our node %s for its InternalIP: %w", f.NodeName, err)
	}
	a := internalIP(n, true)
	if !a.IsValid() {
		a = internalIP(n, false)
	}
	if !a.IsValid() {
		return config.FieldError("underlay", "not set, and node %s has no %s address", f.NodeName, corev1.NodeInternalIP)
	}
	f.Underlay.Address = a.String()
	return nil
}
