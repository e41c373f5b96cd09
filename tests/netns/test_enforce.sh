# SPDX-License-Identifier: Apache-2.0
# Enforcement through msegd (issues 4 and 5), on both backends: apply/delete/bad files,
# --default-deny, SIGKILL restart without losing an allowed packet, policy change cutting an
# established connection, switching backends. Every test runs in node namespace "$MT-n1".

# ---- helpers ------------------------------------------------------------------------------

ENF_POLICY_DIR=$MT_DIR/policies

# enf_node BACKEND [MSEGD ARGS...]: node n1, its agent on BACKEND, namespace prod with
# web (app=web, http:80), client (app=client) and other (app=other).
enf_node() {
	local backend=$1
	shift
	node_create n1 || return 1
	mkdir -p "$ENF_POLICY_DIR" || return 1
	agent_start n1 --datapath "$backend" "$@" || return 1
	mseg_on n1 namespace create prod -l env=prod >/dev/null || return 1
	mseg_on n1 run -d --name web --namespace prod -l app=web --port http:80/TCP >/dev/null ||
		return 1
	mseg_on n1 run -d --name client --namespace prod -l app=client >/dev/null || return 1
	mseg_on n1 run -d --name other --namespace prod -l app=other >/dev/null || return 1
	WEB_IP=$(enf_field prod/web ip) && [ -n "$WEB_IP" ] || fail "web has no address" || return 1
	# a TCP server on web:80 and :5001 for the whole test (killed with the namespace)
	enf_serve prod/web 80 || return 1
}

# enf_field NS/NAME FIELD: one field of an endpoint from `mseg ps -o json`.
enf_field() {
	mseg_on n1 ps -o json | jq -r --arg ns "${1%/*}" --arg n "${1#*/}" \
		'.[] | select(.namespace == $ns and .name == $n) | .'"$2"
}

# enf_serve NS/NAME PORT: an echo server in the container, up before returning.
enf_serve() {
	mseg_on n1 exec "$1" -- socat TCP-LISTEN:"$2",fork,reuseaddr EXEC:/bin/cat \
		>/dev/null 2>&1 &
	wait_for 3 mseg_on n1 exec "$1" -- sh -c "ss -ltn | grep -q ':$2 '" ||
		fail "no server on $1:$2"
}

# enf_tcp FROM PORT: FROM connects to web:PORT and gets an echo back within a second.
enf_tcp() {
	local out
	out=$(echo mseg-ping | mseg_on n1 exec "$1" -- timeout 2 socat -T1 - \
		TCP:"$WEB_IP":"$2",connect-timeout=1 2>/dev/null)
	[ "$out" = mseg-ping ]
}

enf_ping() { mseg_on n1 exec "$1" -- ping -c1 -W1 -q "$WEB_IP" >/dev/null 2>&1; }

# enf_expect DESC allow|deny CHECK ARGS...
enf_expect() {
	local desc=$1 want=$2
	shift 2
	if "$@"; then
		[ "$want" = allow ] || fail "$desc: '$*' passed, but policy denies it"
	else
		[ "$want" = deny ] || fail "$desc: '$*' was blocked, but policy allows it"
	fi
}

# enf_write NAME <<EOF: a policy file under $ENF_POLICY_DIR, printing its path.
enf_write() {
	cat >"$ENF_POLICY_DIR/$1"
	echo "$ENF_POLICY_DIR/$1"
}

# web accepts TCP 80 from app=client only (so ICMP and other are isolated out)
enf_policy_web() {
	enf_write web.yaml <<'P'
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

# ---- apply, bad file, delete ---------------------------------------------------------------

enf_apply_delete() {
	local f bad before after out
	enf_node "$1" || return 1
	enf_expect "no policy" allow enf_tcp prod/other 80 || return 1
	enf_expect "no policy" allow enf_ping prod/client || return 1

	f=$(enf_policy_web)
	out=$(mseg_on n1 apply -f "$f") || fail "apply failed: $out" || return 1
	[ "$out" = "networkpolicy prod/web-from-client created" ] ||
		fail "apply printed '$out'" || return 1
	out=$(mseg_on n1 apply -f "$f") || return 1
	[ "$out" = "networkpolicy prod/web-from-client unchanged" ] ||
		fail "re-apply printed '$out'" || return 1
	enf_expect "client -> web:80" allow enf_tcp prod/client 80 || return 1
	enf_expect "other -> web:80" deny enf_tcp prod/other 80 || return 1
	enf_expect "client ping web" deny enf_ping prod/client || return 1
	# trace and matrix on the agent's live state agree with what the packets did
	out=$(mseg_on n1 policy trace --from prod/other --to prod/web --port 80/tcp -o json) ||
		fail "live trace failed: $out" || return 1
	[ "$(jq -r '.verdict + " " + .ingress.decided_by.kind + " " +
		.ingress.decided_by.policy.name' <<<"$out")" = "deny isolation web-from-client" ] ||
		fail "live trace: $out" || return 1
	out=$(mseg_on n1 policy matrix --port 80/tcp -o json) || fail "live matrix: $out" || return 1
	[ "$(jq -c '[.allowed["prod/client"]["prod/web"], .allowed["prod/other"]["prod/web"],
		.allowed["prod/web"]["prod/client"]]' <<<"$out")" = "[true,false,true]" ] ||
		fail "live matrix: $out" || return 1

	# a file with one good and one bad document changes nothing
	bad=$(enf_write bad.yaml <<'P'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-from-client, namespace: prod}
spec:
  podSelector: {}
  ingress: [{}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: broken, namespace: prod}
spec:
  podSelector: {}
  ingress:
  - ports: [{port: 70000}]
P
)
	before=$(mseg_on n1 get policies -o json) || return 1
	expect_fail "bad file" mseg_on n1 apply -f "$bad" || return 1
	out=$(mseg_on n1 apply -f "$bad" 2>&1)
	case $out in
	*"bad.yaml:14:"*"70000"*) ;;
	*) fail "the error is not located at bad.yaml:14: $out" || return 1 ;;
	esac
	after=$(mseg_on n1 get policies -o json) || return 1
	[ "$before" = "$after" ] || fail "a bad file changed the policies: $after" || return 1
	enf_expect "after bad file" deny enf_tcp prod/other 80 || return 1
	enf_expect "after bad file" allow enf_tcp prod/client 80 || return 1

	# reconfigure keeps the id; get shows the identity of endpoints
	out=$(mseg_on n1 get endpoints -o json | jq -r '.[] | select(.name == "web") | .identity')
	[ "${out:-0}" -ge 256 ] || fail "web has no identity: '$out'" || return 1
	expect_output_contains "identities" "app=web" mseg_on n1 get identities || return 1

	out=$(mseg_on n1 delete policy prod/web-from-client) || fail "delete: $out" || return 1
	[ "$out" = "networkpolicy prod/web-from-client deleted" ] ||
		fail "delete printed '$out'" || return 1
	enf_expect "after delete" allow enf_tcp prod/other 80 || return 1
	enf_expect "after delete" allow enf_ping prod/client || return 1
	expect_fail "delete again" mseg_on n1 delete policy prod/web-from-client || return 1
}

test_enforce_apply_delete_bpf() { enf_apply_delete bpf; }
test_enforce_apply_delete_nft() { enf_apply_delete nft; }

# ---- --default-deny ------------------------------------------------------------------------

enf_default_deny() {
	local f
	enf_node "$1" --default-deny || return 1
	enf_expect "default deny" deny enf_tcp prod/client 80 || return 1
	enf_expect "default deny" deny enf_ping prod/client || return 1
	f=$(enf_write client.yaml <<'P'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: client-to-web, namespace: prod}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {app: web}}}]
P
)
	expect_ok "apply client egress" mseg_on n1 apply -f "$f" || return 1
	# the egress side alone is not enough: web's ingress is still the default
	enf_expect "egress only" deny enf_tcp prod/client 80 || return 1
	expect_ok "apply web ingress" mseg_on n1 apply -f "$(enf_policy_web)" || return 1
	enf_expect "both sides" allow enf_tcp prod/client 80 || return 1
	enf_expect "other, default deny" deny enf_tcp prod/other 80 || return 1
	enf_expect "ping not allowed" deny enf_ping prod/client || return 1
}

test_enforce_default_deny_bpf() { enf_default_deny bpf; }
test_enforce_default_deny_nft() { enf_default_deny nft; }

# ---- restart under traffic -----------------------------------------------------------------

# enf_stream_start NAME FROM PORT COUNT: FROM sends the numbers 1..COUNT, one every 10 ms, on
# one TCP connection to web:PORT, where they are written to $MT_DIR/NAME.recv.
enf_stream_start() {
	local name=$1 from=$2 port=$3 count=$4
	rm -f "$MT_DIR/$name.recv"
	mseg_on n1 exec prod/web -- socat -u TCP-LISTEN:"$port",reuseaddr \
		OPEN:"$MT_DIR/$name.recv",creat,append >/dev/null 2>&1 &
	wait_for 3 mseg_on n1 exec prod/web -- sh -c "ss -ltn | grep -q ':$port '" ||
		fail "no stream receiver on web:$port" || return 1
	mseg_on n1 exec "$from" -- bash -c "for i in \$(seq 1 $count); do echo \$i; sleep 0.01; done |
		socat -u - TCP:$WEB_IP:$port,connect-timeout=2" >/dev/null 2>&1 &
	echo $! >"$MT_DIR/$name.pid"
	wait_for 3 test -s "$MT_DIR/$name.recv" || fail "stream $name does not flow"
}

enf_received() { wc -l <"$MT_DIR/$1.recv" 2>/dev/null || echo 0; }

# What must not change across a restart: the programs on the endpoints' interfaces (bpf) or
# the table and chain handles (nft).
enf_attached() {
	local ifc
	if [ "$1" = bpf ]; then
		for ifc in $(enf_field prod/web interface) $(enf_field prod/client interface); do
			on n1 tc filter show dev "$ifc" ingress | grep -o 'id [0-9]*'
			on n1 tc filter show dev "$ifc" egress | grep -o 'id [0-9]*'
		done
	else
		on n1 nft -a list table inet mseg | grep -E '^table|^\s+chain ep_' | sed 's/{//'
	fi
}

enf_restart() {
	local backend=$1 f before after sent got i denied=0 probes=0 pingout ids_before ids_after
	enf_node "$backend" || return 1
	f=$(enf_write web-all.yaml <<'P'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-from-client, namespace: prod}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: client}}}]
P
)
	expect_ok "apply" mseg_on n1 apply -f "$f" || return 1
	# web moves to a new identity (259), so a restart that renumbered from scratch would
	# give it 256 again: persisted identities keep 259
	expect_ok "label" mseg_on n1 label prod/web extra=1 || return 1
	enf_expect "before restart" deny enf_tcp prod/other 80 || return 1
	sent=400
	enf_stream_start s1 prod/client 5001 $sent || return 1
	mseg_on n1 exec prod/client -- ping -i 0.05 -c 100 -W 1 "$WEB_IP" >"$MT_DIR/ping.out" 2>&1 &
	local ping_pid=$!
	sleep 0.5
	before=$(enf_attached "$backend")
	[ -n "$before" ] || fail "nothing attached before the restart" || return 1
	ids_before=$(mseg_on n1 get endpoints -o json | jq -c '[.[] | [.name, .identity]]')
	case $ids_before in *'["web",256]'*) fail "web kept identity 256 after relabeling" ||
		return 1 ;; esac

	agent_kill n1 KILL
	# the denied flow stays denied while no agent runs
	for i in 1 2 3; do
		probes=$((probes + 1))
		enf_tcp prod/other 80 || denied=$((denied + 1))
	done
	agent_start n1 --datapath "$backend" || return 1
	probes=$((probes + 1))
	enf_tcp prod/other 80 || denied=$((denied + 1))
	[ $denied = $probes ] || fail "other reached web $((probes - denied)) of $probes times" ||
		return 1

	wait "$ping_pid"
	wait "$(cat "$MT_DIR/s1.pid")"
	for i in $(seq 1 40); do [ "$(enf_received s1)" -ge $sent ] && break; sleep 0.05; done
	got=$(enf_received s1)
	[ "$got" = $sent ] || fail "the stream delivered $got of $sent lines" || return 1
	[ "$(seq 1 $sent | md5sum)" = "$(md5sum <"$MT_DIR/s1.recv")" ] ||
		fail "the stream's lines are not 1..$sent in order" || return 1
	pingout=$(cat "$MT_DIR/ping.out")
	case $pingout in
	*" 0% packet loss"*) ;;
	*) fail "ping lost packets across the restart: $pingout" || return 1 ;;
	esac
	after=$(enf_attached "$backend")
	[ "$before" = "$after" ] || fail "the restart re-attached:
--- before
$before
--- after
$after" || return 1
	# identities are persisted: the same numbers after the restart
	ids_after=$(mseg_on n1 get endpoints -o json | jq -c '[.[] | [.name, .identity]]')
	[ "$ids_before" = "$ids_after" ] ||
		fail "identities changed across the restart: $ids_before -> $ids_after" || return 1
	# and the restarted agent still enforces changes
	expect_ok "delete" mseg_on n1 delete policy prod/web-from-client || return 1
	enf_expect "after delete" allow enf_tcp prod/other 80
}

test_enforce_restart_bpf() { enf_restart bpf; }
test_enforce_restart_nft() { enf_restart nft; }

# ---- a policy change cuts an established connection ---------------------------------------

enf_policy_change() {
	local backend=$1 f c0 c1 c2
	enf_node "$backend" || return 1
	enf_stream_start s2 prod/client 5002 3000 || return 1
	sleep 0.3
	c0=$(enf_received s2)
	f=$(enf_write web-other.yaml <<'P'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-from-other, namespace: prod}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: other}}}]
P
)
	expect_ok "apply" mseg_on n1 apply -f "$f" || return 1
	sleep 1
	c1=$(enf_received s2)
	sleep 1
	c2=$(enf_received s2)
	[ "$c1" -gt "$c0" ] || fail "the stream did not flow before the change ($c0 -> $c1)" ||
		return 1
	[ "$c1" = "$c2" ] || fail "the connection still passes 1 s after the policy ($c1 -> $c2)" ||
		return 1
	kill "$(cat "$MT_DIR/s2.pid")" 2>/dev/null
	enf_expect "new connection, denied" deny enf_tcp prod/client 80 || return 1
	enf_expect "other allowed" allow enf_tcp prod/other 80 || return 1
	expect_ok "delete" mseg_on n1 delete policy prod/web-from-other --kind NetworkPolicy ||
		return 1
	enf_expect "after delete" allow enf_tcp prod/client 80
}

test_enforce_policy_change_bpf() { enf_policy_change bpf; }
test_enforce_policy_change_nft() { enf_policy_change nft; }

# ---- switching backends --------------------------------------------------------------------

enf_tc_mseg() {
	local ifc
	for ifc in $(enf_field prod/web interface) $(enf_field prod/client interface); do
		on n1 tc filter show dev "$ifc" ingress
		on n1 tc filter show dev "$ifc" egress
	done | grep -c mseg_tc
}

test_enforce_switch_backend() {
	enf_node bpf || return 1
	expect_ok "apply" mseg_on n1 apply -f "$(enf_policy_web)" || return 1
	[ "$(enf_tc_mseg)" = 4 ] || fail "bpf: $(enf_tc_mseg) mseg tc programs, want 4" || return 1
	agent_kill n1
	agent_start n1 --datapath nft || return 1
	[ "$(enf_tc_mseg)" = 0 ] || fail "nft: $(enf_tc_mseg) mseg tc programs remain" || return 1
	ls "$MT_DIR/n1/bpf" | grep -q mseg_ && fail "bpf pins remain: $(ls "$MT_DIR/n1/bpf")" ||
		true
	expect_ok "nft table" on n1 nft list table inet mseg || return 1
	enf_expect "nft" allow enf_tcp prod/client 80 || return 1
	enf_expect "nft" deny enf_tcp prod/other 80 || return 1
	# and back
	agent_kill n1
	agent_start n1 --datapath bpf || return 1
	expect_fail "nft table gone" on n1 nft list table inet mseg || return 1
	[ "$(enf_tc_mseg)" = 4 ] || fail "bpf again: $(enf_tc_mseg) mseg tc programs" || return 1
	enf_expect "bpf again" allow enf_tcp prod/client 80 || return 1
	enf_expect "bpf again" deny enf_tcp prod/other 80
}

# ---- a crash between attach and ready ------------------------------------------------------

# msegd dies right after attaching a new endpoint; the restarted agent reaps the endpoint and
# leaves nothing of it in the datapath (bpf: endpoint map entry; nft: chains and maps).
enf_crash_after_attach() {
	local backend=$1 left
	node_create n1 || return 1
	MSEG_TEST_CRASH_AT=after-attach agent_start n1 --datapath "$backend" || return 1
	mseg_on n1 run -d --name web -l app=web >/dev/null 2>&1
	agent_kill n1 KILL
	agent_start n1 --datapath "$backend" || return 1
	[ "$(mseg_on n1 ps -o json | jq length)" = 0 ] || fail "the endpoint was not reaped" ||
		return 1
	if [ "$backend" = bpf ]; then
		left=$(bpftool map dump pinned "$MT_DIR/n1/bpf/mseg_endpoints" 2>&1)
		case $left in *'"key"'*) fail "endpoint map entries left: $left" || return 1 ;; esac
	else
		left=$(on n1 nft list table inet mseg | grep -c 'ep_default_web')
		[ "$left" = 0 ] || fail "nft objects of default/web left:
$(on n1 nft list table inet mseg)" || return 1
	fi
	expect_ok "run again" mseg_on n1 run -d --name web -l app=web
}

test_enforce_crash_after_attach_bpf() { enf_crash_after_attach bpf; }
test_enforce_crash_after_attach_nft() { enf_crash_after_attach nft; }
