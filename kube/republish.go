package kube

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// EnsurePublished reads Node nodeName and writes back what of ours it
// lacks: the annotations ann (a Node deleted and registered again by its
// kubelet comes back without them, and peers could no longer reach us)
// and, when available is set, the NetworkUnavailable=False condition (a
// new Node starts with it True, and the scheduler keeps pods off). It
// writes nothing when both are in place and reports whether it wrote.
func EnsurePublished(ctx context.Context, client kubernetes.Interface, nodeName string, ann map[string]string, available bool, now time.Time) (wrote bool, err error) {
	n, err := client.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
	if err != nil {
		return false, fmt.Errorf("read node %s: %w", nodeName, err)
	}
	for k, v := range ann {
		if n.Annotations[k] != v {
			if err := PublishNode(ctx, client, nodeName, ann); err != nil {
				return false, err
			}
			wrote = true
			break
		}
	}
	if available && !networkAvailable(n) {
		if err := SetNetworkAvailable(ctx, client, nodeName, now); err != nil {
			return wrote, err
		}
		wrote = true
	}
	return wrote, nil
}

// networkAvailable reports whether n carries NetworkUnavailable=False.
func networkAvailable(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeNetworkUnavailable {
			return c.Status == corev1.ConditionFalse
		}
	}
	return false
}
