package kubetest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// One cluster serves every subtest: a start costs seconds on a busy
// machine, and the subtests do not depend on each other's objects.
func TestCluster(t *testing.T) {
	c := Start(t)
	cs, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("NodeCRUD", func(t *testing.T) { testNodeCRUD(t, cs) })
	t.Run("DeployManifests", func(t *testing.T) { testDeployManifests(t, c, cs) })
	t.Run("Restart", func(t *testing.T) { testRestart(t, c, cs) })
}

func testNodeCRUD(t *testing.T, cs kubernetes.Interface) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nodes := cs.CoreV1().Nodes()

	created, err := nodes.Create(ctx, &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "kubetest-node-a"},
		Spec:       corev1.NodeSpec{PodCIDR: "10.244.1.0/24", PodCIDRs: []string{"10.244.1.0/24"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create node: %v", err)
	}
	if created.UID == "" || created.ResourceVersion == "" {
		t.Fatalf("created node has no UID/resourceVersion: %+v", created.ObjectMeta)
	}

	list, err := nodes.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list nodes: %v", err)
	}
	found := false
	for _, n := range list.Items {
		found = found || (n.Name == created.Name && n.Spec.PodCIDR == "10.244.1.0/24")
	}
	if !found {
		t.Fatalf("node %s with its podCIDR not in list of %d nodes", created.Name, len(list.Items))
	}

	created.Annotations = map[string]string{"podfwd.io/test": "updated"}
	updated, err := nodes.Update(ctx, created, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update node: %v", err)
	}
	got, err := nodes.Get(ctx, created.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get node: %v", err)
	}
	if got.Annotations["podfwd.io/test"] != "updated" || got.ResourceVersion != updated.ResourceVersion {
		t.Fatalf("update not visible: annotations %v, rv %s want %s", got.Annotations, got.ResourceVersion, updated.ResourceVersion)
	}

	if err := nodes.Delete(ctx, created.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete node: %v", err)
	}
	if _, err := nodes.Get(ctx, created.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("get after delete: got %v, want NotFound", err)
	}
}

// testRestart stops the apiserver, checks that requests fail while it is
// down, restarts it and checks that the same clientset works again and the
// data written before the outage survived (etcd kept running); then the
// same after a Kill.
func testRestart(t *testing.T, c *Cluster, cs kubernetes.Interface) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	nodes := cs.CoreV1().Nodes()
	if _, err := nodes.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "kubetest-survivor"}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create node: %v", err)
	}

	if err := c.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := c.Stop(); err != ErrStopped {
		t.Fatalf("second Stop: got %v, want ErrStopped", err)
	}
	downCtx, downCancel := context.WithTimeout(ctx, 5*time.Second)
	_, err := nodes.Get(downCtx, "kubetest-survivor", metav1.GetOptions{})
	downCancel()
	if err == nil {
		t.Fatal("get succeeded while the apiserver was stopped")
	}

	if err := c.Restart(); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	n, err := nodes.Get(ctx, "kubetest-survivor", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get after restart with the old clientset: %v", err)
	}
	// A write after the restart proves the connection is fully usable.
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]string{"restarted": "yes"}}})
	if _, err := nodes.Patch(ctx, n.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatalf("patch after restart: %v", err)
	}
	// Restart while running is a stop plus a start.
	if err := c.Restart(); err != nil {
		t.Fatalf("Restart while running: %v", err)
	}
	if _, err := nodes.Get(ctx, n.Name, metav1.GetOptions{}); err != nil {
		t.Fatalf("get after second restart: %v", err)
	}
	// A crash (Kill) loses nothing either: etcd holds the data.
	if err := c.Kill(); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	if err := c.Kill(); err != ErrStopped {
		t.Fatalf("second Kill: got %v, want ErrStopped", err)
	}
	if err := c.Restart(); err != nil {
		t.Fatalf("Restart after Kill: %v", err)
	}
	if _, err := nodes.Get(ctx, n.Name, metav1.GetOptions{}); err != nil {
		t.Fatalf("get after Kill and Restart: %v", err)
	}
}
