package kubetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// CNIInvocation is one CNI plugin call as a kubelet's container runtime
// makes it: parameters in CNI_* environment variables, the network
// configuration on stdin, the result on stdout (CNI spec 1.0.0).
type CNIInvocation struct {
	Command     string // "ADD", "DEL", "CHECK" or "VERSION"
	ContainerID string // CNI_CONTAINERID; unique per pod sandbox
	NetNS       string // CNI_NETNS: path of the pod's network namespace
	IfName      string // CNI_IFNAME: interface to create in NetNS, e.g. "eth0"
	Config      []byte // one plugin's configuration, as PluginConfig makes it
	// HostNetNS, when not empty, is the name of a network namespace (as in
	// `ip netns`) the plugin itself runs in, standing in for the node, so a
	// test never touches the real host's network.
	HostNetNS string
}

// ErrCNIPlugin wraps a plugin's failure; the message carries the plugin's
// error object (code and msg) or its raw output.
var ErrCNIPlugin = errors.New("kubetest: CNI plugin failed")

// RunCNI runs the plugin named plugin from tl.CNIPath with inv and returns
// its stdout (the result JSON for ADD; empty for a successful DEL).
func (tl Tools) RunCNI(ctx context.Context, plugin string, inv CNIInvocation) ([]byte, error) {
	bin := filepath.Join(tl.CNIPath, plugin)
	var cmd *exec.Cmd
	if inv.HostNetNS != "" {
		cmd = exec.CommandContext(ctx, "ip", "netns", "exec", inv.HostNetNS, bin)
	} else {
		cmd = exec.CommandContext(ctx, bin)
	}
	cmd.Env = append(os.Environ(),
		"CNI_COMMAND="+inv.Command,
		"CNI_CONTAINERID="+inv.ContainerID,
		"CNI_NETNS="+inv.NetNS,
		"CNI_IFNAME="+inv.IfName,
		"CNI_PATH="+tl.CNIPath,
	)
	cmd.Stdin = bytes.NewReader(inv.Config)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%w: %s %s: %v: %s %s", ErrCNIPlugin, plugin, inv.Command, err,
			strings.TrimSpace(stdout.String()), strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// PluginConfig returns the configuration of plugin index of a conflist the
// way libcni builds it for each call: the plugin's own object plus the list's
// "name" and "cniVersion", and "prevResult" when prevResult is not nil.
func PluginConfig(conflist []byte, index int, prevResult []byte) ([]byte, error) {
	var list struct {
		CNIVersion string            `json:"cniVersion"`
		Name       string            `json:"name"`
		Plugins    []json.RawMessage `json:"plugins"`
	}
	if err := json.Unmarshal(conflist, &list); err != nil {
		return nil, fmt.Errorf("kubetest: conflist: %w", err)
	}
	if index < 0 || index >= len(list.Plugins) {
		return nil, fmt.Errorf("kubetest: conflist has %d plugins, no index %d", len(list.Plugins), index)
	}
	var conf map[string]any
	if err := json.Unmarshal(list.Plugins[index], &conf); err != nil {
		return nil, fmt.Errorf("kubetest: conflist plugin %d: %w", index, err)
	}
	conf["name"] = list.Name
	conf["cniVersion"] = list.CNIVersion
	if prevResult != nil {
		conf["prevResult"] = json.RawMessage(prevResult)
	}
	return json.Marshal(conf)
}

// CNIResult is the part of a CNI 1.0.0 ADD result the tests read.
type CNIResult struct {
	CNIVersion string `json:"cniVersion"`
	Interfaces []struct {
		Name    string `json:"name"`
		Mac     string `json:"mac"`
		Sandbox string `json:"sandbox"`
	} `json:"interfaces"`
	IPs []struct {
		Interface *int   `json:"interface"` // index into Interfaces
		Address   string `json:"address"`   // CIDR notation
		Gateway   string `json:"gateway"`
	} `json:"ips"`
	Routes []struct {
		Dst string `json:"dst"`
		GW  string `json:"gw"`
	} `json:"routes"`
}

// ParseCNIResult decodes a plugin's ADD output and holds it to the CNI
// spec's rules the tests rely on: an error result (one with a code) is an
// error, every ips[].address is a CIDR, a gateway is an address, and an
// interface index points into interfaces.
func ParseCNIResult(out []byte) (*CNIResult, error) {
	var r struct {
		CNIResult
		Code *int   `json:"code"`
		Msg  string `json:"msg"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("kubetest: CNI result: %w", err)
	}
	if r.Code != nil {
		return nil, fmt.Errorf("kubetest: CNI error result: code %d: %s", *r.Code, r.Msg)
	}
	for i, ip := range r.IPs {
		if _, err := netip.ParsePrefix(ip.Address); err != nil {
			return nil, fmt.Errorf("kubetest: CNI result ips[%d].address: %w", i, err)
		}
		if ip.Gateway != "" {
			if _, err := netip.ParseAddr(ip.Gateway); err != nil {
				return nil, fmt.Errorf("kubetest: CNI result ips[%d].gateway: %w", i, err)
			}
		}
		if ip.Interface != nil && (*ip.Interface < 0 || *ip.Interface >= len(r.Interfaces)) {
			return nil, fmt.Errorf("kubetest: CNI result ips[%d].interface %d: want an index into %d interfaces", i, *ip.Interface, len(r.Interfaces))
		}
	}
	return &r.CNIResult, nil
}
