# SPDX-License-Identifier: Apache-2.0
# The nft backend with real packets: enforcement of the basic shapes, conntrack replies, a
# policy change cutting an established connection, anti-spoofing, NFLOG events, a readable
# table, adoption by a second run and purge.
source "$MSEG_TOP/tests/netns/test_nft_helpers.sh"

# Four endpoints: prod/web (named port "http" = 81/TCP), prod/db, prod/cache, dev/tool.
nft_basic_files() {
	cat >"$MT_DIR/topo.yaml" <<'EOF'
namespaces:
  - {name: prod, labels: {env: prod}}
  - {name: dev, labels: {env: dev}}
endpoints:
  - namespace: prod
    name: web
    labels: {app: web}
    ip: 10.210.0.10
    ports:
      - {name: http, port: 81, protocol: TCP}
  - namespace: prod
    name: db
    labels: {app: db}
    ip: 10.210.0.11
  - namespace: prod
    name: cache
    labels: {app: cache}
    ip: 10.210.0.12
  - namespace: dev
    name: tool
    labels: {app: tool}
    ip: 10.210.1.10
EOF
	# web admits app=db on its named port "http" and app=cache on the range 79-80;
	# dev/tool is denied everything leaving it to prod by an mseg Policy deny rule, and
	# may reach anything else (its own namespace has no isolating policy).
	cat >"$MT_DIR/web.yaml" <<'EOF'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-in, namespace: prod}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress:
    - from: [{podSelector: {matchLabels: {app: db}}}]
      ports: [{port: http}]
    - from: [{podSelector: {matchLabels: {app: cache}}}]
      ports: [{port: 79, endPort: 80, protocol: TCP}]
---
apiVersion: mseg.io/v1
kind: Policy
metadata: {name: tool-no-prod, namespace: dev}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
    - action: deny
      to: [{namespaceSelector: {matchLabels: {env: prod}}}]
    - action: allow
EOF
	# prod is default-deny for ingress except what web-in says
	cat >"$MT_DIR/deny-all.yaml" <<'EOF'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: prod}
spec:
  podSelector: {}
  policyTypes: [Ingress]
EOF
	cat >"$MT_DIR/empty.yaml" <<'EOF'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: nothing, namespace: other}
spec:
  podSelector: {matchLabels: {none: none}}
EOF
}

nft_basic_setup() {
	nft_basic_files
	nft_setup_topology "$MT_DIR/topo.yaml" || return 1
}

# nft_expect_matrix PORT/PROTO POLICY...: every pair equals `mseg policy matrix`.
nft_expect_matrix() {
	local pp=$1 port=${1%/*} proto=${1#*/} src dst want i j got bad=0 args=()
	shift
	for f in "$@"; do args+=(-f "$f"); done
	while read -r src dst want; do
		[ "$src" = "$dst" ] && continue
		i=$(nft_index "$src") && j=$(nft_index "$dst") || return 1
		got=false
		"${proto}_probe" "$i" "$j" "$port" && got=true
		if [ "$got" != "$want" ]; then
			echo "$pp: $src -> $dst: datapath allowed=$got, evaluator allowed=$want" >&2
			bad=1
		fi
	done < <("$MSEG" policy matrix --endpoints "$MT_DIR/topo.yaml" "${args[@]}" --port "$pp" \
		-o json | jq -r '.allowed | to_entries[] | .key as $s | .value | to_entries[] |
		"\($s) \(.key) \(.value)"')
	return $bad
}

test_nft_enforces_like_the_evaluator() {
	command -v jq >/dev/null || { skip "jq is not installed"; return; }
	nft_basic_setup || return 1
	# shellcheck disable=SC2046
	expect_ok "program" dpdrive_run --endpoints "$MT_DIR/topo.yaml" -f "$MT_DIR/web.yaml" \
		-f "$MT_DIR/deny-all.yaml" $(nft_attach_args) || return 1
	local web db cache tool
	web=$(nft_index prod/web) db=$(nft_index prod/db) cache=$(nft_index prod/cache)
	tool=$(nft_index dev/tool)
	# hand-written expectations first (what the policies mean), then the evaluator's
	expect_reach tcp "$db" "$web" 81 yes || return 1     # named port
	expect_reach tcp "$db" "$web" 80 no || return 1      # not the named port
	expect_reach tcp "$cache" "$web" 80 yes || return 1  # in the range
	expect_reach tcp "$cache" "$web" 81 no || return 1   # past the range
	expect_reach udp "$cache" "$web" 80 no || return 1   # TCP only
	expect_reach tcp "$web" "$db" 80 no || return 1      # prod default-deny ingress
	expect_reach tcp "$tool" "$web" 81 no || return 1    # deny rule of tool's egress
	expect_reach tcp "$web" "$tool" 80 yes || return 1   # dev is not isolated
	for pp in 80/tcp 81/tcp 80/udp; do
		nft_expect_matrix "$pp" "$MT_DIR/web.yaml" "$MT_DIR/deny-all.yaml" || return 1
	done
}

test_nft_default_deny_and_replies() {
	nft_basic_setup || return 1
	# shellcheck disable=SC2046
	expect_ok "program" dpdrive_run --default-deny --endpoints "$MT_DIR/topo.yaml" \
		-f "$MT_DIR/web.yaml" $(nft_attach_args) || return 1
	local web db tool cache
	web=$(nft_index prod/web) db=$(nft_index prod/db) tool=$(nft_index dev/tool)
	cache=$(nft_index prod/cache)
	# --default-deny: endpoints no policy selects deny; web's own ingress allows db:81, and
	# db's egress (not selected) is default-deny, so nothing passes from db either
	expect_reach tcp "$db" "$web" 81 no || return 1
	expect_reach tcp "$web" "$cache" 80 no || return 1
	# dev/tool's egress policy allows all but prod: tool -> tool's peers is decided there,
	# and web's ingress still must allow: tool is not db -> no
	expect_reach tcp "$tool" "$web" 81 no || return 1
	# conntrack: web is isolated for ingress, yet replies to its own connections pass.
	# Without --default-deny web -> tool works only if web's replies come back in.
	# shellcheck disable=SC2046
	expect_ok "reprogram" dpdrive_run --endpoints "$MT_DIR/topo.yaml" -f "$MT_DIR/web.yaml" \
		-f "$MT_DIR/deny-all.yaml" $(nft_attach_args) || return 1
	expect_reach tcp "$web" "$tool" 80 yes || return 1
	expect_reach udp "$web" "$tool" 80 yes || return 1
	# a new connection into web is no reply: its isolation applies
	expect_reach tcp "$db" "$web" 80 no || return 1
}

test_nft_policy_change_cuts_established() {
	nft_basic_setup || return 1
	local web db out
	web=$(nft_index prod/web) db=$(nft_index prod/db)
	ip netns exec "$MT-c$web" socat TCP-LISTEN:90,fork,reuseaddr EXEC:cat </dev/null \
		>/dev/null 2>&1 &
	# shellcheck disable=SC2046
	dpdrive_serve --endpoints "$MT_DIR/topo.yaml" -f "$MT_DIR/empty.yaml" \
		$(nft_attach_args) || return 1
	sleep 0.2
	# a long-lived connection from db to web:90, echoing one line at a time
	coproc CONN { ip netns exec "$MT-c$db" socat -T30 - "TCP:${NFT_IPS[$web]}:90" 2>&1; }
	echo one >&"${CONN[1]}"
	read -r -t 3 out <&"${CONN[0]}" || { fail "no echo on the new connection"; return 1; }
	[ "$out" = one ] || { fail "echo was '$out'"; return 1; }
	# isolate web for ingress: the established connection's next packet from db is not a
	# reply and meets the new policy
	dp_cmd apply "$MT_DIR/deny-all.yaml" || { fail "apply failed"; return 1; }
	echo two >&"${CONN[1]}"
	if read -r -t 3 out <&"${CONN[0]}"; then
		fail "the established connection still carries data after the deny: '$out'"
		return 1
	fi
	# and allowing again lets new connections through (the old one is stuck retransmitting)
	dp_cmd apply "$MT_DIR/empty.yaml" || return 1
	expect_reach tcp "$db" "$web" 80 yes || return 1
	dp_cmd quit >/dev/null 2>&1
	return 0
}

test_nft_anti_spoofing() {
	nft_basic_setup || return 1
	local web db
	web=$(nft_index prod/web) db=$(nft_index prod/db)
	# shellcheck disable=SC2046
	expect_ok "program" dpdrive_run --endpoints "$MT_DIR/topo.yaml" -f "$MT_DIR/empty.yaml" \
		$(nft_attach_args) || return 1
	expect_reach tcp "$db" "$web" 80 yes || return 1
	# another address inside db's namespace, used as source: dropped at db's veth
	ip -n "$MT-c$db" addr add 10.210.0.99/32 dev eth0 || return 1
	local out
	out=$(ip netns exec "$MT-c$db" timeout 2 socat -T1 - \
		"TCP:${NFT_IPS[$web]}:80,bind=10.210.0.99,connect-timeout=0.6" </dev/null 2>/dev/null)
	[ "$out" != pong ] || { fail "a forged source address got through"; return 1; }
	ip -n "$MT-n1" route add 10.210.0.99/32 dev "${MT}h$db"
	out=$(ip netns exec "$MT-c$db" timeout 2 socat -T1 - \
		"TCP:${NFT_IPS[$web]}:80,bind=10.210.0.99,connect-timeout=0.6" </dev/null 2>/dev/null)
	[ "$out" != pong ] || { fail "a forged source address got through (routed back)"; return 1; }
	# the genuine address still works
	expect_reach tcp "$db" "$web" 80 yes || return 1
	# a forged MAC: the container changes its own
	ip -n "$MT-c$db" link set eth0 address 02:00:00:00:de:ad || return 1
	# an address change flushes the device's neighbours, the gateway's permanent one too
	local hmac
	hmac=$(ip -n "$MT-n1" -br link show "${MT}h$db" | awk '{print $3}')
	ip -n "$MT-c$db" neigh replace 169.254.1.1 lladdr "$hmac" dev eth0 nud permanent
	ip -n "$MT-n1" neigh replace "${NFT_IPS[$db]}" lladdr 02:00:00:00:de:ad dev "${MT}h$db" \
		nud permanent
	expect_reach tcp "$db" "$web" 80 no || return 1
	# the drops were counted by reason
	nft_list | grep -A1 'counter drop_spoofed_ip_out {' | grep -q 'packets [1-9]' ||
		{ fail "drop_spoofed_ip_out counted nothing"; return 1; }
	nft_list | grep -A1 'counter drop_spoofed_mac_out {' | grep -q 'packets [1-9]' ||
		{ fail "drop_spoofed_mac_out counted nothing"; return 1; }
}

test_nft_events_decoded() {
	nft_basic_setup || return 1
	local web db tool ev
	web=$(nft_index prod/web) db=$(nft_index prod/db) tool=$(nft_index dev/tool)
	# shellcheck disable=SC2046
	dpdrive_serve --group 9 --endpoints "$MT_DIR/topo.yaml" -f "$MT_DIR/web.yaml" \
		-f "$MT_DIR/deny-all.yaml" $(nft_attach_args) || return 1
	expect_reach tcp "$db" "$web" 80 no || return 1   # isolated by web-in/deny-all
	expect_reach tcp "$tool" "$web" 81 no || return 1 # deny rule of tool-no-prod
	ev=$(dp_cmd events 1500) || { fail "events failed"; return 1; }
	echo "$ev" | head -5
	# ingress drop at web: isolation by the lowest-id policy selecting web (web-in, id 1)
	echo "$ev" | jq -s -e --arg s "${NFT_IPS[$db]}" --arg d "${NFT_IPS[$web]}" \
		'any(.[]; .saddr == $s and .daddr == $d and .dport == 80 and .proto == 6 and
		 .verdict == "dropped" and .dir == "ingress" and .reason == 2 and
		 .decided_by.kind == "isolation" and .decided_by.policy == 1 and
		 .endpoint == 1 and .src_identity >= 256 and .dst_identity >= 256)' \
		>/dev/null || { fail "no isolation drop event for db -> web:80"; return 1; }
	# egress drop at tool: rule 0 of tool-no-prod (id 2), reason policy deny
	echo "$ev" | jq -s -e --arg s "${NFT_IPS[$tool]}" \
		'any(.[]; .saddr == $s and .dport == 81 and .dir == "egress" and .reason == 1 and
		 .decided_by.kind == "rule" and .decided_by.policy == 2 and
		 .decided_by.rule == 0 and .decided_by.dir == "egress" and .endpoint == 4)' \
		>/dev/null || { fail "no deny-rule drop event for tool -> web:81"; return 1; }
	dp_cmd quit >/dev/null 2>&1
	return 0
}

test_nft_table_readable_adopted_purged() {
	nft_basic_setup || return 1
	# shellcheck disable=SC2046
	expect_ok "program" dpdrive_run --endpoints "$MT_DIR/topo.yaml" -f "$MT_DIR/web.yaml" \
		-f "$MT_DIR/deny-all.yaml" $(nft_attach_args) || return 1
	local t
	t=$(nft_list) || return 1
	for needle in "chain ep_prod_web_in" "chain ep_prod_web_out" \
		'comment "ingress of prod/web: endpoint 1' "map ep_prod_web_in_cls" \
		"iifname vmap @ep_out" "oifname vmap @ep_in" \
		"chain deny_iso_p1_in" "goto deny_iso_p1_in" "chain deny_p2_egr0_out" \
		"ip saddr . meta l4proto . th dport vmap @ep_prod_web_in_cls" \
		'10.210.0.11 . tcp . 81 counter packets 0 bytes 0 comment "allow_p1_ing0_in" : return' \
		'10.210.0.12 . tcp . 79-80 counter packets 0 bytes 0 comment "allow_p1_ing1_in" : return' \
		'log prefix "mseg:D:i:2:I:1:i:0" group 7'; do
		case $t in *"$needle"*) ;; *) fail "nft list lacks '$needle':
$t"; return 1 ;; esac
	done
	# a plain allow is an element, not a chain of its own (10,000 rules, 10,000 chains)
	case $t in *"chain allow_"*) fail "allow chains without --flows:
$t"; return 1 ;; esac
	# the table is ours alone: nothing else appeared in the node's ruleset
	[ "$(ip netns exec "$MT-n1" nft list tables)" = "table inet mseg" ] ||
		{ fail "unexpected tables: $(ip netns exec "$MT-n1" nft list tables)"; return 1; }
	# a second run adopts the table (no flush) and reprograms with other policies
	# shellcheck disable=SC2046
	expect_ok "reprogram" dpdrive_run --endpoints "$MT_DIR/topo.yaml" \
		-f "$MT_DIR/empty.yaml" $(nft_attach_args) || return 1
	expect_reach tcp "$(nft_index prod/db)" "$(nft_index prod/web)" 80 yes || return 1
	[ "$(nft_list | grep -c 'chain ep_prod_web_in ')" = 1 ] ||
		{ fail "endpoint chains duplicated on adoption"; return 1; }
	[ "$(nft_list | grep -c 'meta nfproto vmap @ep_prod_web_in_rest')" = 1 ] ||
		{ fail "endpoint rules duplicated on adoption"; return 1; }
	expect_ok "purge" dpdrive_run --purge || return 1
	[ -z "$(ip netns exec "$MT-n1" nft list tables)" ] || { fail "purge left a table"; return 1; }
	expect_ok "purge twice" dpdrive_run --purge || return 1
}
