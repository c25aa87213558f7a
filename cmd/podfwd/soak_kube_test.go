package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/podfwd/podfwd/internal/topo"
	"github.com/podfwd/podfwd/kube"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// The soak's writes to the API server: Node churn (fake peers whose
// addresses nobody holds, created, changed and deleted every churnEvery:
// the daemons must follow them without the real peers noticing) and
// config changes of the real Nodes (a changed peer, so a new dataplane
// config swapped in under traffic).

const (
	churnEvery = 100 * time.Millisecond
	churnSlots = 32 // fake Nodes alive at most at once
	// apiTimeout bounds one request, so that a writer does not hang
	// through an apiserver outage.
	apiTimeout = 2 * time.Second
	// soakLabel marks what the soak changed on the real Nodes.
	soakLabel = "podfwd-soak/generation"
)

// kubeWrites counts what a writer did; its error list holds requests that
// failed with the apiserver up (outages are expected to fail them).
type kubeWrites struct {
	ops  map[string]int
	errs []string
	down int // requests that failed during an outage
}

func (w *kubeWrites) failed(tl *timeline, what string, err error) {
	at := tl.now()
	if tl.kindAt(at, false) == windowAPIDown {
		w.down++
		return
	}
	if len(w.errs) < 5 {
		w.errs = append(w.errs, fmt.Sprintf("at %v: %s: %v", at.Round(time.Millisecond), what, err))
	} else {
		w.errs[4] = fmt.Sprintf("... and more, the last at %v: %s: %v", at.Round(time.Millisecond), what, err)
	}
}

// fakeNode is fake slot i: pod CIDRs 10.250.i.0/24 and fd00:250:i::/64,
// an InternalIP on the underlay subnet (alt picks one of two) that no
// namespace holds.
func fakeNode(prefix string, i int, alt bool) *corev1.Node {
	host := 100 + i
	if alt {
		host += churnSlots
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: fakeNodeName(prefix, i), Labels: map[string]string{soakLabel: "fake"}},
		Spec: corev1.NodeSpec{PodCIDR: fmt.Sprintf("10.250.%d.0/24", i),
			PodCIDRs: []string{fmt.Sprintf("10.250.%d.0/24", i), fakeCIDRv6(i)}},
		Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: fmt.Sprintf("10.99.0.%d", host)}}},
	}
}

// fakeCIDRv6 is fd00:250:i::/64 as the apiserver wants it written (RFC
// 5952: fd00:250::/64 for slot 0).
func fakeCIDRv6(i int) string {
	a := netip.MustParseAddr("fd00:250::").As16()
	a[4], a[5] = byte(i>>8), byte(i)
	return netip.PrefixFrom(netip.AddrFrom16(a), 64).String()
}

func fakeNodeName(prefix string, i int) string { return fmt.Sprintf("%s-fake%d", prefix, i) }

// churn creates, updates or deletes one fake Node every churnEvery until
// stop is closed, then deletes every fake Node it knows of.
func churn(admin kubernetes.Interface, prefix string, tl *timeline, stop <-chan struct{}) *kubeWrites {
	w := &kubeWrites{ops: map[string]int{}}
	r := rand.New(rand.NewPCG(7, 7))
	present := make([]bool, churnSlots)
	alt := make([]bool, churnSlots)
	nodes := admin.CoreV1().Nodes()
	tick := time.NewTicker(churnEvery)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return w
		case <-tick.C:
		}
		i := r.IntN(churnSlots)
		ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
		switch {
		case !present[i]:
			_, err := nodes.Create(ctx, fakeNode(prefix, i, alt[i]), metav1.CreateOptions{})
			switch {
			case err == nil, apierrors.IsAlreadyExists(err): // an earlier create that timed out did land
				present[i] = true
				w.ops["created"]++
			default:
				w.failed(tl, "create "+fakeNodeName(prefix, i), err)
			}
		case r.IntN(2) == 0:
			alt[i] = !alt[i]
			patch, _ := json.Marshal(map[string]any{"status": map[string]any{"addresses": fakeNode(prefix, i, alt[i]).Status.Addresses}})
			_, err := nodes.Patch(ctx, fakeNodeName(prefix, i), types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
			switch {
			case err == nil:
				w.ops["address changed"]++
			case apierrors.IsNotFound(err): // an earlier delete that timed out did land
				present[i] = false
			default:
				w.failed(tl, "patch "+fakeNodeName(prefix, i), err)
			}
		default:
			err := nodes.Delete(ctx, fakeNodeName(prefix, i), metav1.DeleteOptions{})
			switch {
			case err == nil, apierrors.IsNotFound(err):
				present[i] = false
				w.ops["deleted"]++
			default:
				w.failed(tl, "delete "+fakeNodeName(prefix, i), err)
			}
		}
		cancel()
	}
}

// deleteFakeNodes removes every fake Node the soak may have made.
func deleteFakeNodes(admin kubernetes.Interface, prefix string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range churnSlots {
		if err := admin.CoreV1().Nodes().Delete(ctx, fakeNodeName(prefix, i), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// changeConfigs changes one real Node every period, in turn, until stop
// is closed: a new label generation, and its podfwd.io/public-ip6
// annotation set to an address nobody holds or removed (then the IPv6
// InternalIP, its real one, counts again). Over an IPv4 underlay in VXLAN
// that address only names where the peer's ICMP errors may come from, so
// each change makes every other daemon build and swap in a new config
// while pod traffic must not notice. At the end it removes both again.
func changeConfigs(admin kubernetes.Interface, nodes []*topo.Node, period time.Duration, tl *timeline, stop <-chan struct{}) *kubeWrites {
	w := &kubeWrites{ops: map[string]int{}}
	tick := time.NewTicker(period)
	defer tick.Stop()
	for gen := 1; ; gen++ {
		select {
		case <-stop:
			for _, n := range nodes {
				if err := patchSoakMeta(admin, n.Namespace, nil, nil); err != nil {
					w.errs = append(w.errs, fmt.Sprintf("restoring %s: %v", n.Namespace, err))
				}
			}
			return w
		case <-tick.C:
		}
		n := nodes[gen%len(nodes)]
		var ip6 any // JSON null removes the annotation
		if gen/len(nodes)%2 == 0 {
			ip6 = fmt.Sprintf("fd99::1:%x", gen%len(nodes)+1)
		}
		if err := patchSoakMeta(admin, n.Namespace, fmt.Sprint(gen), ip6); err != nil {
			w.failed(tl, "patch "+n.Namespace, err)
			continue
		}
		w.ops["real Node changed"]++
	}
}

// patchSoakMeta merge-patches Node name's soak label (nil removes it) and
// public-ip6 annotation (nil removes it).
func patchSoakMeta(admin kubernetes.Interface, name string, label, ip6 any) error {
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	defer cancel()
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"labels":      map[string]any{soakLabel: label},
		"annotations": map[string]any{kube.AnnotationPublicIP6: ip6},
	}})
	if err != nil {
		return err
	}
	_, err = admin.CoreV1().Nodes().Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
	return err
}
