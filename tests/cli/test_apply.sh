# SPDX-License-Identifier: Apache-2.0
# `mseg apply` through msegd with large files: they travel deflated (tools/cmd_apply.c), are
# read by the fast YAML reader or libyaml, stored and compared as text. msegd runs in a node
# namespace of its own (tests/netns/lib.sh) with the bpf datapath and no endpoint, so nothing
# is attached anywhere; root only.

# ap_node: node "a" with msegd, or skip.
ap_node() {
	[ "$(id -u)" = 0 ] || { skip "msegd needs root"; return; }
	node_create a || return 1
	agent_start a --datapath bpf --pod-cidr 10.203.0.0/24 || return 1
	mseg_on a namespace create bench >/dev/null || return 1
}

# ap_policy N FILE [PORT]: a NetworkPolicy with N ipBlock rules (N x 2 lines, > 64 KB from
# about 1,000 rules), and a comment with quotes and a backslash for the stored text.
ap_policy() {
	{
		echo '# "big" policy \ generated'
		echo 'apiVersion: networking.k8s.io/v1'
		echo 'kind: NetworkPolicy'
		echo 'metadata: {name: big, namespace: bench}'
		echo 'spec:'
		echo '  podSelector: {matchLabels: {app: dst}}'
		echo '  ingress:'
		awk -v n="$1" -v p="${3:-5001}" 'BEGIN { for (i = 0; i < n; i++)
			printf "    - from: [{ipBlock: {cidr: 10.64.%d.%d/32}}]\n      ports: [{protocol: UDP, port: %d}]\n",
				int(i / 256), i % 256, p }'
	} >"$2"
}

ap_rules() {
	mseg_on a get policies -o json | jq -r '.[] | select(.name == "big") | .ingress_rules'
}

test_apply_large_file_created_unchanged_configured() {
	local f=$MT_DIR/big.yaml out
	ap_node || return $?
	ap_policy 3000 "$f"
	[ "$(stat -c %s "$f")" -gt 65536 ] || fail "the file is too small to be deflated" || return 1
	out=$(mseg_on a apply --timings -f "$f") || fail "apply failed: $out" || return 1
	case $out in
	*"networkpolicy bench/big created"*"parse_ms="*"save_ms="*"compile_ms="*"apply_ms="*"total_ms="*) ;;
	*) fail "unexpected apply output: $out" || return 1 ;;
	esac
	[ "$(ap_rules)" = 3000 ] || fail "msegd holds $(ap_rules) rules, not 3000" || return 1
	expect_output_contains "same file" "networkpolicy bench/big unchanged" \
		mseg_on a apply -f "$f" || return 1
	sed -i '0,/cidr: 10\.64\.0\.7\/32/s//cidr: 10.99.0.7\/32/' "$f"
	expect_output_contains "one rule changed" "networkpolicy bench/big configured" \
		mseg_on a apply -f "$f" || return 1
	# what msegd stored is the file, byte for byte
	mseg_on a get policies -o json | jq -e '.[] | select(.name == "big")' >/dev/null ||
		fail "policy gone" || return 1
	agent_kill a
	agent_start a --datapath bpf --pod-cidr 10.203.0.0/24 || return 1
	[ "$(ap_rules)" = 3000 ] || fail "after a restart msegd holds $(ap_rules) rules" || return 1
	expect_output_contains "stored text equals the file" "networkpolicy bench/big unchanged" \
		mseg_on a apply -f "$f" || return 1
}

# Errors in a large (deflated) file carry the same file:line:column as `mseg policy check`.
test_apply_large_file_errors_located() {
	local f=$MT_DIR/bad.yaml want got
	ap_node || return $?
	ap_policy 2000 "$f"
	sed -i '3001s/port: 5001/port: 0/; 1500s/10\.64/10.640/' "$f"
	want=$("$MSEG" policy check -f "$f" 2>&1 | grep "^$f:")
	[ "$(printf '%s\n' "$want" | grep -c .)" = 2 ] || fail "policy check: $want" || return 1
	got=$(mseg_on a apply -f "$f" 2>&1) && fail "apply of a bad file succeeded" && return 1
	[ "$(printf '%s\n' "$got" | grep "^$f:")" = "$want" ] ||
		fail "apply says: $got; policy check says: $want" || return 1
	[ -z "$(ap_rules)" ] || fail "a bad file changed the policies" || return 1
}
