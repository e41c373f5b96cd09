# SPDX-License-Identifier: Apache-2.0
# msegd clusters (issue 7): three node namespaces on an underlay with etcd, an agent on each
# with --store etcd. Cross-node connectivity and enforcement (policy applied on one node,
# enforced on the others, with the source identity of a remote packet), propagation time,
# node failure and rejoin, etcd restart, concurrent identity allocation, and the underlay
# filter. Both backends where cheap.
source "$MSEG_TOP/tests/netns/cluster_lib.sh"

CL_POLICY_DIR=$MT_DIR/policies

cl_ready() {
	command -v etcd >/dev/null || { skip "etcd not installed"; return 77; }
	command -v jq >/dev/null || { skip "jq not installed"; return 77; }
	mkdir -p "$CL_POLICY_DIR" || return 1
	cluster_up 3 "$@"
}

# cl_wait_ns NODE NS: NODE's agent knows namespace NS (created elsewhere).
cl_has_ns() { mseg_on "$1" namespace ls -o json 2>/dev/null | jq -e --arg n "$2" \
	'.[] | select(.name == $n)' >/dev/null; }

# cl_remote_count NODE: remote endpoints NODE's agent knows.
cl_remote_count() { mseg_on "$1" status -o json | jq -r .endpoints.remote; }
cl_remote_is() { [ "$(cl_remote_count "$1")" = "$2" ]; }

# The story: prod on three nodes. web2 on n2 and web3 on n3 serve TCP 80; client and other
# run on n1. The policy (applied on n1) lets only app=client reach app=web: n2 and n3 must know
# that a packet from 10.200.1.x comes from client's identity, learnt through etcd.
cl_story() {
	mseg_on n1 namespace create prod -l env=prod >/dev/null || return 1
	wait_for 5 cl_has_ns n2 prod || fail "n2 never saw namespace prod" || return 1
	wait_for 5 cl_has_ns n3 prod || fail "n3 never saw namespace prod" || return 1
	mseg_on n1 run -d --name client --namespace prod -l app=client >/dev/null || return 1
	mseg_on n1 run -d --name other --namespace prod -l app=other >/dev/null || return 1
	mseg_on n2 run -d --name web2 --namespace prod -l app=web --port http:80/TCP \
		>/dev/null || return 1
	mseg_on n3 run -d --name web3 --namespace prod -l app=web --port http:80/TCP \
		>/dev/null || return 1
	WEB2=$(cluster_ep_field n2 prod/web2 ip) && [ -n "$WEB2" ] || fail "web2: no IP" || return 1
	WEB3=$(cluster_ep_field n3 prod/web3 ip) && [ -n "$WEB3" ] || fail "web3: no IP" || return 1
	cluster_serve n2 prod/web2 80 || return 1
	cluster_serve n3 prod/web3 80 || return 1
	wait_for 5 cl_remote_is n1 2 || fail "n1 does not see web2 and web3" || return 1
	wait_for 5 cl_remote_is n2 3 || fail "n2 does not see 3 remote endpoints" || return 1
	wait_for 5 cl_remote_is n3 3 || fail "n3 does not see 3 remote endpoints" || return 1
}

cl_blocked() { ! cluster_tcp "$@" 0.3; }

cl_policy_web() {
	cat >"$CL_POLICY_DIR/web.yaml" <<'P'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-from-client, namespace: prod}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: client}}}]
    ports: [{port: 80, protocol: TCP}]
P
	echo "$CL_POLICY_DIR/web.yaml"
}

cl_expect() { # DESC allow|deny NODE NS/NAME ADDR PORT
	local desc=$1 want=$2
	shift 2
	if cluster_tcp "$@"; then
		[ "$want" = allow ] || fail "$desc: passed, but policy denies it"
	else
		[ "$want" = deny ] || fail "$desc: blocked, but policy allows it"
	fi
}

cl_enforce() {
	local f out
	cl_ready --datapath "$1" || return $?
	cl_story || return 1
	# the overlay: MTU underlay - 50 in the container too
	expect_output_contains "container mtu" "mtu $((CLUSTER_UL_MTU - 50))" \
		ip -n "$MT-n1-prod_client" link show eth0 || return 1
	expect_output_contains "vxlan route" "10.200.2.0/24 via 10.200.2.0 dev mseg_vxlan" \
		ip -n "$MT-n1" route || return 1
	for n in n1 n2 n3; do
		out=$(mseg_on "$n" node ls -o json) || return 1
		[ "$(jq '[.[] | select(.alive)] | length' <<<"$out")" = 3 ] ||
			fail "$n: node ls: $out" || return 1
	done
	cl_expect "no policy: other(n1) -> web2(n2)" allow n1 prod/other "$WEB2" 80 || return 1
	cl_expect "no policy: client(n1) -> web3(n3)" allow n1 prod/client "$WEB3" 80 || return 1
	f=$(cl_policy_web)
	out=$(mseg_on n1 apply -f "$f") || fail "apply: $out" || return 1
	wait_for 5 cl_blocked n1 prod/other "$WEB2" 80 || true
	cl_expect "policy: client(n1) -> web2(n2)" allow n1 prod/client "$WEB2" 80 || return 1
	cl_expect "policy: client(n1) -> web3(n3)" allow n1 prod/client "$WEB3" 80 || return 1
	cl_expect "policy: other(n1) -> web2(n2)" deny n1 prod/other "$WEB2" 80 || return 1
	cl_expect "policy: other(n1) -> web3(n3)" deny n1 prod/other "$WEB3" 80 || return 1
	expect_output_contains "n3 lists the policy" "web-from-client" mseg_on n3 get policies ||
		return 1
	out=$(mseg_on n2 delete policy prod/web-from-client) ||
		fail "delete on n2: $out" || return 1
	sleep 1
	cl_expect "deleted on n2: other(n1) -> web3(n3)" allow n1 prod/other "$WEB3" 80 || return 1
}
test_cluster_enforce_bpf() { cl_enforce bpf; }
test_cluster_enforce_nft() { cl_enforce nft; }
