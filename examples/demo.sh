#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The mseg demo: a throwaway node namespace with msegd, namespaces prod and dev, three services
# in each, and their connectivity. Nothing outside namespaces made here is touched, and all of
# it is removed at the end (KEEP=1 keeps it to explore; the last lines say how to remove it).
# Run through `make demo` (which builds first) or directly after `make`.
set -u
here=$(cd "$(dirname "$0")" && pwd)
export MT=${MT:-demo$$}
export MT_DIR=/run/mseg-test/$MT
# shellcheck source=../tests/netns/lib.sh
source "$here/../tests/netns/lib.sh"

if [ "$(id -u)" != 0 ]; then
	echo "demo: needs root (it creates network namespaces)" >&2
	exit 1
fi
for b in "$MSEGD" "$MSEG"; do
	[ -x "$b" ] || { echo "demo: $b is missing: run 'make' first" >&2; exit 1; }
done
if [ "${KEEP:-0}" != 1 ]; then
	# A clean SIGTERM first (the harness would SIGKILL), then everything the run made.
	trap 'agent_kill node; harness_cleanup; rmdir /run/mseg-test 2>/dev/null' EXIT
fi

bold= off=
if [ -t 1 ]; then
	bold=$(tput bold 2>/dev/null || true)
	off=$(tput sgr0 2>/dev/null || true)
fi
say() { printf '\n%s==> %s%s\n' "$bold" "$*" "$off"; }
show() {
	printf '%s$ mseg %s%s\n' "$bold" "$*" "$off"
	mseg_on node "$@"
}
die() {
	echo "demo: $*" >&2
	agent_log node | tail -n 20 >&2
	exit 1
}

say "A node: network namespace '$MT-node', with msegd running inside it"
node_create node || die "cannot create the node namespace"
agent_start node || die "msegd did not start"
echo "msegd: state in $MT_DIR/node/state, socket $(node_socket node)"

say "Two namespaces, labelled by environment"
show namespace create prod -l env=prod >/dev/null || die "namespace create prod"
show namespace create dev -l env=dev >/dev/null || die "namespace create dev"
show namespace ls

say "web, api and db in each: every container gets its own network namespace and a /32"
for ns in prod dev; do
	show run -d --namespace "$ns" --name web -l app=web --port http:80/TCP || die "run $ns/web"
	show run -d --namespace "$ns" --name api -l app=api --port http:8080/TCP || die "run $ns/api"
	show run -d --namespace "$ns" --name db -l app=db --port pg:5432/TCP || die "run $ns/db"
done
show ps

ip_of() {
	mseg_on node ps -o json | jq -r --arg ns "${1%/*}" --arg n "${1#*/}" \
		'.[] | select(.namespace == $ns and .name == $n) | .ip'
}

say "Connectivity on the routed veth network (no policy yet: everything may talk)"
for pair in prod/web:prod/api prod/api:prod/db dev/web:dev/db dev/api:prod/db; do
	src=${pair%%:*} dst=${pair#*:}
	dst_ip=$(ip_of "$dst")
	if mseg_on node exec "$src" -- ping -c1 -W1 -q "$dst_ip" >/dev/null 2>&1; then
		printf '  %-9s -> %-9s (%s)  reachable\n' "$src" "$dst" "$dst_ip"
	else
		die "$src cannot reach $dst ($dst_ip)"
	fi
done
echo "  (dev/api reaching prod/db is exactly what policies will forbid in the next step)"

say "A TCP service: db listens on 5432 in prod, api connects"
db_ip=$(ip_of prod/db)
mseg_on node exec prod/db -- sh -c 'exec socat -T2 TCP-LISTEN:5432,reuseaddr SYSTEM:"echo hello from prod/db" </dev/null >/dev/null 2>&1 &'
wait_for 2 mseg_on node exec prod/db -- sh -c 'ss -ltn | grep -q :5432' || die "listener did not start"
show exec prod/api -- socat -T2 - "TCP:$db_ip:5432" </dev/null || die "api could not connect to db"

say "Removing a container frees its address, veth and route"
show rm dev/web
show ps -n dev

if [ "${KEEP:-0}" = 1 ]; then
	say "Kept. Explore with:"
	echo "  MSEG_SOCKET=$(node_socket node) ip netns exec $MT-node $MSEG ps"
	echo "  ip netns exec $MT-node ip route"
	echo "  MSEG_SOCKET=$(node_socket node) ip netns exec $MT-node $MSEG exec prod/web -- ip addr"
	echo "Tear down with:"
	echo "  MT=$MT bash -c 'source $MSEG_TOP/tests/netns/lib.sh; harness_cleanup'"
else
	say "Done: removing the node, its containers and msegd"
fi
