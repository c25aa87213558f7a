package kubetest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// podfwdServiceAccount is the user name RBAC sees for deploy/'s
// ServiceAccount.
const podfwdServiceAccount = "system:serviceaccount:podfwd-system:podfwd"

// testDeployManifests validates deploy/ on a real apiserver the way an
// operator installs it, then checks that its RBAC gives the daemon what it
// needs and nothing more.
func testDeployManifests(t *testing.T, c *Cluster, cs kubernetes.Interface) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir, err := RepoFile("deploy")
	if err != nil {
		t.Fatal(err)
	}

	// A server-side dry run of namespaced objects needs their namespace to
	// exist for real (a dry-run Namespace is not stored), so create it
	// first, then dry-run the whole directory.
	if out, err := c.Kubectl(ctx, "apply", "-f", dir+"/00-namespace.yaml"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	out, err := c.Kubectl(ctx, "apply", "--dry-run=server", "-f", dir)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{
		"namespace/podfwd-system", "serviceaccount/podfwd", "clusterrole.rbac.authorization.k8s.io/podfwd",
		"clusterrolebinding.rbac.authorization.k8s.io/podfwd", "configmap/podfwd-config", "daemonset.apps/podfwd",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("dry-run output lacks %s:\n%s", want, out)
		}
	}
	if _, err := cs.AppsV1().DaemonSets("podfwd-system").Get(ctx, "podfwd", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("dry run stored the DaemonSet (get: %v)", err)
	}

	// The kustomize entry point must render the same objects.
	if out, err := c.Kubectl(ctx, "apply", "--dry-run=server", "-k", dir); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}

	// The documented install, for real.
	if out, err := c.Kubectl(ctx, "apply", "-f", dir); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	ds, err := cs.AppsV1().DaemonSets("podfwd-system").Get(ctx, "podfwd", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("DaemonSet after apply: %v", err)
	}
	spec := ds.Spec.Template.Spec
	if !spec.HostNetwork || spec.PriorityClassName != "system-node-critical" || spec.ServiceAccountName != "podfwd" {
		t.Errorf("DaemonSet pod spec: hostNetwork=%v priorityClass=%q serviceAccount=%q",
			spec.HostNetwork, spec.PriorityClassName, spec.ServiceAccountName)
	}

	testServiceAccountRBAC(ctx, t, c, cs)
}

// testServiceAccountRBAC acts as the daemon's ServiceAccount (through
// impersonation by the admin) and checks each permission it should and
// should not have.
func testServiceAccountRBAC(ctx context.Context, t *testing.T, c *Cluster, admin kubernetes.Interface) {
	node, err := admin.CoreV1().Nodes().Create(ctx, &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "kubetest-rbac-node"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create node: %v", err)
	}
	cfg := rest.CopyConfig(c.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: podfwdServiceAccount}
	sa, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	nodes := sa.CoreV1().Nodes()

	if _, err := nodes.List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("list nodes as the daemon: %v", err)
	}
	// install-cni (the init container) reads its own Node by name.
	if _, err := nodes.Get(ctx, node.Name, metav1.GetOptions{}); err != nil {
		t.Errorf("get nodes as the daemon: %v", err)
	}
	w, err := nodes.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Errorf("watch nodes as the daemon: %v", err)
	} else {
		w.Stop()
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{
		"annotations": map[string]string{"podfwd.io/vtep-mac": "02:00:00:00:00:01"}}})
	if _, err := nodes.PatchStatus(ctx, node.Name, patch); err != nil {
		t.Errorf("patch nodes/status as the daemon: %v", err)
	} else if got, err := admin.CoreV1().Nodes().Get(ctx, node.Name, metav1.GetOptions{}); err != nil {
		t.Errorf("get node: %v", err)
	} else if got.Annotations["podfwd.io/vtep-mac"] != "02:00:00:00:00:01" {
		t.Errorf("annotation written through nodes/status did not stick: %v", got.Annotations)
	}

	forbidden := map[string]error{}
	_, forbidden["patch nodes"] = nodes.Patch(ctx, node.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	forbidden["delete nodes"] = nodes.Delete(ctx, node.Name, metav1.DeleteOptions{})
	_, forbidden["create nodes"] = nodes.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})
	_, forbidden["list pods"] = sa.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	_, forbidden["get secrets"] = sa.CoreV1().Secrets("podfwd-system").List(ctx, metav1.ListOptions{})
	for what, err := range forbidden {
		if !apierrors.IsForbidden(err) {
			t.Errorf("%s as the daemon: got %v, want Forbidden", what, err)
		}
	}
}
