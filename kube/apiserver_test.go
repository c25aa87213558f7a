package kube

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/podfwd/podfwd/config"
	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/encap"
	"github.com/podfwd/podfwd/internal/kubetest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// podfwdServiceAccount is the identity deploy/'s RBAC binds; the tests run
// the source and the publisher as it, so a missing permission fails here.
const podfwdServiceAccount = "system:serviceaccount:podfwd-system:podfwd"

// One apiserver serves every subtest (a start costs seconds); each subtest
// uses its own Node names and its own source.
func TestKubeAPIServer(t *testing.T) {
	c := kubetest.Start(t)
	admin, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	sa := serviceAccountClient(t, c)
	t.Run("ConfigFollowsNodes", func(t *testing.T) { testConfigFollowsNodes(t, admin, sa) })
	t.Run("PublishNode", func(t *testing.T) { testPublishNode(t, admin, sa) })
	t.Run("EnsurePublishedAfterNodeRecreated", func(t *testing.T) { testEnsurePublished(t, admin, sa) })
	t.Run("Outage", func(t *testing.T) { testOutage(t, c, admin, sa) })
}

// serviceAccountClient installs deploy/'s Namespace and RBAC and returns a
// client that acts as the daemon's ServiceAccount.
func serviceAccountClient(t *testing.T, c *kubetest.Cluster) kubernetes.Interface {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, f := range []string{"deploy/00-namespace.yaml", "deploy/10-rbac.yaml"} {
		path, err := kubetest.RepoFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if out, err := c.Kubectl(ctx, "apply", "-f", path); err != nil {
			t.Fatalf("kubectl apply %s: %v\n%s", f, err, out)
		}
	}
	cfg := rest.CopyConfig(c.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: podfwdServiceAccount}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func kubeTestBase(underlay string) *dataplane.Config {
	a := netip.MustParseAddr(underlay)
	return &dataplane.Config{Encap: encap.KindVXLAN, VNI: 1, Port: 8472, LocalUnderlay: a, LocalVTEPMAC: config.VTEPMACFor(a)}
}

func createNode(ctx context.Context, t testing.TB, cs kubernetes.Interface, name, cidr, addr string) {
	t.Helper()
	n := testNode(name, nil, nil, internal(addr))
	if cidr != "" {
		n.Spec.PodCIDR, n.Spec.PodCIDRs = cidr, []string{cidr}
	}
	if _, err := cs.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create node %s: %v", name, err)
	}
}

// startSource runs a source as client until the test ends.
func startSource(t testing.TB, client kubernetes.Interface, self, underlay string) *Source {
	t.Helper()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	src, err := NewSource(client, Options{NodeName: self, Base: kubeTestBase(underlay), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = src.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return src
}

// waitConfig returns the first config from src that satisfies ok, failing t
// after timeout. Configs that do not satisfy ok are skipped.
func waitConfig(t testing.TB, src *Source, timeout time.Duration, what string, ok func(*dataplane.Config) bool) *dataplane.Config {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case cfg := <-src.Updates():
			if ok(cfg) {
				return cfg
			}
		case <-deadline:
			t.Fatalf("no config with %s within %v", what, timeout)
			return nil
		}
	}
}

// noConfig fails t if src sends a config within d.
func noConfig(t testing.TB, src *Source, d time.Duration, why string) {
	t.Helper()
	select {
	case cfg := <-src.Updates():
		t.Fatalf("%s produced config generation %d (peers %v)", why, cfg.Generation, peerNames(cfg))
	case <-time.After(d):
	}
}

func peerNames(cfg *dataplane.Config) []string {
	var out []string
	for _, p := range cfg.Peers {
		out = append(out, p.Name)
	}
	return out
}

func peersAre(names ...string) func(*dataplane.Config) bool {
	return func(cfg *dataplane.Config) bool { return slices.Equal(peerNames(cfg), names) }
}

func testConfigFollowsNodes(t *testing.T, admin, sa kubernetes.Interface) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	nodes := admin.CoreV1().Nodes()
	createNode(ctx, t, admin, "cf-self", "10.244.1.0/24", "10.0.1.1")
	createNode(ctx, t, admin, "cf-b", "10.244.2.0/24", "10.0.1.2")
	createNode(ctx, t, admin, "cf-nocidr", "", "10.0.1.9")

	src := startSource(t, sa, "cf-self", "10.0.1.1")
	first := waitConfig(t, src, 30*time.Second, "peer cf-b", peersAre("cf-b"))
	if !slices.Equal(first.LocalPodCIDRs, []netip.Prefix{netip.MustParsePrefix("10.244.1.0/24")}) {
		t.Fatalf("local pod CIDRs %v, want our Node's", first.LocalPodCIDRs)
	}
	if p := first.Peers[0]; p.Underlay != netip.MustParseAddr("10.0.1.2") || p.VTEPMAC != config.VTEPMACFor(p.Underlay) {
		t.Fatalf("peer cf-b: %+v", p)
	}

	createNode(ctx, t, admin, "cf-c", "10.244.3.0/24", "10.0.1.3")
	added := waitConfig(t, src, 10*time.Second, "peer cf-c added", peersAre("cf-b", "cf-c"))
	if added.Generation <= first.Generation {
		t.Fatalf("generation %d after %d", added.Generation, first.Generation)
	}

	// An update we use: cf-c's podfwd publishes its address and MAC.
	ann, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{
		AnnotationPublicIP: "10.0.1.33", AnnotationVTEPMAC: "0a:00:00:00:00:33"}}})
	if _, err := nodes.Patch(ctx, "cf-c", types.MergePatchType, ann, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	moved := waitConfig(t, src, 10*time.Second, "cf-c at 10.0.1.33", func(cfg *dataplane.Config) bool {
		return len(cfg.Peers) == 2 && cfg.Peers[1].Underlay == netip.MustParseAddr("10.0.1.33")
	})
	if moved.Peers[1].VTEPMAC != [6]byte{0x0a, 0, 0, 0, 0, 0x33} || moved.Generation <= added.Generation {
		t.Fatalf("after annotation: %+v generation %d", moved.Peers[1], moved.Generation)
	}

	// Updates we do not use: a label, a foreign annotation, a condition.
	irrelevant, _ := json.Marshal(map[string]any{"metadata": map[string]any{
		"labels": map[string]string{"topology.kubernetes.io/zone": "z1"}, "annotations": map[string]string{"example.com/x": "y"}}})
	if _, err := nodes.Patch(ctx, "cf-b", types.MergePatchType, irrelevant, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := SetNetworkAvailable(ctx, admin, "cf-b", time.Now()); err != nil {
		t.Fatal(err)
	}
	noConfig(t, src, 2*time.Second, "label, foreign annotation and condition changes")

	// A pod CIDR appearing on a skipped Node makes it a peer.
	cidr, _ := json.Marshal(map[string]any{"spec": map[string]any{"podCIDR": "10.244.9.0/24", "podCIDRs": []string{"10.244.9.0/24"}}})
	if _, err := nodes.Patch(ctx, "cf-nocidr", types.MergePatchType, cidr, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitConfig(t, src, 10*time.Second, "cf-nocidr with its new pod CIDR", peersAre("cf-b", "cf-c", "cf-nocidr"))

	start := time.Now()
	if err := nodes.Delete(ctx, "cf-c", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitConfig(t, src, 10*time.Second, "cf-c deleted", peersAre("cf-b", "cf-nocidr"))
	t.Logf("delete of a Node -> config without it on Updates: %v (goal 1 s)", time.Since(start).Round(time.Millisecond))
}

func testPublishNode(t *testing.T, admin, sa kubernetes.Interface) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	createNode(ctx, t, admin, "pub-self", "10.244.20.0/24", "10.0.2.1")
	// The kubelet's own condition must survive ours.
	n, err := admin.CoreV1().Nodes().Get(ctx, "pub-self", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady"},
		{Type: corev1.NodeNetworkUnavailable, Status: corev1.ConditionTrue, Reason: "NoRouteCreated"}}
	if _, err := admin.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	base := kubeTestBase("10.0.2.1")
	want := NodeAnnotations(base, "vxlan")
	if err := PublishNode(ctx, sa, "pub-self", want); err != nil {
		t.Fatalf("PublishNode as the ServiceAccount: %v", err)
	}
	if err := SetNetworkAvailable(ctx, sa, "pub-self", time.Now()); err != nil {
		t.Fatalf("SetNetworkAvailable as the ServiceAccount: %v", err)
	}
	got, err := admin.CoreV1().Nodes().Get(ctx, "pub-self", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{AnnotationPublicIP: "10.0.2.1", AnnotationVTEPMAC: "0e:70:0a:00:02:01",
		AnnotationEncap: "vxlan", AnnotationVNI: "1", AnnotationPort: "8472"} {
		if got.Annotations[k] != v {
			t.Errorf("annotation %s = %q, want %q (all: %v)", k, got.Annotations[k], v, got.Annotations)
		}
	}
	conds := map[corev1.NodeConditionType]corev1.NodeCondition{}
	for _, c := range got.Status.Conditions {
		conds[c.Type] = c
	}
	if c := conds[corev1.NodeNetworkUnavailable]; c.Status != corev1.ConditionFalse || c.Reason != ConditionReasonUp {
		t.Errorf("NetworkUnavailable = %+v", c)
	}
	if c := conds[corev1.NodeReady]; c.Status != corev1.ConditionTrue || c.Reason != "KubeletReady" {
		t.Errorf("the kubelet's Ready condition was lost: %+v", got.Status.Conditions)
	}
	// The published annotations are what a peer reads back.
	v := viewNode(got, true)
	if v.skip != "" || v.peer.Underlay != base.LocalUnderlay || v.peer.VTEPMAC != base.LocalVTEPMAC {
		t.Errorf("a peer reads our Node as %+v (skip %q)", v.peer, v.skip)
	}
}

// testEnsurePublished deletes our Node after publishing, as an operator
// or a cloud controller may, and lets the kubelet register it again: the
// re-check finds our annotations and condition gone and writes them back
// (as the ServiceAccount), and a second re-check writes nothing.
func testEnsurePublished(t *testing.T, admin, sa kubernetes.Interface) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	createNode(ctx, t, admin, "rep-self", "10.244.21.0/24", "10.0.2.2")
	ann := NodeAnnotations(kubeTestBase("10.0.2.2"), "vxlan")
	if wrote, err := EnsurePublished(ctx, sa, "rep-self", ann, true, time.Now()); err != nil || !wrote {
		t.Fatalf("first EnsurePublished = %v, %v; want a write", wrote, err)
	}
	if wrote, err := EnsurePublished(ctx, sa, "rep-self", ann, true, time.Now()); err != nil || wrote {
		t.Fatalf("EnsurePublished with everything in place = %v, %v; want no write", wrote, err)
	}
	if err := admin.CoreV1().Nodes().Delete(ctx, "rep-self", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	createNode(ctx, t, admin, "rep-self", "10.244.21.0/24", "10.0.2.2") // the kubelet registers it again
	if wrote, err := EnsurePublished(ctx, sa, "rep-self", ann, true, time.Now()); err != nil || !wrote {
		t.Fatalf("EnsurePublished on the re-created Node = %v, %v; want a write", wrote, err)
	}
	got, err := admin.CoreV1().Nodes().Get(ctx, "rep-self", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range ann {
		if got.Annotations[k] != v {
			t.Errorf("annotation %s = %q after re-publishing, want %q", k, got.Annotations[k], v)
		}
	}
	if !networkAvailable(got) {
		t.Errorf("NetworkUnavailable not False after re-publishing: %+v", got.Status.Conditions)
	}
}

// testOutage stops the apiserver for 30 s under a running source: no config
// may come while it is down (the daemon keeps the last one), and once it is
// back the watch resumes by itself and follows new changes. The resume
// waits out client-go's reflector backoff (capped at 30 s, with up to as
// much again of jitter), which keeps thousands of nodes from stampeding a
// recovering apiserver; hence the generous wait. Typically the resume
// takes ~35 s; once (a full make test, 2026-12-06) it took over 90 s, when
// a retry during the apiserver's warm-up doubled the backoff again, so the
// bound is 150 s.
func testOutage(t *testing.T, c *kubetest.Cluster, admin, sa kubernetes.Interface) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	createNode(ctx, t, admin, "out-self", "10.244.30.0/24", "10.0.3.1")
	createNode(ctx, t, admin, "out-b", "10.244.31.0/24", "10.0.3.2")
	src := startSource(t, sa, "out-self", "10.0.3.1")
	before := waitConfig(t, src, 30*time.Second, "peer out-b", func(cfg *dataplane.Config) bool {
		return slices.Contains(peerNames(cfg), "out-b")
	})

	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	outage := 30 * time.Second
	if s := os.Getenv("PODFWD_KUBE_OUTAGE"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("PODFWD_KUBE_OUTAGE: %v", err)
		}
		outage = d
	}
	noConfig(t, src, outage, "an apiserver outage")
	if err := c.Restart(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	createNode(ctx, t, admin, "out-c", "10.244.32.0/24", "10.0.3.3")
	after := waitConfig(t, src, 150*time.Second, "out-c created after the restart", func(cfg *dataplane.Config) bool {
		return slices.Contains(peerNames(cfg), "out-c")
	})
	if after.Generation <= before.Generation || !slices.Contains(peerNames(after), "out-b") {
		t.Fatalf("after the outage: generation %d (before %d), peers %v", after.Generation, before.Generation, peerNames(after))
	}
	t.Logf("Node created after the restart -> config: %v", time.Since(start).Round(time.Millisecond))
}
