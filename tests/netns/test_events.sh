# SPDX-License-Identifier: Apache-2.0
# Inspecting blocked traffic (issue 6): event fields for each drop reason and default deny,
# audit at policy/namespace/endpoint scope, pcap, metrics, follow, on both backends where the
# feature depends on the backend. Every test runs in node namespace "$MT-n1".
# Suggest, map and the drop flood: tests/netns/test_events_flows.sh.

EV_POLICY_DIR=$MT_DIR/policies

# ev_node BACKEND [MSEGD ARGS...]: node n1, namespace prod (env=prod) with web (app=web),
# client (app=client) and other (app=other), a TCP echo server on web:80 and web:81.
ev_node() {
	local backend=$1
	shift
	node_create n1 || return 1
	mkdir -p "$EV_POLICY_DIR" || return 1
	agent_start n1 --datapath "$backend" "$@" || return 1
	mseg_on n1 namespace create prod -l env=prod >/dev/null || return 1
	local n
	for n in web client other; do
		mseg_on n1 run -d --name "$n" --namespace prod -l app="$n" >/dev/null || return 1
	done
	WEB_IP=$(ev_field prod/web ip) && [ -n "$WEB_IP" ] || fail "web has no address" || return 1
	OTHER_IP=$(ev_field prod/other ip)
	CLIENT_IP=$(ev_field prod/client ip)
	ev_serve prod/web 80 || return 1
	ev_serve prod/web 81 || return 1
}

ev_field() {
	mseg_on n1 ps -o json | jq -r --arg ns "${1%/*}" --arg n "${1#*/}" \
		'.[] | select(.namespace == $ns and .name == $n) | .'"$2"
}

ev_serve() {
	mseg_on n1 exec "$1" -- socat TCP-LISTEN:"$2",fork,reuseaddr EXEC:/bin/cat \
		>/dev/null 2>&1 &
	wait_for 3 mseg_on n1 exec "$1" -- sh -c "ss -ltn | grep -q ':$2 '" ||
		fail "no server on $1:$2"
}

# ev_tcp FROM IP PORT: FROM gets an echo back from IP:PORT within a second.
ev_tcp() {
	local out
	out=$(echo mseg-ping | mseg_on n1 exec "$1" -- timeout 2 socat -T1 - \
		TCP:"$2":"$3",connect-timeout=1 2>/dev/null)
	[ "$out" = mseg-ping ]
}

ev_apply() {
	cat >"$EV_POLICY_DIR/$1"
	mseg_on n1 apply -f "$EV_POLICY_DIR/$1" >/dev/null
}

# web accepts TCP 80 from app=client only
ev_policy_web() {
	ev_apply web.yaml <<'P'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-from-client, namespace: prod}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: client}}}]
    ports: [{port: 80, protocol: TCP}]
P
}

# ev_event JQ_SELECT: the newest event matching the jq condition, waiting up to 3 s for it.
ev_event() {
	local sel=$1 i out
	for i in $(seq 1 60); do
		out=$(mseg_on n1 observe -o json | jq -c "select($sel)" | tail -n1)
		[ -n "$out" ] && {
			echo "$out"
			return 0
		}
		sleep 0.05
	done
	fail "no event matching '$sel'; events: $(mseg_on n1 observe -o json | tail -n5)"
}

# ev_check EVENT JQ_BOOL DESC: the event satisfies the jq expression.
ev_check() {
	[ "$(echo "$1" | jq -r "$2")" = true ] || fail "$3: '$2' is false for $1"
}

# ---- event fields --------------------------------------------------------------------------

ev_fields() {
	ev_node "$1" || return 1
	ev_policy_web || return 1
	# other may send anywhere except web:81, which a deny rule of its own egress blocks
	ev_apply other.yaml <<'P' || return 1
apiVersion: mseg.io/v1
kind: Policy
metadata: {name: other-not-81, namespace: prod}
spec:
  podSelector: {matchLabels: {app: other}}
  policyTypes: [Egress]
  egress:
  - action: deny
    to: [{podSelector: {matchLabels: {app: web}}}]
    ports: [{port: 81}]
  - {}
P
	ev_tcp prod/client "$WEB_IP" 80 || fail "client cannot reach web:80" || return 1
	ev_tcp prod/other "$WEB_IP" 80 && fail "other reached web:80" && return 1
	local e
	# isolation: every isolating policy named, the enforcing endpoint is web's ingress
	e=$(ev_event '.reason == "isolated" and .destination.port == 80') || return 1
	ev_check "$e" '.verdict == "dropped" and .direction == "ingress" and .node == "n1"' \
		"isolation drop" || return 1
	ev_check "$e" '.source.namespace == "prod" and .source.name == "other" and
		.source.labels.app == "other" and .source.identity >= 256' "source" || return 1
	ev_check "$e" '.destination.name == "web" and .protocol == "TCP" and
		.endpoint.name == "web" and (.interface | length > 0)' "destination" || return 1
	ev_check "$e" '.decided_by.kind == "isolation" and
		.decided_by.isolated_by[0].name == "web-from-client" and
		.decided_by.isolated_by[0].policy_kind == "NetworkPolicy"' "isolated_by" || return 1
	[ "$(echo "$e" | jq -r .source.ip)" = "$OTHER_IP" ] || fail "source ip: $e" || return 1
	# a deny rule: named with its rule index and list, at other's egress
	ev_tcp prod/other "$WEB_IP" 81 && fail "other reached web:81" && return 1
	e=$(ev_event '.reason == "policy-deny"') || return 1
	ev_check "$e" '.direction == "egress" and .endpoint.name == "other" and
		.destination.port == 81 and .decided_by.kind == "policy" and
		.decided_by.name == "other-not-81" and .decided_by.policy_kind == "Policy" and
		.decided_by.namespace == "prod" and .decided_by.rule == 0 and
		.decided_by.rule_direction == "egress"' "deny rule" || return 1
	# a spoofed source address, decided by no policy
	mseg_on n1 exec prod/other -- ip addr add 10.99.0.1/32 dev eth0 || return 1
	mseg_on n1 exec prod/other -- ping -c1 -W1 -I 10.99.0.1 "$WEB_IP" >/dev/null 2>&1
	e=$(ev_event '.reason == "spoofed-ip"') || return 1
	ev_check "$e" '.direction == "egress" and .endpoint.name == "other" and
		.source.ip == "10.99.0.1" and .protocol == "ICMP" and .icmp.type == 8 and
		.decided_by.kind == "none"' "spoofed ip" || return 1
	# the table names the policy; the flow log holds the same records
	expect_output_contains "table" "isolated by NetworkPolicy prod/web-from-client" \
		mseg_on n1 observe --verdict dropped --from prod/other --to app=web || return 1
	grep -q '"reason":"policy-deny"' "$MT_DIR/n1/state/flows.jsonl" ||
		fail "flow log lacks the deny event" || return 1
	# filters are checked by msegd
	expect_fail "bad selector" mseg_on n1 observe --from 'app in ()' || return 1
	expect_fail "bad verdict" mseg_on n1 observe --verdict blocked || return 1
}

test_events_fields_bpf() { ev_fields bpf; }
test_events_fields_nft() { ev_fields nft; }

# ---- allowed new connections (msegd --flows new) --------------------------------------------

# ev_count JQ_SELECT: how many events in the ring match.
ev_count() {
	mseg_on n1 observe -o json | jq -c "select($1)" | wc -l
}

# One forwarded event per new connection at web's ingress, naming the allowing rule; none for
# the connection's other packets, none for replies, none for denied attempts.
ev_flows_new() {
	ev_node "$1" --flows new || return 1
	ev_policy_web || return 1
	local in='.verdict == "forwarded" and .direction == "ingress" and .endpoint.name == "web"'
	[ "$(ev_count "$in")" -eq 0 ] || fail "forwarded events before any traffic" || return 1
	ev_tcp prod/client "$WEB_IP" 80 || fail "client cannot reach web:80" || return 1
	ev_tcp prod/other "$WEB_IP" 80 && fail "other reached web:80" && return 1
	local e
	e=$(ev_event "$in") || return 1
	ev_check "$e" '.source.name == "client" and .destination.port == 80 and
		.protocol == "TCP"' "forwarded source" || return 1
	ev_check "$e" '.decided_by.kind == "policy" and .decided_by.name == "web-from-client" and
		.decided_by.rule == 0 and .decided_by.rule_direction == "ingress"' \
		"forwarded decided_by" || return 1
	# a second connection: exactly one more (the echo's data packets are not new)
	ev_tcp prod/client "$WEB_IP" 80 || fail "second connection failed" || return 1
	local n i
	for i in $(seq 1 30); do
		n=$(ev_count "$in")
		[ "$n" -ge 2 ] && break
		sleep 0.1
	done
	[ "$n" -eq 2 ] || fail "$n forwarded events at web's ingress for 2 connections:
$(mseg_on n1 observe -o json)
$(on n1 nft list counters table inet mseg)
$(on n1 conntrack -L 2>&1)" || return 1
	# replies (web:80 -> client) are never reported as flows, at either side
	n=$(ev_count '.verdict == "forwarded" and .source.port == 80')
	[ "$n" -eq 0 ] || fail "$n forwarded events for replies" || return 1
	# the denied attempt shows as dropped only
	n=$(ev_count '.verdict == "forwarded" and .source.name == "other" and
		.direction == "ingress"')
	[ "$n" -eq 0 ] || fail "$n forwarded events for a denied connection" || return 1
}

test_events_flows_new_bpf() { ev_flows_new bpf; }
test_events_flows_new_nft() { ev_flows_new nft; }

ev_default_deny() {
	ev_node "$1" --default-deny || return 1
	ev_tcp prod/client "$WEB_IP" 80 && fail "default deny let client in" && return 1
	local e
	e=$(ev_event '.reason == "default-deny"') || return 1
	ev_check "$e" '.verdict == "dropped" and .source.name == "client" and
		.decided_by.kind == "default" and .decided_by.default == "deny"' "default deny" ||
		return 1
}

test_events_default_deny_bpf() { ev_default_deny bpf; }
test_events_default_deny_nft() { ev_default_deny nft; }

# ---- audit at three scopes -----------------------------------------------------------------

ev_audit() {
	ev_node "$1" || return 1
	# policy scope: mode audit never drops, reports what it would have dropped
	ev_apply audit.yaml <<'P' || return 1
apiVersion: mseg.io/v1
kind: Policy
metadata: {name: web-audit, namespace: prod}
spec:
  mode: audit
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: client}}}]
    ports: [{port: 80}]
P
	ev_tcp prod/other "$WEB_IP" 80 || fail "policy audit mode dropped other" || return 1
	local e
	e=$(ev_event '.verdict == "audit" and .source.name == "other"') || return 1
	ev_check "$e" '[.decided_by.isolated_by[]?.name, .decided_by.name] | index("web-audit") != null' \
		"audit policy named" || return 1
	mseg_on n1 delete policy prod/web-audit >/dev/null || return 1

	# namespace scope
	ev_policy_web || return 1
	ev_tcp prod/other "$WEB_IP" 80 && fail "enforcing policy let other in" && return 1
	expect_ok "namespace audit on" mseg_on n1 namespace audit prod on || return 1
	ev_tcp prod/other "$WEB_IP" 81 || fail "namespace audit dropped other" || return 1
	e=$(ev_event '.verdict == "audit" and .destination.port == 81') || return 1
	ev_check "$e" '.decided_by.kind == "isolation" and
		.decided_by.isolated_by[0].name == "web-from-client"' "namespace audit names" ||
		return 1
	expect_output_contains "scope listed" "namespace prod" mseg_on n1 audit ls || return 1
	expect_ok "namespace audit off" mseg_on n1 namespace audit prod off || return 1
	ev_tcp prod/other "$WEB_IP" 80 && fail "namespace audit off: other still passes" && return 1

	# endpoint scope, kept across an agent restart
	expect_ok "endpoint audit on" mseg_on n1 audit prod/web on || return 1
	agent_kill n1 KILL
	agent_start n1 --datapath "$1" || return 1
	mseg_on n1 apply -f "$EV_POLICY_DIR/web.yaml" >/dev/null || return 1
	ev_tcp prod/other "$WEB_IP" 80 || fail "endpoint audit dropped other" || return 1
	e=$(ev_event '.verdict == "audit" and .endpoint.name == "web"') || return 1
	ev_check "$e" '.reason == "isolated"' "endpoint audit reason" || return 1
	expect_ok "endpoint audit off" mseg_on n1 audit prod/web off || return 1
	ev_tcp prod/other "$WEB_IP" 80 && fail "endpoint audit off: other still passes" && return 1
	expect_fail "unknown container" mseg_on n1 audit prod/nobody on || return 1
	expect_fail "bad switch" mseg_on n1 audit prod/web maybe || return 1
	return 0
}

test_events_audit_bpf() { ev_audit bpf; }
test_events_audit_nft() { ev_audit nft; }

# ---- pcap -------------------------------------------------------------------------------------

ev_pcap() {
	ev_node "$1" || return 1
	ev_policy_web || return 1
	ev_tcp prod/other "$WEB_IP" 80 && fail "other reached web" && return 1
	ev_event '.reason == "isolated"' >/dev/null || return 1
	local f=$MT_DIR/drops.pcap out
	mseg_on n1 observe --from prod/other --pcap "$f" >/dev/null 2>&1 ||
		fail "observe --pcap failed" || return 1
	out=$(tcpdump -n -r "$f" 2>/dev/null)
	case $out in
	*"IP $OTHER_IP."*" > $WEB_IP.80: "*) ;;
	*) fail "tcpdump -r shows no $OTHER_IP -> $WEB_IP.80 packet: $out" || return 1 ;;
	esac
}

test_events_pcap_bpf() { ev_pcap bpf; }
test_events_pcap_nft() { ev_pcap nft; }

# ---- follow -------------------------------------------------------------------------------

test_events_follow() {
	ev_node bpf || return 1
	ev_policy_web || return 1
	local out=$MT_DIR/follow.json pid
	mseg_on n1 observe -f -o json --to prod/web >"$out" 2>&1 &
	pid=$!
	sleep 0.3
	ev_tcp prod/other "$WEB_IP" 80
	wait_for 3 grep -q '"reason":"isolated"' "$out"
	local ok=$?
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	[ $ok = 0 ] || fail "observe -f printed no drop: $(cat "$out")"
}

# ---- metrics ------------------------------------------------------------------------------

ev_metric() {
	on n1 curl -s --max-time 2 http://127.0.0.1:9963/metrics | awk -v k="$1" '$1 == k {print $2}'
}

test_events_metrics() {
	ev_node bpf --metrics 127.0.0.1:9963 || return 1
	ev_policy_web || return 1
	local i before after
	before=$(ev_metric 'mseg_drops_total{reason="isolated",direction="ingress"}')
	[ -n "$before" ] || fail "no drops metric: $(on n1 curl -s http://127.0.0.1:9963/metrics)" ||
		return 1
	# 20 UDP datagrams web does not accept: 20 isolation drops at web's ingress
	for i in $(seq 1 20); do
		echo x | mseg_on n1 exec prod/other -- socat -u - UDP:"$WEB_IP":5000
	done
	sleep 0.3
	after=$(ev_metric 'mseg_drops_total{reason="isolated",direction="ingress"}')
	[ $((after - before)) = 20 ] || fail "drops went $before -> $after, sent 20" || return 1
	[ "$(ev_metric 'mseg_endpoints')" = 3 ] || fail "mseg_endpoints" || return 1
	[ "$(ev_metric 'mseg_policies')" = 1 ] || fail "mseg_policies" || return 1
	[ "$(ev_metric 'mseg_policy_rule_hits_total{policy="NetworkPolicy/prod/web-from-client",rule="ingress/isolation"}')" -ge 20 ] ||
		fail "rule hits: $(on n1 curl -s http://127.0.0.1:9963/metrics | grep rule_hits)" ||
		return 1
	[ "$(ev_metric 'mseg_flows_total{verdict="dropped"}')" -ge 20 ] || fail "flows" || return 1
	[ "$(ev_metric 'mseg_reconcile_duration_seconds_count')" -ge 1 ] ||
		fail "reconcile histogram" || return 1
	[ -n "$(ev_metric 'mseg_events_lost_total{cause="datapath"}')" ] || fail "lost" || return 1
	expect_output_contains "wide" "ingress[isolation]=" mseg_on n1 get policies -o wide ||
		return 1
	# off the loopback: refused unless --metrics-any
	expect_output_contains "non-loopback refused" "not a loopback address" \
		nsenter --net="/run/netns/$MT-n1" "$MSEGD" --foreground --node x \
		--state-dir "$MT_DIR/x" --socket "$MT_DIR/x.sock" --bpf-dir "$MT_DIR/n1/bpf/x" \
		--datapath nft --metrics 10.1.2.3:9963 || return 1
}

# nft: the rule hits come from the decision chains' named counters, read per policy and rule.
test_events_hits_nft() {
	ev_node nft --metrics 127.0.0.1:9963 || return 1
	ev_policy_web || return 1
	local i n iso rule0 k='mseg_policy_rule_hits_total{policy="NetworkPolicy/prod/web-from-client",rule='
	# 20 datagrams web does not accept: exactly 20 packets its isolation decided
	for i in $(seq 1 20); do
		echo x | mseg_on n1 exec prod/other -- socat -u - UDP:"$WEB_IP":5000
	done
	for i in 1 2 3; do
		ev_tcp prod/client "$WEB_IP" 80 || fail "client -> web:80 failed" || return 1
	done
	iso=$(ev_metric "${k}\"ingress/isolation\"}")
	rule0=$(ev_metric "${k}\"ingress/0\"}")
	[ "$iso" = 20 ] || fail "isolation hits '$iso', sent 20:
$(on n1 curl -s http://127.0.0.1:9963/metrics | grep rule_hits)
$(on n1 nft list counters table inet mseg)" || return 1
	# each connection: at least its SYN, ACK and data (replies return before the maps)
	[ -n "$rule0" ] && [ "$rule0" -ge 9 ] || fail "ingress/0 hits '$rule0' for 3 connections" ||
		return 1
	local out
	out=$(mseg_on n1 get policies -o wide 2>&1) || fail "get policies -o wide: $out" || return 1
	echo "$out" | grep -q "ingress\[0\]=$rule0 ingress\[isolation\]=20" ||
		fail "wide table lacks the counts (ingress[0]=$rule0, isolation 20): $out" || return 1
	echo "$out" | grep -q "nft counters" && fail "wide says it cannot count: $out" && return 1
	# one more connection moves the rule's count, not the isolation's
	ev_tcp prod/client "$WEB_IP" 80 || return 1
	n=$(ev_metric "${k}\"ingress/0\"}")
	[ "$n" -gt "$rule0" ] || fail "ingress/0 stayed at $n" || return 1
	[ "$(ev_metric "${k}\"ingress/isolation\"}")" = 20 ] || fail "isolation moved" || return 1
}
