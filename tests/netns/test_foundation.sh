# SPDX-License-Identifier: Apache-2.0
# The foundation (issue 2): msegd, its control socket and store, and containers on the routed
# veth network of one node. Every test runs in its own node namespace "$MT-n1".

# ---- helpers ------------------------------------------------------------------------------

# What a node holds, to prove a rejected request created nothing: namespaces of this run,
# links and routes of the node, and the agent's endpoint list.
fnd_snapshot() {
	ip netns list | awk '{print $1}' | grep "^$MT-" | sort
	on n1 ip -o link show | awk '{print $2}'
	on n1 ip route show
	mseg_on n1 ps -o json | jq -c '[.[] | {namespace, name, ip}]'
}

# fnd_rejected DESC NEEDLE CMD...: CMD fails, says NEEDLE, and leaves the node as it was.
fnd_rejected() {
	local desc=$1 needle=$2 before after
	shift 2
	before=$(fnd_snapshot) || return 1
	expect_fail "$desc" "$@" || return 1
	expect_output_contains "$desc" "$needle" "$@" || return 1
	after=$(fnd_snapshot) || return 1
	[ "$before" = "$after" ] || fail "$desc: the node changed:
--- before
$before
--- after
$after"
}

# fnd_field NS/NAME FIELD: one field of an endpoint from `mseg ps -o json`.
fnd_field() {
	local ns=${1%/*} name=${1#*/}
	mseg_on n1 ps -o json |
		jq -r --arg ns "$ns" --arg n "$name" \
			'.[] | select(.namespace == $ns and .name == $n) | .'"$2"
}

fnd_netns_exists() { ip netns list | awk '{print $1}' | grep -qx "$1"; }

# ---- acceptance 2 -------------------------------------------------------------------------

test_prod_web_db_ping_rm_and_restart() {
	local json web_ip db_ip web_if
	node_create n1 || return 1
	agent_start n1 || return 1

	expect_ok "create prod" mseg_on n1 namespace create prod -l env=prod || return 1
	expect_ok "run web" mseg_on n1 run -d --name web --namespace prod -l app=web \
		--port http:80/TCP || return 1
	expect_ok "run db" mseg_on n1 run -d --name db --namespace prod -l app=db || return 1

	json=$(mseg_on n1 ps -o json) || return 1
	[ "$(jq length <<<"$json")" = 2 ] || fail "ps lists $(jq length <<<"$json") endpoints: $json" || return 1
	web_ip=$(fnd_field prod/web ip)
	db_ip=$(fnd_field prod/db ip)
	web_if=$(fnd_field prod/web interface)
	case $web_ip in 10.200.0.*) ;; *) fail "web has no pod address: '$web_ip'" || return 1 ;; esac
	case $db_ip in 10.200.0.*) ;; *) fail "db has no pod address: '$db_ip'" || return 1 ;; esac
	[ "$web_ip" != "$db_ip" ] || fail "web and db share $web_ip" || return 1
	[ "$(fnd_field prod/web labels.app)" = web ] || fail "web lacks app=web: $json" || return 1
	[ "$(fnd_field prod/db labels.app)" = db ] || fail "db lacks app=db: $json" || return 1
	[ "$(fnd_field prod/web state)" = running ] || fail "web not running: $json" || return 1
	[ "$(fnd_field prod/web ports[0].port)" = 80 ] || fail "web lacks port 80: $json" || return 1
	mseg_on n1 namespace ls -o json | jq -e '.[] | select(.name == "prod") |
		.labels.env == "prod" and .labels["kubernetes.io/metadata.name"] == "prod"' \
		>/dev/null || fail "prod lacks env=prod or its automatic label" || return 1

	expect_ok "web pings db" mseg_on n1 exec prod/web -- ping -c1 -W2 "$db_ip" || return 1

	# rm removes the namespace, the veth and the route, and frees the address.
	expect_ok "rm web" mseg_on n1 rm prod/web || return 1
	! fnd_netns_exists "$MT-n1-prod_web" || fail "web's namespace is still there" || return 1
	# The veth goes with the namespace, in the kernel's cleanup work (not synchronously).
	wait_for 5 eval "! on n1 ip link show '$web_if'" || fail "veth $web_if is still there" || return 1
	! on n1 ip route show | grep -q "^$web_ip " || fail "route to $web_ip is still there" || return 1
	! grep -q "\"$web_ip\"" "$MT_DIR/n1/state/endpoints.json" ||
		fail "$web_ip is still recorded as allocated" || return 1
	[ "$(mseg_on n1 ps -o json | jq length)" = 1 ] || fail "ps still lists web" || return 1

	# The agent dies hard; a new one adopts what exists and keeps it working.
	agent_kill n1 KILL
	agent_start n1 || return 1
	[ "$(fnd_field prod/db ip)" = "$db_ip" ] || fail "prod/db not listed after restart" || return 1
	[ "$(fnd_field prod/db state)" = running ] || fail "prod/db not running after restart" || return 1
	expect_ok "run probe" mseg_on n1 run -d --name probe --namespace prod || return 1
	[ "$(fnd_field prod/probe ip)" != "$db_ip" ] || fail "probe got db's address" || return 1
	expect_ok "probe pings db" mseg_on n1 exec prod/probe -- ping -c1 -W2 "$db_ip" || return 1
}

test_foreground_run_exit_status_and_rm() {
	local out pid
	node_create n1 || return 1
	agent_start n1 || return 1
	out=$(mseg_on n1 run --rm --name once -- sh -c 'ip -o -4 addr show eth0; exit 3')
	[ $? = 3 ] || fail "exit status of the command not returned" || return 1
	case $out in *"10.200.0."*) ;; *) fail "command did not run in the container: $out" || return 1 ;; esac
	[ "$(mseg_on n1 ps -o json | jq length)" = 0 ] || fail "--rm left the container" || return 1
	! fnd_netns_exists "$MT-n1-default_once" || fail "--rm left the namespace" || return 1

	# Detached with a command: msegd runs it in the container, output in the log.
	expect_ok "run -d cmd" mseg_on n1 run -d --name srv -- sh -c 'echo hello-from-srv; sleep 600' || return 1
	wait_for 2 grep -q hello-from-srv "$MT_DIR/n1/state/logs/default_srv.log" ||
		fail "no output in the container's log" || return 1
	[ "$(fnd_field default/srv state)" = running ] || fail "srv not running" || return 1
	pid=$(fnd_field default/srv pid)
	[ "$pid" -gt 0 ] || fail "no pid recorded for srv" || return 1
	expect_ok "rm srv" mseg_on n1 rm default/srv || return 1
	! fnd_netns_exists "$MT-n1-default_srv" || fail "srv's namespace left" || return 1
	# Gone or a zombie (empty cmdline) until msegd reaps it.
	wait_for 2 sh -c "[ ! -s /proc/$pid/cmdline ]" || fail "srv's process survived rm" || return 1
}

# ---- bad input: a clear message naming the value, nothing created --------------------------

test_bad_names_rejected() {
	node_create n1 || return 1
	agent_start n1 || return 1
	expect_ok "create prod" mseg_on n1 namespace create prod || return 1
	fnd_rejected "uppercase name" "'Web'" mseg_on n1 run -d --name Web -n prod || return 1
	fnd_rejected "name too long" "'$(printf 'a%.0s' {1..64})'" \
		mseg_on n1 run -d --name "$(printf 'a%.0s' {1..64})" -n prod || return 1
	fnd_rejected "underscore" "'a_b'" mseg_on n1 run -d --name a_b -n prod || return 1
	fnd_rejected "bad namespace name" "'Prod!'" mseg_on n1 namespace create 'Prod!' || return 1
	fnd_rejected "unknown namespace" "namespace 'nope' does not exist" \
		mseg_on n1 run -d --name web -n nope || return 1
}

test_bad_labels_rejected() {
	node_create n1 || return 1
	agent_start n1 || return 1
	expect_ok "create prod" mseg_on n1 namespace create prod || return 1
	fnd_rejected "key with space" "'bad key'" mseg_on n1 run -d --name a -n prod -l 'bad key=x' || return 1
	fnd_rejected "value too long" "$(printf 'v%.0s' {1..64})" \
		mseg_on n1 run -d --name a -n prod -l "k=$(printf 'v%.0s' {1..64})" || return 1
	fnd_rejected "no equals" "'novalue'" mseg_on n1 run -d --name a -n prod -l novalue || return 1
	fnd_rejected "bad namespace label" "'-x'" mseg_on n1 namespace create dev -l '-x=1' || return 1
	fnd_rejected "automatic label" "kubernetes.io/metadata.name" \
		mseg_on n1 namespace label prod kubernetes.io/metadata.name=other || return 1
}

test_bad_ports_rejected() {
	node_create n1 || return 1
	agent_start n1 || return 1
	fnd_rejected "port out of range" "'http:70000'" mseg_on n1 run -d --name a --port http:70000 || return 1
	fnd_rejected "port name" "'HTTP'" mseg_on n1 run -d --name a --port HTTP:80/TCP || return 1
	fnd_rejected "protocol" "'ICMP'" mseg_on n1 run -d --name a --port http:80/ICMP || return 1
	fnd_rejected "port twice" "'http'" mseg_on n1 run -d --name a --port http:80 --port http:81 || return 1
}

test_duplicate_names_rejected() {
	node_create n1 || return 1
	agent_start n1 || return 1
	expect_ok "create prod" mseg_on n1 namespace create prod || return 1
	expect_ok "run web" mseg_on n1 run -d --name web -n prod || return 1
	fnd_rejected "endpoint twice" "'prod/web' already exists" mseg_on n1 run -d --name web -n prod || return 1
	fnd_rejected "namespace twice" "'prod' already exists" mseg_on n1 namespace create prod || return 1
	# The same name in another namespace is another endpoint.
	expect_ok "web in default" mseg_on n1 run -d --name web || return 1
}

test_bad_pod_cidr_refused() {
	node_create n1 || return 1
	local c
	for c in 10.200.0.0/33 10.200.0.1/24 banana 10.0.0.0/31; do
		! agent_start n1 --pod-cidr "$c" 2>/dev/null || fail "msegd started with --pod-cidr $c" || return 1
		grep -q "invalid --pod-cidr '$c'" "$MT_DIR/n1/msegd.log" ||
			fail "no message naming '$c': $(agent_log n1)" || return 1
	done
	! ls "$MT_DIR/n1/state/"*.json >/dev/null 2>&1 || fail "a refused start wrote state" || return 1
}

test_exhausted_pool_rejected_and_ip_freed() {
	local a_ip
	node_create n1 || return 1
	agent_start n1 --pod-cidr 10.201.0.0/30 || return 1
	expect_ok "run a" mseg_on n1 run -d --name a || return 1
	expect_ok "run b" mseg_on n1 run -d --name b || return 1
	fnd_rejected "pool exhausted" "10.201.0.0/30 is exhausted" mseg_on n1 run -d --name c || return 1
	a_ip=$(fnd_field default/a ip)
	expect_ok "rm a" mseg_on n1 rm default/a || return 1
	expect_ok "run c after rm" mseg_on n1 run -d --name c || return 1
	[ "$(fnd_field default/c ip)" = "$a_ip" ] || fail "c did not get a's freed $a_ip" || return 1
}

# ---- faults -------------------------------------------------------------------------------

# The agent dies at each step of creating (or removing) an endpoint; the next one reaps it.
test_crash_recovery_reaps_interrupted_endpoints() {
	local point
	node_create n1 || return 1
	for point in after-intent after-netns after-network; do
		MSEG_TEST_CRASH_AT=$point agent_start n1 --pod-cidr 10.202.0.0/30 || return 1
		expect_fail "run dies at $point" mseg_on n1 run -d --name web || return 1
		agent_kill n1 KILL
		grep -q '"state":"creating"' "$MT_DIR/n1/state/intent.json" ||
			fail "$point: no intent recorded" || return 1
		! grep -q '"name":"web"' "$MT_DIR/n1/state/endpoints.json" 2>/dev/null ||
			fail "$point: recorded as made before it was ready" || return 1
		agent_start n1 --pod-cidr 10.202.0.0/30 || return 1
		grep -q "reaping endpoint 'default/web'" "$MT_DIR/n1/msegd.log" ||
			fail "$point: nothing reaped: $(agent_log n1)" || return 1
		! fnd_netns_exists "$MT-n1-default_web" || fail "$point: namespace orphaned" || return 1
		wait_for 5 eval '[ "$(on n1 ip -o link show | grep -c mseg)" = 0 ]' ||
			fail "$point: veth orphaned" || return 1
		[ -z "$(on n1 ip route show)" ] || fail "$point: route orphaned" || return 1
		[ "$(mseg_on n1 ps -o json | jq length)" = 0 ] || fail "$point: still listed" || return 1
		# Both addresses of the /30 are free again.
		expect_ok "$point: run x" mseg_on n1 run -d --name x || return 1
		expect_ok "$point: run y" mseg_on n1 run -d --name y || return 1
		expect_ok "$point: rm" mseg_on n1 rm default/x default/y || return 1
		agent_kill n1
		: >"$MT_DIR/n1/msegd.log"
	done
	# And half-way through a removal.
	MSEG_TEST_CRASH_AT=after-delete-intent agent_start n1 || return 1
	expect_ok "run web" mseg_on n1 run -d --name web || return 1
	expect_fail "rm dies" mseg_on n1 rm default/web || return 1
	agent_kill n1 KILL
	agent_start n1 || return 1
	! fnd_netns_exists "$MT-n1-default_web" || fail "delete: namespace orphaned" || return 1
	[ "$(mseg_on n1 ps -o json | jq length)" = 0 ] || fail "delete: still listed" || return 1
}

# intent.json is written without fsync: only a power cut can tear it, and the reboot removed
# what it described, so a torn one is set aside with a warning instead of refused.
test_torn_intent_set_aside() {
	node_create n1 || return 1
	agent_start n1 || return 1
	expect_ok "run web" mseg_on n1 run -d --name web || return 1
	agent_kill n1
	printf '{"version":1,"endpoint":{"id":' >"$MT_DIR/n1/state/intent.json"
	agent_start n1 || return 1
	grep -q "setting aside $MT_DIR/n1/state/intent.json" "$MT_DIR/n1/msegd.log" ||
		fail "no warning about the torn intent: $(agent_log n1)" || return 1
	[ "$(fnd_field default/web state)" = running ] || fail "web lost after the restart" || return 1
	expect_ok "rm web" mseg_on n1 rm default/web || return 1
	[ ! -e "$MT_DIR/n1/state/intent.json" ] || fail "the intent outlived the removal" || return 1
}

test_corrupt_state_refused_with_path() {
	node_create n1 || return 1
	agent_start n1 || return 1
	expect_ok "run web" mseg_on n1 run -d --name web || return 1
	agent_kill n1
	local f=$MT_DIR/n1/state/endpoints.json
	head -c 40 "$f" >"$f.torn" && cp "$f.torn" "$f"
	! agent_start n1 2>/dev/null || fail "msegd started on a torn endpoints.json" || return 1
	grep -q "refusing to start: $f: " "$MT_DIR/n1/msegd.log" ||
		fail "message does not name $f: $(agent_log n1)" || return 1
	cmp -s "$f" "$f.torn" || fail "msegd changed the corrupt file" || return 1
}

# ---- the control socket -------------------------------------------------------------------

test_socket_refuses_non_root() {
	local sock out
	node_create n1 || return 1
	agent_start n1 || return 1
	sock=$(node_socket n1)
	[ "$(stat -c %a "$sock")" = 600 ] || fail "socket mode is $(stat -c %a "$sock")" || return 1
	# Even with the file mode opened up, msegd itself checks the peer's credentials.
	chmod 0666 "$sock"
	chmod 0755 "$MT_DIR" "$MT_DIR/n1"
	out=$(MSEG_SOCKET=$sock ip netns exec "$MT-n1" setpriv --reuid=65534 --regid=65534 \
		--clear-groups "$MSEG" ps 2>&1) && fail "non-root was served: $out" && return 1
	case $out in *"root only (peer uid 65534)"*) ;; *) fail "unexpected reply: $out" || return 1 ;; esac
	expect_ok "root still served" mseg_on n1 ps || return 1
}

test_socket_survives_garbage() {
	local sock out
	node_create n1 || return 1
	agent_start n1 || return 1
	sock=$(node_socket n1)
	out=$(printf 'not json\n{"op": 42}\n{"op":"no.such.op"}\n[1,2]\n{"op":"endpoint.list","args":7}\n' |
		on n1 socat -t 2 - "UNIX-CONNECT:$sock")
	[ "$(grep -c '"error"' <<<"$out")" = 5 ] || fail "not five error replies: $out" || return 1
	grep -q '"code":"malformed-request"' <<<"$out" || fail "no malformed-request: $out" || return 1
	grep -q "unknown op 'no.such.op'" <<<"$out" || fail "no unknown-op: $out" || return 1
	# A line over 1 MiB: one error, the rest of the line skipped, the next request served.
	out=$({ head -c 1100000 /dev/zero | tr '\0' 'x'; printf '\n{"op":"namespace.list"}\n'; } |
		on n1 socat -t 5 - "UNIX-CONNECT:$sock")
	grep -q '"code":"request-too-large"' <<<"$out" || fail "no request-too-large: ${out:0:200}" || return 1
	grep -q '^{"result":\[' <<<"$out" || fail "request after the long line not served: $out" || return 1
	kill -0 "$(cat "$MT_DIR/n1/msegd.pid")" || fail "msegd died: $(agent_log n1)" || return 1
	expect_ok "still serving" mseg_on n1 ps || return 1
}

test_cli_without_agent() {
	node_create n1 || return 1
	agent_start n1 || return 1
	agent_kill n1 KILL
	expect_fail "ps without agent" mseg_on n1 ps || return 1
	expect_output_contains "message" \
		"mseg: cannot reach msegd at $(node_socket n1): Connection refused (is msegd running?)" \
		mseg_on n1 ps || return 1
}
