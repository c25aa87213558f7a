//go:build tools

// Package tools pins the third-party programs podfwd's tests run: a real
// kube-apiserver, etcd and the CNI reference plugins. They are built by
// scripts/kube-tools.sh from the versions this module's go.mod records, so a
// version bump is one `go get` here and nothing in the root module changes.
package tools

import (
	_ "github.com/containernetworking/plugins/plugins/ipam/host-local"
	_ "github.com/containernetworking/plugins/plugins/main/bridge"
	_ "github.com/containernetworking/plugins/plugins/main/loopback"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
