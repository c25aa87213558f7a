package lpm

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"net/netip"
)

// podTable is a pod-CIDR routing table as podfwd holds it: one /24 (IPv4) or
// /64 (IPv6) per node, drawn without repeats from a cluster range, plus the
// few covering routes a node has (the cluster range itself, a service range,
// the node subnet, a default).
type podTable struct {
	ps    []netip.Prefix
	vs    []uint32
	nodes []netip.Prefix // the per-node pod CIDRs (a subset of ps)
}

// genPod4 returns a table for n nodes. The cluster range is the smallest
// /16../8 that holds n /24s (a /16 holds 256, so 1000 nodes take a /14 and
// 5000 a /11), as kube-controller-manager's --cluster-cidr would be sized.
func genPod4(n int, seed uint64) podTable {
	r := rand.New(rand.NewPCG(seed, 40))
	hostBits := max(8, bits.Len(uint(n-1))) // /24 index bits
	clusterLen := 24 - hostBits
	cluster := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, 0, 0}), clusterLen)
	if clusterLen >= 16 {
		cluster = netip.MustParsePrefix("10.244.0.0/16")
	}
	base := binary.BigEndian.Uint32(cluster.Addr().AsSlice())
	var t podTable
	for i, slot := range r.Perm(1 << hostBits)[:n] {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], base|uint32(slot)<<8)
		t.addNode(netip.PrefixFrom(netip.AddrFrom4(b), 24), i)
	}
	t.addCovering("0.0.0.0/0", cluster.String(), "192.168.0.0/16", "172.20.0.0/16")
	return t
}

// addNode adds the pod CIDR of node i (value i+1).
func (t *podTable) addNode(p netip.Prefix, i int) {
	t.nodes = append(t.nodes, p)
	t.ps = append(t.ps, p)
	t.vs = append(t.vs, uint32(i+1))
}

// addCovering adds covering routes after the nodes, each its own value.
func (t *podTable) addCovering(prefixes ...string) {
	n := len(t.nodes)
	for i, s := range prefixes {
		t.ps = append(t.ps, netip.MustParsePrefix(s))
		t.vs = append(t.vs, uint32(n+1+i))
	}
}

// genPod6 is genPod4 for IPv6: one /64 per node from fd00:10:244::/48 (65536
// /64s), with the /48, a ULA /8 and a default as covering routes.
func genPod6(n int, seed uint64) podTable {
	r := rand.New(rand.NewPCG(seed, 60))
	cluster := netip.MustParsePrefix("fd00:10:244::/48")
	b := cluster.Addr().As16()
	var t podTable
	for i, slot := range r.Perm(1 << 16)[:n] {
		binary.BigEndian.PutUint16(b[6:8], uint16(slot))
		t.addNode(netip.PrefixFrom(netip.AddrFrom16(b), 64), i)
	}
	t.addCovering("::/0", cluster.String(), "fd00::/8", "fd00:10:96::/112")
	return t
}

// podProbe draws a probe: 90% inside a random node's pod CIDR, the rest
// anywhere (IPv4) or anywhere in fd00::/8 and 2000::/3 (IPv6).
func podProbe(r *rand.Rand, t podTable, v6 bool) netip.Addr {
	if r.IntN(10) != 0 {
		return randInside(r, t.nodes[r.IntN(len(t.nodes))])
	}
	if !v6 {
		return randAddr4(r)
	}
	if r.IntN(2) == 0 {
		return randInside(r, netip.MustParsePrefix("fd00::/8"))
	}
	return randAddr6(r)
}
