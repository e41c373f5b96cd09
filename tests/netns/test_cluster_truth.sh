# SPDX-License-Identifier: Apache-2.0
# The truth tables across nodes (issue 7): three nodes on etcd, namespaces x, y and z with
# pod a on n1, b on n2 and c on n3, each case applied once with `mseg apply` on n1 (it
# reaches n2 and n3 through etcd) and every pair probed with real TCP and UDP packets, most
# of them crossing the VXLAN overlay, against the case's hand-written grid (tests/data). One
# cluster per backend serves every case (the previous case's policies are deleted in between).
source "$MSEG_TOP/tests/netns/cluster_lib.sh"
source "$MSEG_TOP/tests/netns/live_lib.sh"
source "$MSEG_TOP/tests/netns/cluster_truth_lib.sh"

# Named ports (TCP, UDP), endPort, ipBlock except (egress, and overlapping with a CIDR),
# namespace selectors, default deny, an egress deny beating an ingress allow, a deny rule and
# an admin ClusterPolicy.
CT_CASES=${CT_CASES:-"
k8s/03-default-deny-all
k8s/07-namespace-selector-other-namespace
k8s/13-pod-and-namespace-one-peer
k8s/18-named-port-ingress
k8s/23-client-egress-deny-beats-server-allow
k8s/25-protocol-only-udp
k8s/31-ipblock-except
k8s/32-ipblock-overlapping-except-and-cidr
k8s/37-end-port-range
k8s/42-named-port-udp
mseg/01-deny-beats-allow-same-policy
mseg/03-admin-deny-over-namespace-allow
"}

ct_run() {
	local c failed=0 n=0
	command -v etcd >/dev/null || { skip "etcd not installed"; return; }
	live_ready || return
	"$LIVE_PYTHON" -c 'import yaml' 2>/dev/null || { skip "python3-yaml not installed"; return; }
	cluster_up 3 --datapath "$1" || return 1
	ct_topology || return 1
	CT_GRIDS=0
	for c in $CT_CASES; do
		ct_case "$c" || failed=1
		n=$((n + 1))
	done
	echo "checked $CT_GRIDS grids of $n cases across 3 nodes ($1)"
	[ "$CT_GRIDS" -ge 10 ] || fail "only $CT_GRIDS grids checked"
	return $failed
}

test_cluster_truth_bpf() { ct_run bpf; }
test_cluster_truth_nft() { ct_run nft; }
