# SPDX-License-Identifier: Apache-2.0
# The truth tables through the agent with real packets (issues 4 and 5): the topology of
# tests/data/topology.yaml built with `mseg namespace create` + `mseg run -d`, each case's
# policies applied with `mseg apply -f`, and `mseg probe -o json` compared with the case's
# hand-written grid (tests/data/README.md), on both backends. One topology per backend serves
# every case (the previous case's policies are deleted in between).
#
# LIVE_TRUTH_ALL=1 runs every case on the shared topology instead of the selection below.
source "$MSEG_TOP/tests/netns/live_lib.sh"

# The selection: every feature the issues name (named ports, endPort, ipBlock except, deny
# rules, admin ClusterPolicy, pass, ICMP echo) and the Kubernetes basics, TCP and UDP.
LIVE_TRUTH_CASES="
k8s/01-default-deny-ingress
k8s/03-default-deny-all
k8s/07-namespace-selector-other-namespace
k8s/13-pod-and-namespace-one-peer
k8s/16-numeric-port
k8s/18-named-port-ingress
k8s/20-named-port-egress
k8s/23-client-egress-deny-beats-server-allow
k8s/25-protocol-only-udp
k8s/31-ipblock-except
k8s/33-ipblock-ingress-except
k8s/37-end-port-range
k8s/42-named-port-udp
mseg/01-deny-beats-allow-same-policy
mseg/02-deny-beats-allow-across-policies
mseg/03-admin-deny-over-namespace-allow
mseg/04-admin-allow-over-isolation
mseg/05-pass-to-namespace-tier
mseg/13-icmp-echo-deny
mseg/15-policy-egress-deny-ipblock
mseg/20-admin-allow-over-policy-deny
"
# Cases for an agent started with --default-deny: their "--default-deny" blocks.
LIVE_TRUTH_DEFAULT_DENY_CASES="
mseg/10-baseline-under-default-deny
mseg/11-audit-never-denies
mseg/18-default-deny-with-namespace-policy
mseg/19-deny-only-policy-isolates
"

live_truth_cases() {
	local f
	if [ "${LIVE_TRUTH_ALL:-0}" = 1 ]; then
		for f in "$LIVE_DATA"/k8s/*.expect "$LIVE_DATA"/mseg/*.expect; do
			# a case with its own topology needs other containers: not on this one
			grep -q '^endpoints ' "$f" && continue
			f=${f#"$LIVE_DATA"/}
			echo "${f%.expect}"
		done
	else
		echo "$1"
	fi
}

# live_block_probeable BLOCK: what the probe can send: TCP, UDP, ICMP echo requests, and SCTP
# when the kernel has it loaded (this one is built without it; test_live_probe checks that
# the probe says so).
live_block_probeable() {
	case ${1%% *} in
	*/tcp | */udp | 8/icmp | 8:0/icmp) return 0 ;;
	*/sctp) [ -d /proc/sys/net/sctp ] ;;
	*) return 1 ;;
	esac
}

# live_probe_block BLOCK CASE EXPECT: one probe of the block, compared with the grid. A
# mismatch made only of expected-allowed pairs that timed out is probed once more with a
# long timeout (a loaded machine can be slow); a wrong "allowed" fails at once.
live_probe_block() {
	local block=$1 case=$2 expect=$3 pp=${1%% *}
	live_mseg probe --port "$pp" -o json >"$MT_DIR/got" || return 1
	live_compare "$block" "$expect" "$MT_DIR/got" >"$MT_DIR/diff" && return 0
	if ! grep -q 'expected denied' "$MT_DIR/diff"; then
		live_mseg probe --port "$pp" --timeout 3000 -o json >"$MT_DIR/got" || return 1
		live_compare "$block" "$expect" "$MT_DIR/got" >"$MT_DIR/diff" && return 0
	fi
	echo "case $case:" >&2
	cat "$MT_DIR/diff" >&2
	return 1
}

# live_truth_run CASES BLOCK_ARGS [MSEGD ARGS...]: the cases' blocks whose extra arguments are
# BLOCK_ARGS ("" or "--default-deny") on one agent.
live_truth_run() {
	local cases=$1 want_args=$2
	shift 2
	live_ready || return
	live_enforcing || return
	live_node "$@" || return 1
	live_topology || return 1
	local c yaml expect block args failed=0 n=0 ncase=0
	for c in $(live_truth_cases "$cases"); do
		yaml=$LIVE_DATA/$c.yaml
		expect=$LIVE_DATA/$c.expect
		live_policies_clear || return 1
		live_rewrite_cidrs "$yaml" >"$MT_DIR/case.yaml" || return 1
		live_mseg apply -f "$MT_DIR/case.yaml" >"$MT_DIR/apply.out" 2>&1 ||
			{ fail "case $c: apply failed: $(cat "$MT_DIR/apply.out")"; return 1; }
		ncase=$((ncase + 1))
		while read -r block; do
			args=${block#* }
			[ "$args" = "$block" ] && args=
			[ "$args" = "$want_args" ] || continue
			live_block_probeable "$block" || continue
			n=$((n + 1))
			live_probe_block "$block" "$c" "$expect" || failed=1
		done < <(live_expect_blocks "$expect")
	done
	echo "checked $n grids of $ncase cases"
	[ $n -ge 1 ] || fail "no grid was checked"
	return $failed
}

test_live_truth_tables_bpf() {
	live_truth_run "$LIVE_TRUTH_CASES" "" --datapath bpf
}

test_live_truth_tables_nft() {
	live_truth_run "$LIVE_TRUTH_CASES" "" --datapath nft
}

test_live_truth_tables_default_deny_bpf() {
	live_truth_run "$LIVE_TRUTH_DEFAULT_DENY_CASES" "--default-deny" --datapath bpf --default-deny
}

test_live_truth_tables_default_deny_nft() {
	live_truth_run "$LIVE_TRUTH_DEFAULT_DENY_CASES" "--default-deny" --datapath nft --default-deny
}
