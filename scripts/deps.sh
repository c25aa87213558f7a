#!/usr/bin/env bash
# Installs the system tools podfwd's tests and demo use, only when missing,
# so a fresh machine needs nothing done by hand and a warm one pays nothing.
set -euo pipefail

need=()
command -v ip >/dev/null       || need+=(iproute2)
command -v tcpdump >/dev/null  || need+=(tcpdump)
command -v tshark >/dev/null   || need+=(tshark)
command -v iperf3 >/dev/null   || need+=(iperf3)
command -v traceroute >/dev/null || need+=(traceroute)
command -v ethtool >/dev/null  || need+=(ethtool)
command -v ping >/dev/null     || need+=(iputils-ping)
command -v nft >/dev/null      || need+=(nftables)
command -v containerd >/dev/null || need+=(containerd)
command -v runc >/dev/null     || need+=(runc)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing ${need[*]} and not root; install them or run as root" >&2
  exit 1
fi
echo "deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# tshark asks whether non-root users may capture; answer no, non-interactively.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
