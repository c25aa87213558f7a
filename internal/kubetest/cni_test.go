package kubetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/podfwd/podfwd/internal/testenv"
)

// The pod CIDR the test gives its "node"; it exists only inside the
// namespaces the test creates.
const testPodCIDR = "10.244.7.0/24"

// TestCNIBridgeHostLocal runs deploy/'s conflist through the real bridge and
// host-local plugins exactly as a kubelet's runtime would: plugin inside the
// node's network namespace, pod namespace by path, config on stdin. The node
// is itself a namespace this test creates, so the host is never touched.
func TestCNIBridgeHostLocal(t *testing.T) {
	testenv.RequireRoot(t)
	if testing.Short() {
		t.Skip("kubetest: needs the CNI plugins from scripts/kube-tools.sh; skipped under -short")
	}
	tl := EnsureTools(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	node := addNetNS(t, testenv.RunPrefix()+"cnode")
	pod := addNetNS(t, testenv.RunPrefix()+"cpod")
	podPath := "/var/run/netns/" + pod
	conflist := deployConflist(t, testPodCIDR, t.TempDir())
	bridgeConf, err := PluginConfig(conflist, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	inv := CNIInvocation{
		Command:     "ADD",
		ContainerID: "kubetest-" + pod,
		NetNS:       podPath,
		IfName:      "eth0",
		Config:      bridgeConf,
		HostNetNS:   node,
	}

	// The runtime sets up the pod's loopback with the loopback plugin.
	loConf := []byte(`{"cniVersion":"1.0.0","name":"lo","type":"loopback"}`)
	if _, err := tl.RunCNI(ctx, "loopback", CNIInvocation{Command: "ADD", ContainerID: inv.ContainerID,
		NetNS: podPath, IfName: "lo", Config: loConf, HostNetNS: node}); err != nil {
		t.Fatal(err)
	}
	if out := ipJSON(t, pod, "link", "show", "dev", "lo"); !strings.Contains(out, `"UP"`) {
		t.Errorf("pod lo not up after loopback ADD: %s", out)
	}

	out, err := tl.RunCNI(ctx, "bridge", inv)
	if err != nil {
		t.Fatal(err)
	}
	res, err := ParseCNIResult(out)
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	podAddr := checkAddResult(t, res, podPath)

	// The kernel agrees: eth0 in the pod has the address, and the default
	// route points at the bridge's gateway address in the node.
	if addrs := ipJSON(t, pod, "addr", "show", "dev", "eth0"); !strings.Contains(addrs, `"local":"`+podAddr.Addr().String()+`"`) {
		t.Errorf("pod eth0 lacks %s: %s", podAddr, addrs)
	}
	if routes := ipJSON(t, pod, "route", "show", "default"); !strings.Contains(routes, `"gateway":"10.244.7.1"`) {
		t.Errorf("pod default route not via 10.244.7.1: %s", routes)
	}
	if links := ipJSON(t, node, "addr", "show", "dev", "podfwd-br0"); !strings.Contains(links, `"local":"10.244.7.1"`) {
		t.Errorf("node bridge podfwd-br0 lacks the gateway address: %s", links)
	}
	// Traffic flows: a TCP connection from the pod to the node's gateway.
	if err := tcpPodToNode(node, pod, "10.244.7.1"); err != nil {
		t.Errorf("pod -> node over the bridge: %v", err)
	}

	// DEL, as the runtime does on sandbox removal (prevResult included).
	delConf, err := PluginConfig(conflist, 0, out)
	if err != nil {
		t.Fatal(err)
	}
	del := inv
	del.Command, del.Config = "DEL", delConf
	if _, err := tl.RunCNI(ctx, "bridge", del); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command("ip", "-n", pod, "link", "show", "dev", "eth0").Run(); err == nil {
		t.Error("pod eth0 still exists after DEL")
	}
	ipamDir := filepath.Join(ipamDataDir(t, conflist), "podfwd")
	if _, err := os.Stat(filepath.Join(ipamDir, podAddr.Addr().String())); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("host-local lease for %s survived DEL (stat: %v)", podAddr.Addr(), err)
	}
	// DEL is idempotent, as the spec requires.
	if _, err := tl.RunCNI(ctx, "bridge", del); err != nil {
		t.Errorf("second DEL: %v", err)
	}
}

// checkAddResult checks a CNI 1.0.0 ADD result and returns the pod address.
func checkAddResult(t *testing.T, res *CNIResult, podPath string) netip.Prefix {
	t.Helper()
	if res.CNIVersion != "1.0.0" {
		t.Errorf("result cniVersion %q, want 1.0.0", res.CNIVersion)
	}
	if len(res.IPs) != 1 || res.IPs[0].Interface == nil {
		t.Fatalf("want one IP bound to an interface, got %+v", res.IPs)
	}
	ip := res.IPs[0]
	if i := *ip.Interface; i < 0 || i >= len(res.Interfaces) || res.Interfaces[i].Name != "eth0" || res.Interfaces[i].Sandbox != podPath {
		t.Fatalf("IP bound to interface %d, not eth0 in %s: %+v", i, podPath, res.Interfaces)
	}
	addr, err := netip.ParsePrefix(ip.Address)
	if err != nil {
		t.Fatalf("result address: %v", err)
	}
	if !netip.MustParsePrefix(testPodCIDR).Contains(addr.Addr()) || addr.Bits() != 24 {
		t.Fatalf("pod address %s not in %s", addr, testPodCIDR)
	}
	if ip.Gateway != "10.244.7.1" {
		t.Errorf("gateway %q, want the first address 10.244.7.1", ip.Gateway)
	}
	return addr
}

// deployConflist fills deploy/'s conflist template in as the install-cni
// step does, with host-local's state kept in dataDir.
func deployConflist(t *testing.T, podCIDR, dataDir string) []byte {
	t.Helper()
	tmpl := string(DeployConfigMap(t, "10-podfwd.conflist"))
	if !strings.Contains(tmpl, "@POD_CIDR@") {
		t.Fatal("deploy's conflist template has no @POD_CIDR@")
	}
	return WithIPAMDataDir(t, []byte(strings.ReplaceAll(tmpl, "@POD_CIDR@", podCIDR)), dataDir)
}

// ipamDataDir reads back the dataDir deployConflist set.
func ipamDataDir(t *testing.T, conflist []byte) string {
	t.Helper()
	var list struct {
		Plugins []struct {
			IPAM struct {
				DataDir string `json:"dataDir"`
			} `json:"ipam"`
		} `json:"plugins"`
	}
	if err := json.Unmarshal(conflist, &list); err != nil || len(list.Plugins) == 0 || list.Plugins[0].IPAM.DataDir == "" {
		t.Fatalf("conflist without dataDir: %v", err)
	}
	return list.Plugins[0].IPAM.DataDir
}

// addNetNS creates a named network namespace and removes it in cleanup.
func addNetNS(t *testing.T, name string) string {
	t.Helper()
	_ = exec.Command("ip", "netns", "del", name).Run() // leftover of a killed run with the same pid
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	return name
}

// ipJSON runs `ip -j -n ns args...` and returns its output.
func ipJSON(t *testing.T, ns string, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"-j", "-n", ns}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip -n %s %v: %v: %s", ns, args, err, out)
	}
	return string(out)
}

// tcpPodToNode listens on addr in the node namespace, connects from the pod
// namespace and exchanges a byte. A socket stays in the namespace it was
// created in, so only the creation needs the thread switched.
func tcpPodToNode(node, pod, addr string) error {
	var ln net.Listener
	if err := inNetNS(node, func() (err error) {
		ln, err = net.Listen("tcp", net.JoinHostPort(addr, "0"))
		return err
	}); err != nil {
		return err
	}
	defer ln.Close()
	accepted := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_, err = c.Write([]byte{42})
			c.Close()
		}
		accepted <- err
	}()
	var conn net.Conn
	if err := inNetNS(pod, func() (err error) {
		conn, err = net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
		return err
	}); err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b [1]byte
	if _, err := conn.Read(b[:]); err != nil || b[0] != 42 {
		return fmt.Errorf("read from node: %v (byte %d)", err, b[0])
	}
	return <-accepted
}

// inNetNS runs fn on a thread switched into the named namespace and
// switches back. If switching back fails, the thread stays locked so that
// the runtime discards it instead of reusing a thread in a foreign namespace.
func inNetNS(name string, fn func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	target, err := netns.GetFromName(name)
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return err
	}
	fnErr := fn()
	if err := netns.Set(orig); err != nil {
		return fmt.Errorf("restore netns: %w", err)
	}
	runtime.UnlockOSThread()
	return fnErr
}
