package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/podfwd/podfwd/config"
	"github.com/podfwd/podfwd/dataplane"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// ConditionReasonUp is the reason podfwd gives when it clears the Node's
// NetworkUnavailable condition.
const ConditionReasonUp = "PodfwdIsUp"

// NodeAnnotations are the annotations podfwd publishes on its own Node so
// that peers can reach it: underlay address, VTEP MAC, encap and, for the
// UDP encaps, VNI and port (omitted when 0, the format's default).
func NodeAnnotations(cfg *dataplane.Config, enc config.Encap) map[string]string {
	ann := map[string]string{
		AnnotationPublicIP: cfg.LocalUnderlay.String(),
		AnnotationVTEPMAC:  net.HardwareAddr(cfg.LocalVTEPMAC[:]).String(),
		AnnotationEncap:    string(enc),
	}
	if enc == config.EncapVXLAN || enc == config.EncapGeneve {
		ann[AnnotationVNI] = strconv.FormatUint(uint64(cfg.VNI), 10)
		if cfg.Port != 0 {
			ann[AnnotationPort] = strconv.FormatUint(uint64(cfg.Port), 10)
		}
	}
	return ann
}

// PublishNode merges ann into the annotations of Node nodeName through
// the nodes/status subresource: the status subresource keeps metadata
// changes, and it is the only write the daemon's RBAC grants (nodes/status
// patch), so the daemon cannot change the Node's spec.
func PublishNode(ctx context.Context, client kubernetes.Interface, nodeName string, ann map[string]string) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": ann}})
	if err != nil {
		return err
	}
	if _, err := client.CoreV1().Nodes().Patch(ctx, nodeName, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "podfwd"}, "status"); err != nil {
		return fmt.Errorf("publish annotations on node %s: %w", nodeName, err)
	}
	return nil
}

// SetNetworkAvailable sets Node nodeName's NetworkUnavailable condition to
// False with reason ConditionReasonUp, as a network plugin does once pods
// on the node can be reached. A strategic merge patch replaces only that
// condition (conditions merge by type), leaving the kubelet's alone.
func SetNetworkAvailable(ctx context.Context, client kubernetes.Interface, nodeName string, now time.Time) error {
	ts := metav1.NewTime(now)
	cond := corev1.NodeCondition{
		Type: corev1.NodeNetworkUnavailable, Status: corev1.ConditionFalse,
		Reason: ConditionReasonUp, Message: "podfwd's dataplane is up on this node",
		LastTransitionTime: ts, LastHeartbeatTime: ts,
	}
	patch, err := json.Marshal(map[string]any{"status": map[string]any{"conditions": []corev1.NodeCondition{cond}}})
	if err != nil {
		return err
	}
	if _, err := client.CoreV1().Nodes().Patch(ctx, nodeName, types.StrategicMergePatchType, patch, metav1.PatchOptions{FieldManager: "podfwd"}, "status"); err != nil {
		return fmt.Errorf("set NetworkUnavailable=False on node %s: %w", nodeName, err)
	}
	return nil
}
