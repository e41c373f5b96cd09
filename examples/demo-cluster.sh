#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The mseg cluster demo: three node namespaces on an underlay namespace, etcd in the underlay,
# msegd on each node with --store etcd, the prod/dev story with services spread over the
# nodes, and cross-node flows allowed and blocked by policies applied on one node. Nothing
# outside namespaces made here is touched, and all of it is removed at the end (KEEP=1 keeps
# it). Run through `make demo-cluster` (which builds first) or directly after `make`.
set -u
here=$(cd "$(dirname "$0")" && pwd)
export MT=${MT:-dc$$}
export MT_DIR=/run/mseg-test/$MT
# shellcheck source=../tests/netns/lib.sh
source "$here/../tests/netns/lib.sh"
# shellcheck source=../tests/netns/cluster_lib.sh
source "$here/../tests/netns/cluster_lib.sh"

if [ "$(id -u)" != 0 ]; then
	echo "demo-cluster: needs root (it creates network namespaces)" >&2
	exit 1
fi
for b in "$MSEGD" "$MSEG" etcd jq socat; do
	command -v "$b" >/dev/null || [ -x "$b" ] || {
		echo "demo-cluster: $b is missing (make, tools/install-deps.sh)" >&2
		exit 1
	}
done
if [ "${KEEP:-0}" != 1 ]; then
	trap 'for n in n1 n2 n3; do agent_kill $n; done; cluster_etcd_stop; harness_cleanup;
	      rmdir /run/mseg-test 2>/dev/null' EXIT
fi
mkdir -p "$MT_DIR"

bold= off=
if [ -t 1 ]; then
	bold=$(tput bold 2>/dev/null || true)
	off=$(tput sgr0 2>/dev/null || true)
fi
say() { printf '\n%s==> %s%s\n' "$bold" "$*" "$off"; }
show() { # NODE ARGS...
	local n=$1
	shift
	printf '%s[%s] $ mseg %s%s\n' "$bold" "$n" "$*" "$off"
	mseg_on "$n" "$@"
}
die() {
	echo "demo-cluster: $*" >&2
	for n in n1 n2 n3; do agent_log "$n" | tail -n 5 >&2; done
	exit 1
}

say "Underlay 10.250.0.0/24, etcd at $ETCD_URL, three nodes each running msegd --store etcd"
cluster_up 3 || die "cluster did not start"
show n1 node ls

say "Namespaces made on n1 are seen by every node"
show n1 namespace create prod -l env=prod >/dev/null
show n1 namespace create dev -l env=dev >/dev/null
has_dev() { mseg_on n3 namespace ls | grep -q dev; }
cluster_wait 10 has_dev || die "n3 never saw namespace dev"

say "Services spread over the nodes: prod/web on n1, prod/db on n2, dev/api on n3, prod/api on n3"
mseg_on n1 run -d --name web --namespace prod -l app=web >/dev/null || die "run web"
mseg_on n2 run -d --name db --namespace prod -l app=db --port pg:5432/TCP >/dev/null || die "run db"
mseg_on n3 run -d --name api --namespace prod -l app=api >/dev/null || die "run prod/api"
mseg_on n3 run -d --name api --namespace dev -l app=api >/dev/null || die "run dev/api"
db_ip=$(cluster_ep_field n2 prod/db ip)
cluster_serve n2 prod/db 5432 || die "db server"
sees_3() { [ "$(cluster_status n2 .endpoints.remote)" = 3 ]; }
cluster_wait 10 sees_3 || die "n2 does not see the other nodes' endpoints"
show n2 status

flow() { # NODE NS/NAME -> prod/db
	if cluster_tcp "$1" "$2" "$db_ip" 5432 0.5; then
		printf '  %-9s (%s) -> prod/db (n2, %s:5432)  allowed\n' "$2" "$1" "$db_ip"
	else
		printf '  %-9s (%s) -> prod/db (n2, %s:5432)  BLOCKED\n' "$2" "$1" "$db_ip"
	fi
}
flows() {
	flow n3 prod/api
	flow n3 dev/api
	flow n1 prod/web
}

say "No policy yet: every cross-node flow to prod/db passes through the VXLAN overlay"
flows

say "On n1: dev may never reach prod (admin ClusterPolicy), db only from api (NetworkPolicy)"
cat >"$MT_DIR/policies.yaml" <<'P'
apiVersion: mseg.io/v1
kind: ClusterPolicy
metadata: {name: dev-never-prod}
spec:
  tier: admin
  priority: 10
  subject: {namespaceSelector: {matchLabels: {env: prod}}}
  ingress:
  - action: deny
    from: [{namespaceSelector: {matchLabels: {env: dev}}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-api, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: api}}}]
    ports: [{port: 5432, protocol: TCP}]
P
show n1 apply -f "$MT_DIR/policies.yaml" || die "apply failed"
sleep 1
say "Enforced on n2 (db's node), with the identities of sources on n1 and n3 learnt from etcd"
flows
show n3 get policies
say "The cluster's reachability on 5432/tcp as n3 computes it (every node's containers)"
show n3 policy matrix --port 5432/tcp

say "Deleting the NetworkPolicy on n3: prod/web may reach db again, dev stays blocked"
show n3 delete policy prod/db-from-api
sleep 1
flows

if [ "${KEEP:-0}" = 1 ]; then
	say "Kept. Explore with:"
	echo "  MSEG_SOCKET=$(node_socket n1) ip netns exec $MT-n1 $MSEG node ls"
	echo "Tear down with:"
	echo "  MT=$MT bash -c 'source $MSEG_TOP/tests/netns/lib.sh; harness_cleanup'"
else
	say "Done: removing nodes, containers, agents and etcd"
fi
