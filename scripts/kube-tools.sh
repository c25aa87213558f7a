#!/usr/bin/env bash
# Builds the third-party programs podfwd's Kubernetes tests run — kube-apiserver,
# kubectl, etcd and the CNI reference plugins bridge, host-local, loopback —
# from the versions pinned in tools/go.mod, into a cache outside the checkout.
#
# A cold build takes many minutes on two cores, so each program set lives in
# ${PODFWD_TOOLS_CACHE:-/var/cache/podfwd-tools}/<name>-<version>/ with a stamp
# of (version, Go version, tools/go.sum hash); a warm run only checks stamps.
#
# Usage: scripts/kube-tools.sh          ensure, then print the cache dir
#        scripts/kube-tools.sh --env    ensure, then print NAME=path lines
#                                       (KUBE_APISERVER, KUBECTL, ETCD, CNI_PATH)
# Debian's kubernetes-client is 1.20, too far from a 1.37 apiserver for the
# supported version skew, so kubectl is built here at the apiserver's version.
set -euo pipefail
trap 'echo "kube-tools: FAILED at line $LINENO (exit $?)" >&2' ERR

mode=${1:-}
case "$mode" in "" | --env) ;; *) echo "kube-tools: unknown argument $mode" >&2; exit 2 ;; esac

root=$(cd "$(dirname "$0")/.." && pwd)
tools=$root/tools
cache=${PODFWD_TOOLS_CACHE:-/var/cache/podfwd-tools}
mkdir -p "$cache"

# One builder at a time: parallel `go test` packages may all ask at once.
exec 9>"$cache/.lock"
flock 9

# An exported GOFLAGS replaces `go env -w GOFLAGS`, so say everything here.
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-trimpath -buildvcs=false"
export CGO_ENABLED=0

modver() { (cd "$tools" && go list -m -f '{{.Version}}' "$1"); }
sum=$(cat "$tools/go.mod" "$tools/go.sum" | sha256sum | cut -c1-16)
gover=$(go env GOVERSION)

# ensure NAME VERSION PKG... builds every PKG into $cache/NAME-VERSION/ unless
# the stamp there already matches.
ensure() {
  local name=$1 version=$2; shift 2
  local dir=$cache/$name-$version
  local stamp="$version $gover $sum"
  if [ -f "$dir/.stamp" ] && [ "$(cat "$dir/.stamp")" = "$stamp" ]; then
    return 0
  fi
  echo "kube-tools: building $name $version into $dir (slow when cold)" >&2
  local tmp=$dir.tmp.$$
  rm -rf "$tmp"
  mkdir -p "$tmp"
  local start=$SECONDS
  if ! (cd "$tools" && nice -n 10 go build -o "$tmp/" "$@"); then
    rm -rf "$tmp"
    echo "kube-tools: FAILED to build $name $version ($*)" >&2
    exit 1
  fi
  echo "$stamp" >"$tmp/.stamp"
  rm -rf "$dir"
  mv "$tmp" "$dir"
  echo "kube-tools: built $name $version in $((SECONDS - start))s" >&2
}

k8s=$(modver k8s.io/kubernetes)
etcd=$(modver go.etcd.io/etcd/server/v3)
cni=$(modver github.com/containernetworking/plugins)

ensure etcd "$etcd" ./cmd/etcd
ensure cni-plugins "$cni" \
  github.com/containernetworking/plugins/plugins/main/bridge \
  github.com/containernetworking/plugins/plugins/ipam/host-local \
  github.com/containernetworking/plugins/plugins/main/loopback
ensure kube-apiserver "$k8s" k8s.io/kubernetes/cmd/kube-apiserver
ensure kubectl "$k8s" k8s.io/kubernetes/cmd/kubectl

for f in "etcd-$etcd/etcd" "cni-plugins-$cni/bridge" "cni-plugins-$cni/host-local" \
  "cni-plugins-$cni/loopback" "kube-apiserver-$k8s/kube-apiserver" "kubectl-$k8s/kubectl"; do
  if [ ! -x "$cache/$f" ]; then
    echo "kube-tools: $cache/$f missing after build" >&2
    exit 1
  fi
done

if [ "$mode" = --env ]; then
  echo "KUBE_APISERVER=$cache/kube-apiserver-$k8s/kube-apiserver"
  echo "KUBECTL=$cache/kubectl-$k8s/kubectl"
  echo "ETCD=$cache/etcd-$etcd/etcd"
  echo "CNI_PATH=$cache/cni-plugins-$cni"
else
  echo "$cache"
fi
