#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# How fast msegd puts a policy change into the datapath, on both backends: a NetworkPolicy of
# 10,000 TCP ports selecting one endpoint (10,000 table entries), then a change of all of them,
# then one new endpoint the policy selects (its 10,000 entries, then the attach) and one it
# does not select. Figures come from `msegd -v` (the reconcile's compile/apply times, the
# attach time). Root only; everything lives in "$MT-*" namespaces, removed on exit.
# Usage: tools/bench/enforce_apply.sh [bpf|nft]...
MSEG_TOP=$(cd "$(dirname "$0")/../.." && pwd)
export MT=${MT:-me$$}
export MT_DIR=/run/mseg-bench/$MT
source "$MSEG_TOP/tests/netns/lib.sh"
trap harness_cleanup EXIT
N=${N:-10000}

policy() { # policy FIRST: ports FIRST, FIRST+2, ... (N of them, never adjacent)
	echo "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: many-ports, namespace: prod}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - ports:"
	seq "$1" 2 $(($1 + 2 * N - 2)) | sed 's/.*/    - {port: &, protocol: TCP}/'
}

last() { grep "$1" "$MT_DIR/n1/msegd.log" | tail -n 1 | sed 's/.*\] //; s/^msegd[^ ]* //'; }

for backend in "${@:-bpf nft}"; do
	for backend in $backend; do
		node_create n1 && agent_start n1 --datapath "$backend" -v || exit 1
		mseg_on n1 namespace create prod >/dev/null
		mseg_on n1 run -d --name web -n prod -l app=web >/dev/null || exit 1
		policy 2 >"$MT_DIR/p1.yaml"
		policy 3 >"$MT_DIR/p2.yaml"
		t0=$EPOCHREALTIME
		mseg_on n1 apply -f "$MT_DIR/p1.yaml" >/dev/null || exit 1
		t1=$EPOCHREALTIME
		echo "$backend: apply $N rules (mseg apply end to end $(echo "($t1 - $t0) * 1000" | bc) ms):"
		echo "  $(last 'reconcile:')"
		mseg_on n1 apply -f "$MT_DIR/p2.yaml" >/dev/null || exit 1
		echo "$backend: change all $N rules (add $N, remove $N):"
		echo "  $(last 'reconcile:')"
		mseg_on n1 run -d --name web2 -n prod -l app=web >/dev/null || exit 1
		echo "$backend: new endpoint selected by the policy ($N entries of its own):"
		echo "  $(last 'reconcile:')"
		echo "  $(last 'attached')"
		mseg_on n1 run -d --name client -n prod -l app=client >/dev/null || exit 1
		echo "$backend: new endpoint not selected, $((2 * N)) entries in place:"
		echo "  $(last 'reconcile:')"
		echo "  $(last 'attached')"
		harness_cleanup
	done
done
