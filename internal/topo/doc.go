// Package topo builds a whole pod network on one machine out of network
// namespaces, for podfwd's end-to-end tests, `make demo` and `podfwd bench`.
//
// One namespace, <prefix>-ul, holds the underlay: a Linux bridge standing in
// for the physical network. Each node is a namespace <prefix>-nK whose eth0
// (10.99.0.K/24, fd99::K/64) is a veth plugged into that bridge. Each pod is a
// namespace <prefix>-nKpJ whose eth0 (10.244.K.(10+J), fd00:244:K::(10+J)) is
// a veth plugged into the node's bridge cni0 (10.244.K.1/24, fd00:244:K::1/64),
// as the CNI bridge plugin would do. Numbers K and 10+J are the values of the
// last byte (IPv4) or of the group (IPv6), so node 10 owns fd00:244:a::/64.
//
// The cross-node path is left to the caller (podfwd programs it), or is
// programmed per node by the kernel itself as a reference peer: host-gw
// routes (KernelNative) or a flannel-style VXLAN device (KernelVXLAN).
//
// Nothing is ever created in the caller's own namespace: veth pairs are
// created directly inside their namespaces. Close removes everything; Sweep
// removes what crashed runs left behind.
package topo
