// Package kubetest runs a real kube-apiserver and etcd on loopback for tests,
// and invokes the real CNI reference plugins the way a kubelet's container
// runtime does.
//
// The programs are not Debian packages at a usable version, so
// scripts/kube-tools.sh builds them from the Go module proxy (versions pinned
// in tools/go.mod) into a cache outside the checkout; Tools asks that script
// for their paths, which is quick once the cache is warm.
//
// These tests need no root (except the CNI ones, which make namespaces), but
// each cluster costs seconds, so they skip under `go test -short`.
package kubetest
