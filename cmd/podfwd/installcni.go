package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// podCIDRPlaceholder is what the conflist template in deploy/ holds where
// the node's pod CIDR goes (host-local IPAM needs the subnet spelled out).
const podCIDRPlaceholder = "@POD_CIDR@"

// installCNICommand writes the node's CNI conflist: the template with the
// node's spec.podCIDR filled in, written atomically so the kubelet never
// reads half a file. The DaemonSet runs it as an init container.
func installCNICommand(args []string) error {
	fs := flag.NewFlagSet("install-cni", flag.ContinueOnError)
	tmpl := fs.String("template", "/etc/podfwd/10-podfwd.conflist", "conflist template containing "+podCIDRPlaceholder)
	dest := fs.String("dest", "/etc/cni/net.d/10-podfwd.conflist", "where to write the conflist")
	node := fs.String("node", os.Getenv("NODE_NAME"), "node whose pod CIDR to use (default $NODE_NAME)")
	podCIDR := fs.String("pod-cidr", "", "use this pod CIDR instead of asking the API server")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	template, err := os.ReadFile(*tmpl)
	if err != nil {
		return err
	}
	cidr := *podCIDR
	if cidr == "" {
		if *node == "" {
			return fmt.Errorf("%w: --node or $NODE_NAME is required", errUsage)
		}
		if cidr, err = nodePodCIDR(*node); err != nil {
			return err
		}
	}
	out, err := renderConflist(template, cidr)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(*dest, out, 0o644); err != nil {
		return err
	}
	fmt.Printf("wrote %s with pod CIDR %s\n", *dest, cidr)
	return nil
}

// nodePodCIDR asks the API server (in-cluster credentials: this runs in the
// DaemonSet's init container) for the node's first pod CIDR.
func nodePodCIDR(node string) (string, error) {
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return "", fmt.Errorf("kubernetes client config: %w", err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return nodePodCIDRFrom(ctx, client, node)
}

// nodePodCIDRFrom reads node's first pod CIDR through client: spec.podCIDRs
// first, the older single spec.podCIDR otherwise.
func nodePodCIDRFrom(ctx context.Context, client kubernetes.Interface, node string) (string, error) {
	n, err := client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("node %s: %w", node, err)
	}
	if len(n.Spec.PodCIDRs) > 0 {
		return n.Spec.PodCIDRs[0], nil
	}
	if n.Spec.PodCIDR != "" {
		return n.Spec.PodCIDR, nil
	}
	return "", fmt.Errorf("node %s has no spec.podCIDR yet (is the controller manager allocating node CIDRs?)", node)
}

var errNoPlaceholder = errors.New("template has no " + podCIDRPlaceholder)

// renderConflist fills the pod CIDR into the template after checking it is
// a CIDR, so a bad value never reaches the kubelet.
func renderConflist(template []byte, cidr string) ([]byte, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || p != p.Masked() {
		return nil, fmt.Errorf("pod CIDR %q is not a network prefix", cidr)
	}
	if !bytes.Contains(template, []byte(podCIDRPlaceholder)) {
		return nil, errNoPlaceholder
	}
	return bytes.ReplaceAll(template, []byte(podCIDRPlaceholder), []byte(p.String())), nil
}

// writeFileAtomic writes data to a temporary file beside path and renames
// it into place.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
