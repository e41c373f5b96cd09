#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The mseg demo: a throwaway node namespace with msegd, namespaces prod and dev with web, api
# and db each, the policies that keep dev out of prod and let only web -> api -> db through,
# the reachability matrix from real packets, the blocked-traffic log naming the deciding
# policy, and the service map. Nothing outside namespaces made here is touched, and all of
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
# --flows new: allowed connections are reported too, so the service map shows both colours
agent_start node --flows new || die "msegd did not start"
echo "msegd: state in $MT_DIR/node/state, socket $(node_socket node)"

say "Two namespaces, prod and dev, labelled by environment"
show namespace create prod -l env=prod >/dev/null || die "namespace create prod"
show namespace create dev -l env=dev >/dev/null || die "namespace create dev"

say "web, api and db in each: every container gets its own network namespace and a /32"
for ns in prod dev; do
	mseg_on node run -d --namespace "$ns" --name web -l app=web --port http:80/TCP >/dev/null ||
		die "run $ns/web"
	mseg_on node run -d --namespace "$ns" --name api -l app=api --port http:8080/TCP >/dev/null ||
		die "run $ns/api"
	mseg_on node run -d --namespace "$ns" --name db -l app=db --port pg:5432/TCP >/dev/null ||
		die "run $ns/db"
done
show ps

say "The policies: dev may never reach prod (one admin ClusterPolicy, above everything), and in
    each namespace web may call api on 8080 and api may call db on 5432, nothing else"
sed -n '/^spec:/,$p' "$here/demo/cluster-policy.yaml" | sed 's/^/    /'
show apply -f "$here/demo" || die "apply"

say "What may talk to what, measured with real packets (rows: from, columns: to)"
show probe --port 8080/tcp || die "probe 8080"
show probe --port 5432/tcp || die "probe 5432"

ip_of() {
	mseg_on node ps -o json | jq -r --arg ns "${1%/*}" --arg n "${1#*/}" \
		'.[] | select(.namespace == $ns and .name == $n) | .ip'
}

say "prod/db serves on 5432; three clients try it"
db_ip=$(ip_of prod/db)
mseg_on node exec prod/db -- sh -c 'exec socat -T2 TCP-LISTEN:5432,reuseaddr,fork SYSTEM:"echo hello from prod/db" </dev/null >/dev/null 2>&1 &'
wait_for 2 mseg_on node exec prod/db -- sh -c 'ss -ltn | grep -q :5432' || die "listener did not start"
for src in prod/api dev/web prod/web; do
	if out=$(mseg_on node exec "$src" -- socat -T1 - "TCP:$db_ip:5432,connect-timeout=1" \
		</dev/null 2>/dev/null) && [ -n "$out" ]; then
		printf '  %-9s -> prod/db:5432  allowed  (%s)\n' "$src" "$out"
	else
		printf '  %-9s -> prod/db:5432  blocked\n' "$src"
	fi
done

say "Why was it blocked? The drops, each naming the policy that decided"
show observe --verdict dropped --to prod/db --port 5432/tcp --last 6

map=$MSEG_TOP/demo-map.svg
say "The service map: allowed flows green, blocked red"
if mseg_on node map -o svg >"$map" && [ -s "$map" ]; then
	echo "  written to $map (open it in a browser)"
else
	die "mseg map failed"
fi

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
