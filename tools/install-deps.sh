#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Installs every Debian package mseg needs to build, test, demo and benchmark.
# Idempotent and quiet: when everything is present it asks apt nothing at all.
set -eu

PACKAGES="
build-essential pkg-config clang llvm bpftool
libbpf-dev libelf-dev zlib1g-dev libnftnl-dev libmnl-dev libjansson-dev libcmocka-dev
libyaml-dev libcurl4-openssl-dev libmicrohttpd-dev libpcap-dev libgraphviz-dev graphviz
iproute2 nftables iptables iputils-ping tcpdump socat netcat-openbsd iperf3 gnuplot-nox jq
etcd-server etcd-client containernetworking-plugins curl python3-yaml
"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "mseg: missing packages:$missing (run 'make deps' as root)" >&2
	exit 1
fi
echo "  DEPS    installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
