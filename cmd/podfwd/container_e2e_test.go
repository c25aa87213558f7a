package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/podfwd/podfwd/internal/kubetest"
	"github.com/podfwd/podfwd/internal/testenv"
	"github.com/podfwd/podfwd/internal/topo"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
)

// TestContainerDaemonSet runs the image `make image` builds under a real
// runtime (containerd and runc) in two node namespaces, each container set
// up from deploy/30-daemonset.yaml itself: its command, its capabilities
// (all dropped, the listed ones added), its mounts (/dev/net/tun, the CNI
// directory, the config), hostNetwork as the node's namespace, and the
// install-cni init container first. Pods on the two nodes then ping and
// transfer across nodes, and SIGTERM to the containers leaves no TUN
// device and no nftables table.
//
// Two things differ from a cluster, both because no API server runs here:
// the daemon reads a static config (peers listed) instead of
// `kubernetes: true`, and install-cni gets --pod-cidr instead of reading
// the Node.
func TestContainerDaemonSet(t *testing.T) {
	testenv.RequireRoot(t)
	ctd := startContainerd(t)
	image := buildImage(t)
	ctd.run(t, "images", "import", image)
	spec := daemonSetSpec(t)
	if !spec.HostNetwork {
		t.Fatal("the DaemonSet is not hostNetwork: this test runs it in the node's namespace")
	}
	if len(spec.InitContainers) != 1 || len(spec.Containers) != 1 {
		t.Fatalf("DaemonSet has %d init containers and %d containers; this test knows 1 and 1", len(spec.InitContainers), len(spec.Containers))
	}

	tp := topo.NewT(t, topo.Config{Prefix: testenv.RunPrefix() + "c", IPv6: true})
	for _, n := range tp.Nodes {
		root := t.TempDir() // the node's filesystem, for hostPath volumes
		config := filepath.Join(root, "configmap")
		if err := os.MkdirAll(config, 0o755); err != nil {
			t.Fatal(err)
		}
		files := map[string][]byte{
			"podfwd.yaml":        []byte(nodeConfig(tp, n, "tun", "vxlan", topo.DefaultVXLANPort)),
			"10-podfwd.conflist": kubetest.DeployConfigMap(t, "10-podfwd.conflist"),
		}
		for name, data := range files {
			if err := os.WriteFile(filepath.Join(config, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}

		initC := spec.InitContainers[0]
		id := n.Namespace + "-init"
		args := containerArgs(t, spec, initC, n, root, config)
		args = append(args, "--rm", "docker.io/"+initC.Image, id)
		args = append(append(args, initC.Command...), initC.Args...)
		args = append(args, "--pod-cidr="+n.PodCIDRv4.String())
		out := ctd.run(t, append([]string{"run"}, args...)...)
		conflist, err := os.ReadFile(filepath.Join(root, "hostpath/etc/cni/net.d/10-podfwd.conflist"))
		if err != nil || !strings.Contains(string(conflist), n.PodCIDRv4.String()) {
			t.Fatalf("install-cni on %s did not write the node's conflist (%v):\n%s\n%s", n.Namespace, err, out, conflist)
		}

		c := spec.Containers[0]
		id = n.Namespace
		logPath := filepath.Join(root, "podfwd.log")
		args = containerArgs(t, spec, c, n, root, config)
		args = append(args, "-d", "--log-uri", "file://"+logPath, "docker.io/"+c.Image, id)
		args = append(append(args, c.Command...), c.Args...)
		ctd.run(t, append([]string{"run"}, args...)...)
		t.Cleanup(func() { ctd.remove(id) })
		waitFile(t, logPath, "podfwd up")
		t.Cleanup(func() { // runs before the container is removed
			if t.Failed() {
				b, _ := os.ReadFile(logPath)
				t.Logf("podfwd on %s:\n%s", id, b)
			}
		})
		checkCaps(t, ctd, id, c)
	}

	pingBothWays(t, tp)
	a, b := tp.Nodes[0].Pods[0], tp.Nodes[1].Pods[0]
	transfer(t, a, b, b.IPv4, 16<<20)
	transfer(t, b, a, a.IPv6, 8<<20)

	for _, n := range tp.Nodes {
		if !ctd.remove(n.Namespace) {
			t.Errorf("the container on %s ignored SIGTERM for 10 s", n.Namespace)
		}
		if out, err := n.Command(context.Background(), "nft", "list", "table", "inet", "podfwd").CombinedOutput(); err == nil {
			t.Errorf("the masquerade table outlived the container on %s:\n%s", n.Namespace, out)
		}
		if out, _ := n.Command(context.Background(), "ip", "link", "show", "podfwd0").CombinedOutput(); !strings.Contains(string(out), "does not exist") {
			t.Errorf("the TUN device outlived the container on %s: %s", n.Namespace, out)
		}
	}
}

// buildImage runs `make image` into a temporary directory and returns the
// archive's path.
func buildImage(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if out, err := exec.Command("make", "-C", root, "image", "IMAGE_OUT="+dir, "VERSION=e2e").CombinedOutput(); err != nil {
		t.Fatalf("make image: %v\n%s", err, out)
	}
	return filepath.Join(dir, "podfwd-image.tar")
}

// daemonSetSpec reads the pod spec of deploy/30-daemonset.yaml.
func daemonSetSpec(t *testing.T) corev1.PodSpec {
	t.Helper()
	path, err := kubetest.RepoFile("deploy/30-daemonset.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ds appsv1.DaemonSet
	if err := yaml.NewYAMLOrJSONDecoder(f, 4096).Decode(&ds); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return ds.Spec.Template.Spec
}

// containerArgs turns a container of the DaemonSet into `ctr run` flags:
// the node's network namespace (hostNetwork), the capabilities, the
// environment and the mounts. A volume kind this test cannot stand in for
// fails it, so a manifest change cannot slip past.
func containerArgs(t *testing.T, spec corev1.PodSpec, c corev1.Container, n *topo.Node, root, config string) []string {
	t.Helper()
	args := []string{"--with-ns", "network:/var/run/netns/" + n.Namespace}
	if sc := c.SecurityContext; sc != nil && sc.Capabilities != nil {
		for _, cp := range sc.Capabilities.Drop {
			if cp != "ALL" {
				args = append(args, "--cap-drop", "CAP_"+string(cp))
				continue
			}
			// ctr has no "drop all" (CAP_ALL is silently ignored, which
			// checkCaps caught): drop each one except those added back,
			// since ctr applies drops after adds and Kubernetes the
			// other way round.
			for _, name := range allCaps {
				if !slices.Contains(sc.Capabilities.Add, corev1.Capability(name)) {
					args = append(args, "--cap-drop", "CAP_"+name)
				}
			}
		}
		for _, cp := range sc.Capabilities.Add {
			args = append(args, "--cap-add", "CAP_"+string(cp))
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "spec.nodeName":
			args = append(args, "--env", e.Name+"="+n.Namespace)
		case e.ValueFrom == nil:
			args = append(args, "--env", e.Name+"="+e.Value)
		default:
			t.Fatalf("container %s: env %s comes from a source this test does not know", c.Name, e.Name)
		}
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
	}
	for _, m := range c.VolumeMounts {
		v, ok := volumes[m.Name]
		if !ok {
			t.Fatalf("container %s mounts volume %s, which the DaemonSet does not define", c.Name, m.Name)
		}
		var src string
		switch {
		case v.ConfigMap != nil:
			src = config
		case v.HostPath != nil && v.HostPath.Path == "/dev/net/tun":
			src = "/dev/net/tun" // the one host path shared with the host: a device
		case v.HostPath != nil:
			src = filepath.Join(root, "hostpath", v.HostPath.Path)
			if err := os.MkdirAll(src, 0o755); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("volume %s is of a kind this test cannot stand in for", v.Name)
		}
		opts := "rbind:rw"
		if m.ReadOnly {
			opts = "rbind:ro"
		}
		args = append(args, "--mount", fmt.Sprintf("type=bind,src=%s,dst=%s,options=%s", src, m.MountPath, opts))
	}
	return args
}

// allCaps are the Linux capabilities by number (capability.h, to 40).
var allCaps = strings.Fields(`CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP
	LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE
	SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME
	SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG
	WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF CHECKPOINT_RESTORE`)

// checkCaps reads the effective capabilities of the container's process
// from /proc and fails t unless they are exactly the manifest's added
// ones: proof that the runtime applied the securityContext and that
// podfwd ran with no more than it.
func checkCaps(t *testing.T, ctd *containerd, id string, c corev1.Container) {
	t.Helper()
	var want uint64
	for _, cp := range c.SecurityContext.Capabilities.Add {
		bit := slices.Index(allCaps, string(cp))
		if bit < 0 {
			t.Fatalf("capability %s is not one this test knows", cp)
		}
		want |= 1 << bit
	}
	pid, running := ctd.taskPID(id)
	if !running {
		t.Fatalf("container %s is not running", id)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			got, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil || got != want {
				t.Errorf("container %s runs with CapEff %s, want %016x (the DaemonSet's)", id, strings.TrimSpace(v), want)
			}
			return
		}
	}
	t.Fatalf("no CapEff in /proc/%d/status", pid)
}

// waitFile waits until the file at path contains want.
func waitFile(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q not in %s after 20 s:\n%s", want, path, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
