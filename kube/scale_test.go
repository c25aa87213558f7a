package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/hostnet"
	"github.com/podfwd/podfwd/internal/kubetest"
	"github.com/podfwd/podfwd/internal/testenv"
	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// TestKubeScale is the 5,000-node measurement of docs/bench/control.md: the
// real apiserver holds PODFWD_KUBE_SCALE Nodes (each with a pod CIDR and
// our annotations), and the test measures the time from starting the
// source to the config being ready, the time from one Node change to the
// config carrying it, and the process's memory. It only runs when
// PODFWD_KUBE_SCALE is set (e.g. 5000): filling the apiserver takes
// minutes on a shared machine. Numbers are logged, not asserted.
func TestKubeScale(t *testing.T) {
	count, _ := strconv.Atoi(os.Getenv("PODFWD_KUBE_SCALE"))
	if count <= 0 {
		t.Skip("set PODFWD_KUBE_SCALE=5000 to run the scale measurement")
	}
	c := kubetest.Start(t)
	fast := rest.CopyConfig(c.Config)
	fast.QPS, fast.Burst = 1000, 2000
	admin, err := kubernetes.NewForConfig(fast)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()

	createNode(ctx, t, admin, "scale-self", "10.63.255.0/24", "172.31.255.254")
	start := time.Now()
	createScaleNodes(ctx, t, admin, count, 16)
	t.Logf("created %d Nodes in %v (16 workers)", count, time.Since(start).Round(time.Millisecond))

	client, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	rssBefore, heapBefore := memory()
	start = time.Now()
	src := startSource(t, client, "scale-self", "172.31.255.254")
	first := waitConfig(t, src, 5*time.Minute, fmt.Sprintf("%d peers", count), func(cfg *dataplane.Config) bool {
		return len(cfg.Peers) == count
	})
	ready := time.Since(start)
	rssAfter, heapAfter := memory()
	t.Logf("source start -> config with %d peers: %v", len(first.Peers), ready.Round(time.Millisecond))
	t.Logf("memory: VmRSS %d MiB -> %d MiB, Go heap in use %d MiB -> %d MiB (after GC)",
		rssBefore>>20, rssAfter>>20, heapBefore>>20, heapAfter>>20)
	measureInstall(t, first)

	for i := range 5 {
		name := fmt.Sprintf("scale-%05d", i*997%count)
		ip := fmt.Sprintf("172.30.%d.%d", i, 1+i)
		patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{AnnotationPublicIP: ip}}})
		start := time.Now()
		if _, err := admin.CoreV1().Nodes().Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		want := netip.MustParseAddr(ip)
		waitConfig(t, src, time.Minute, name+" at "+ip, func(cfg *dataplane.Config) bool {
			for _, p := range cfg.Peers {
				if p.Name == name {
					return p.Underlay == want
				}
			}
			return false
		})
		t.Logf("change %d (%s public-ip) -> config: %v", i+1, name, time.Since(start).Round(time.Millisecond))
	}
	start = time.Now()
	if err := admin.CoreV1().Nodes().Delete(ctx, "scale-00007", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitConfig(t, src, time.Minute, "scale-00007 gone", func(cfg *dataplane.Config) bool { return len(cfg.Peers) == count-1 })
	t.Logf("delete -> config without the Node: %v", time.Since(start).Round(time.Millisecond))
}

// measureInstall times the two steps between a config on Updates and the
// config being live in the daemon: the engine compiling it (FIB with every
// peer) and, as root, the reconcile of one route per peer through a link
// in a fresh, unnamed network namespace.
func measureInstall(t *testing.T, cfg *dataplane.Config) {
	e, err := dataplane.New(dataplane.Options{Pod: dataplane.NewMemPort("pod", 64), Underlay: dataplane.NewMemPort("ul", 64), UnderlayKind: dataplane.UnderlayUDP})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := e.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	t.Logf("engine SetConfig with %d peers: %v", len(cfg.Peers), time.Since(start).Round(time.Millisecond))
	testenv.RequireRoot(t)
	testenv.InNewNetns(t, func() {
		name := testenv.RunPrefix() + "sc0"
		if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: testenv.RunPrefix() + "sc1"}); err != nil {
			t.Fatal(err)
		}
		l, err := netlink.LinkByName(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := netlink.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
		var routes []hostnet.Route
		for _, p := range cfg.Peers {
			routes = append(routes, hostnet.Route{Dst: p.PodCIDRs[0], LinkIndex: l.Attrs().Index})
		}
		start := time.Now()
		if err := hostnet.ReconcileRoutes(routes); err != nil {
			t.Fatal(err)
		}
		t.Logf("route reconcile, %d routes from none: %v", len(routes), time.Since(start).Round(time.Millisecond))
		start = time.Now()
		if err := hostnet.ReconcileRoutes(routes[1:]); err != nil {
			t.Fatal(err)
		}
		t.Logf("route reconcile, one route removed of %d: %v", len(routes), time.Since(start).Round(time.Millisecond))
	})
}

// createScaleNodes creates Nodes scale-00000.. with /24 pod CIDRs from
// 10.64.0.0/10 and our annotations, through a pool of workers.
func createScaleNodes(ctx context.Context, t *testing.T, cs kubernetes.Interface, count, workers int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= count || ctx.Err() != nil {
					return
				}
				cidr := fmt.Sprintf("10.%d.%d.0/24", 64+i/256, i%256)
				ip := netip.MustParseAddr(fmt.Sprintf("172.16.%d.%d", i/250, 1+i%250))
				n := &corev1.Node{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("scale-%05d", i), Annotations: map[string]string{
						AnnotationPublicIP: ip.String(), AnnotationVTEPMAC: fmt.Sprintf("0a:00:00:00:%02x:%02x", i>>8, i&0xff),
						AnnotationEncap: "vxlan", AnnotationVNI: "1", AnnotationPort: "8472"}},
					Spec:   corev1.NodeSpec{PodCIDR: cidr, PodCIDRs: []string{cidr}},
					Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip.String()}}},
				}
				if _, err := cs.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{}); err != nil {
					errs <- fmt.Errorf("node %d: %w", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// memory returns the process's resident set (VmRSS) and the Go heap in
// use, both after a GC.
func memory() (rss, heap uint64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	data, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			rss = kb << 10
		}
	}
	return rss, ms.HeapInuse
}
