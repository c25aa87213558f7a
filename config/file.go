// Package config is the daemon's configuration file: it decodes the YAML
// strictly (an unknown field is an error), fills in the defaults, and
// validates it into the dataplane's Config, with errors that name the
// field. It reads no cluster state and programs nothing: the Kubernetes
// source (package kube) and the host programming (package hostnet) take
// what it returns.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// File is the daemon's configuration file (`podfwd run --config FILE`).
type File struct {
	NodeName string   `yaml:"nodeName"`
	IO       IO       `yaml:"io"`    // tun | udp-process | xdp | kernel
	Encap    Encap    `yaml:"encap"` // vxlan | geneve | ipip | none
	VNI      uint32   `yaml:"vni"`
	Port     uint16   `yaml:"port"`
	VTEPMAC  string   `yaml:"vtepMAC"`
	PodCIDRs []string `yaml:"podCIDRs"`
	Underlay Underlay `yaml:"underlay"`
	TUN      TUN      `yaml:"tun"`
	Offloads Offloads `yaml:"offloads"`
	XDP      XDP      `yaml:"xdp"`  // io: xdp only
	Poll     Poll     `yaml:"poll"` // io: tun only
	Peers    []Peer   `yaml:"peers"`
	// Admin places the admin socket (podfwd trace) and the metrics listener.
	Admin Admin `yaml:"admin"`
	// Kubernetes makes the API server the source of peers and of our pod
	// CIDRs instead of Peers and PodCIDRs.
	Kubernetes Kubernetes `yaml:"kubernetes"`
	// Hybrid routes natively to peers on our underlay subnet and tunnels
	// only to the others (flannel's DirectRouting, Calico's CrossSubnet).
	// It needs underlay.interface, whose subnet decides.
	Hybrid bool `yaml:"hybrid"`
	// Masquerade gives local pods' traffic to destinations outside the
	// cluster the node's address (nftables table inet podfwd); nil means
	// true, so that pods reach the outside world as with flannel,
	// Calico and Cilium. Pod-to-pod and pod-to-node traffic is never
	// masqueraded.
	Masquerade *bool `yaml:"masquerade"`
	// NonMasqueradeCIDRs are more destinations that keep the pod's
	// address, as ip-masq-agent's nonMasqueradeCIDRs.
	NonMasqueradeCIDRs []string `yaml:"nonMasqueradeCIDRs"`
}

// Kubernetes configures the Kubernetes source (see kube.NewSource).
type Kubernetes struct {
	Enabled bool `yaml:"enabled"`
	// Kubeconfig is a kubeconfig file; empty means the in-cluster config
	// (the pod's ServiceAccount).
	Kubeconfig string `yaml:"kubeconfig"`
	// Socket, when set, is a unix socket every API connection dials instead
	// of the kubeconfig's host (TLS still checks the host's name): it lets
	// a daemon inside a network namespace reach an API server that listens
	// on another namespace's loopback through a relay.
	Socket string `yaml:"socket"`
}

// Admin configures the operator interfaces. Empty values take the
// defaults; AdminOff ("off") disables one.
type Admin struct {
	// Socket is the unix socket of the admin API (root only, mode 0600).
	// Paths are global across network namespaces: daemons sharing a host
	// filesystem need one each.
	Socket string `yaml:"socket"`
	// MetricsAddress is the TCP address of /metrics, /healthz and /readyz,
	// in the daemon's network namespace.
	MetricsAddress string `yaml:"metrics"`
}

// Admin defaults, and the value that switches an admin listener off.
const (
	DefaultAdminSocket    = "/run/podfwd/podfwd.sock"
	DefaultMetricsAddress = "127.0.0.1:9810"
	AdminOff              = "off"
)

// Underlay names the node's underlay interface and address.
type Underlay struct {
	Interface string `yaml:"interface"`
	Address   string `yaml:"address"`
	MTU       int    `yaml:"mtu"` // 0: read from the interface
	// PartialChecksums: what to do with a received inner packet whose
	// TCP/UDP checksum holds only the pseudo-header sum (see
	// dataplane.Config.DropPartialChecksums). Default accept.
	PartialChecksums PartialChecksums `yaml:"partialChecksums"`
}

// TUN configures the pod-side TUN device.
type TUN struct {
	Name string `yaml:"name"` // default podfwd0
}

// Offloads switch each offload on or off; all default to on. Some kernels
// and NICs break them, so each can be turned off alone.
type Offloads struct {
	TUNVnetHdr *bool `yaml:"tunVnetHdr"` // TSO/checksum offload on the TUN (GSO split, GRO coalesce)
	UDPGSO     *bool `yaml:"udpGSO"`
	UDPGRO     *bool `yaml:"udpGRO"`
	// TunnelGSO sends each pod's TCP super-packet whole, encapsulated, for
	// the kernel to segment (UDP-tunnel GSO through a TAP; tun io, VXLAN or
	// Geneve, IPv4 underlay). Where the kernel or host refuses it, podfwd
	// splits super-packets itself, as with it off.
	TunnelGSO *bool `yaml:"tunnelGSO"`
}

// Peer is a statically configured remote node.
type Peer struct {
	Name     string `yaml:"name"`
	Underlay string `yaml:"underlay"`
	// Underlay6 is the peer's IPv6 underlay address, used for native
	// routing of IPv6 pod CIDRs; optional.
	Underlay6 string   `yaml:"underlay6"`
	VTEPMAC   string   `yaml:"vtepMAC"`
	PodCIDRs  []string `yaml:"podCIDRs"`
}

// ErrConfig wraps every configuration error; the message names the field.
var ErrConfig = errors.New("config")

// FieldError is a configuration error about field: it wraps ErrConfig and
// reads "config: FIELD: MESSAGE".
func FieldError(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrConfig, field, fmt.Sprintf(format, args...))
}

// LoadFile reads and strictly decodes a config file: unknown fields are
// errors, so a typo never silently falls back to a default.
func LoadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return ParseFile(data)
}

// ParseFile decodes a config from YAML bytes and applies defaults.
func ParseFile(data []byte) (*File, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if f.IO == "" {
		f.IO = IOTUN
	}
	if f.Encap == "" {
		f.Encap = EncapVXLAN
	}
	if f.TUN.Name == "" {
		f.TUN.Name = "podfwd0"
	}
	if f.Admin.Socket == "" {
		f.Admin.Socket = DefaultAdminSocket
	}
	if f.Admin.MetricsAddress == "" {
		f.Admin.MetricsAddress = DefaultMetricsAddress
	}
	if f.NodeName == "" {
		f.NodeName = os.Getenv("NODE_NAME")
	}
	return &f, nil
}

// On reports whether an optional switch is on (nil means the default, on).
func On(b *bool) bool { return b == nil || *b }

func parsePrefixes(field string, in []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(in))
	for i, s := range in {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			return nil, FieldError(fmt.Sprintf("%s[%d]", field, i), "%q is not a CIDR: %v", s, err)
		}
		if p != p.Masked() {
			return nil, FieldError(fmt.Sprintf("%s[%d]", field, i), "%s has host bits set (did you mean %s?)", p, p.Masked())
		}
		out = append(out, p)
	}
	return out, nil
}

// ParseMAC parses an Ethernet MAC address; the error names field.
func ParseMAC(field, s string) ([6]byte, error) {
	var mac [6]byte
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		return mac, FieldError(field, "%q is not an Ethernet MAC address", s)
	}
	copy(mac[:], hw)
	return mac, nil
}

// VTEPMACFor derives a stable, locally administered VTEP MAC from an
// underlay address, so statically configured peers need not list MACs.
func VTEPMACFor(a netip.Addr) [6]byte {
	b := a.As16()
	return [6]byte{0x0e, 0x70, b[12], b[13], b[14], b[15]}
}
