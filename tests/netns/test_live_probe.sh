# SPDX-License-Identifier: Apache-2.0
# `mseg probe` itself: that it measures real reachability, whatever enforces it. Drops are made
# with an nftables table inside the containers' own namespaces (made by this run's agent), so
# these tests need no policy engine; the live truth tables (test_live_truth.sh) then use the
# probe to check the agent's enforcement.
source "$MSEG_TOP/tests/netns/live_lib.sh"

# probe_nft NS/NAME RULES: an nftables table of this test inside a container's namespace.
probe_nft() {
	local ns=${1%/*} name=${1#*/}
	ip netns exec "$MT-n1-${ns}_$name" nft -f - <<EOF
table inet $MT
delete table inet $MT
table inet $MT {
	chain in {
		type filter hook input priority 0; policy accept;
		$2
	}
}
EOF
}

# probe_sockets NS/NAME: every socket (TCP, UDP, SCTP, raw) left in a container's namespace.
probe_sockets() {
	local ns=${1%/*} name=${1#*/}
	ip netns exec "$MT-n1-${ns}_$name" ss -Htuwan
}
probe_no_sockets() { [ -z "$(probe_sockets "$1")" ]; }

# Three containers; drops by protocol and source inside y/a and x/b.
probe_small_topology() {
	live_node || return 1
	live_mseg namespace create x -l ns=x >/dev/null || return 1
	live_mseg namespace create y -l ns=y >/dev/null || return 1
	live_mseg run -d --name a --namespace x -l pod=a >/dev/null || return 1
	live_mseg run -d --name b --namespace x -l pod=b >/dev/null || return 1
	live_mseg run -d --name a --namespace y -l pod=a >/dev/null || return 1
}

probe_ip() { live_mseg ps -o json | jq -r --arg r "$1" '.[] | select("\(.namespace)/\(.name)" == $r) | .ip'; }

test_live_probe_sees_drops_per_protocol_and_source() {
	live_ready || return
	probe_small_topology || return 1
	local xa xb
	xa=$(probe_ip x/a) && xb=$(probe_ip x/b) || return 1
	# y/a: TCP 80 from x/a dropped, UDP 81 from x/b dropped, echo requests from x/b dropped
	probe_nft y/a "ip saddr $xa tcp dport 80 drop
		ip saddr $xb udp dport 81 drop
		ip saddr $xb icmp type echo-request drop" || return 1
	# x/b: drops everything from x/a, its answers too: x/b reaches nothing in x/a either
	probe_nft x/b "ip saddr $xa drop" || return 1
	cat >"$MT_DIR/want" <<'EOF'
port 80/tcp
x/a  . X X
x/b  X . .
y/a  . . .

port 81/tcp
x/a  . X .
x/b  X . .
y/a  . . .

port 81/udp
x/a  . X .
x/b  X . X
y/a  . . .

port 8/icmp
x/a  . X .
x/b  X . X
y/a  . . .
EOF
	local pp
	for pp in 80/tcp 81/tcp 81/udp 8/icmp; do
		live_mseg probe --port "$pp" -o json >"$MT_DIR/got" || return 1
		live_compare "$pp" "$MT_DIR/want" "$MT_DIR/got" || return 1
	done
}

test_live_probe_leaves_nothing_behind() {
	live_ready || return
	probe_small_topology || return 1
	local xa ep pp
	xa=$(probe_ip x/a) || return 1
	probe_nft y/a "ip saddr $xa drop" || return 1
	for pp in 80/tcp 81/udp 8/icmp; do
		expect_ok "probe $pp" live_mseg probe --port "$pp" --timeout 200 || return 1
	done
	# no listener and no TIME_WAIT or FIN_WAIT connection holding the port in any container.
	# A half-open request whose SYN-ACK was dropped outlives its closed listener until the
	# kernel's next SYN-ACK timer (1 s) drops it: wait that long, not the 60 s of TIME_WAIT.
	for ep in x/a x/b y/a; do
		wait_for 3 probe_no_sockets "$ep" ||
			fail "probe left sockets in $ep: $(probe_sockets "$ep")" || return 1
	done
	# so a server can take the port at once, without SO_REUSEADDR
	ip netns exec "$MT-n1-x_b" "$LIVE_PYTHON" -c '
import socket; s = socket.socket(); s.bind(("0.0.0.0", 80)); s.listen()' ||
		fail "port 80 of x/b cannot be bound right after a probe" || return 1
	# and no process of the probe is left anywhere
	! pgrep -f "$MSEG probe" >/dev/null || fail "a probe process outlived the probe"
}

test_live_probe_port_in_use_is_an_error() {
	live_ready || return
	probe_small_topology || return 1
	local pid out
	ip netns exec "$MT-n1-x_b" socat -u TCP-LISTEN:80,reuseaddr,fork OPEN:/dev/null &
	pid=$!
	wait_for 3 ip netns exec "$MT-n1-x_b" sh -c 'ss -Htln | grep -q ":80 "' ||
		{ kill "$pid"; fail "socat did not listen"; return 1; }
	out=$(live_mseg probe --port 80/tcp 2>&1)
	local rc=$?
	kill "$pid"
	wait "$pid" 2>/dev/null
	[ $rc = 1 ] || fail "probe with port 80 taken in x/b exited $rc: $out" || return 1
	case $out in *"cannot listen on"*"80/TCP in 'x/b'"*"in use"*) ;;
	*) fail "the error does not name the port and container: $out" || return 1 ;; esac
	# the listeners already opened in other containers went with the probe
	[ -z "$(probe_sockets x/a)" ] || fail "a listener was left in x/a: $(probe_sockets x/a)"
}

test_live_probe_all_pairs_take_one_timeout() {
	live_ready || return
	live_node || return 1
	live_topology || return 1
	# z/c drops every new connection from the others: 8 of 81 pairs end only by the timeout
	probe_nft z/c "ct state new ip saddr != 10.200.0.14 drop" || return 1
	local t0 t1 one ms pp
	for pp in 80/tcp 80/udp; do
		# the same command for one pair that times out: the fixed costs (exec, agent call)
		t0=$(date +%s%N)
		live_mseg probe --port "$pp" --timeout 400 --from z/a --to z/c >/dev/null || return 1
		t1=$(date +%s%N)
		one=$(((t1 - t0) / 1000000))
		t0=$(date +%s%N)
		live_mseg probe --port "$pp" --timeout 400 -o json >"$MT_DIR/got" || return 1
		t1=$(date +%s%N)
		ms=$(((t1 - t0) / 1000000))
		echo "$pp: 9x9 matrix with 8 timeouts of 400 ms in $ms ms, one such pair in $one ms"
		# one after another, the 8 timeouts alone would add 2.8 s to the single pair's time
		[ "$ms" -lt $((one + 800)) ] ||
			fail "$pp: the matrix took $ms ms, the single pair $one ms: not parallel" ||
			return 1
		[ "$(jq '[.allowed[] | .["z/c"]] | map(select(. == false)) | length' "$MT_DIR/got")" = 8 ] ||
			fail "$pp: expected 8 sources denied to z/c: $(cat "$MT_DIR/got")" || return 1
		[ "$(jq '[.allowed[][]] | map(select(. == true)) | length' "$MT_DIR/got")" = 73 ] ||
			fail "$pp: expected 73 allowed pairs: $(cat "$MT_DIR/got")" || return 1
	done
}

test_live_probe_selectors() {
	live_ready || return
	live_node || return 1
	live_topology || return 1
	local out
	live_mseg probe --port 80/tcp --from ns=x --to 'pod in (b,c),ns!=z' -o json >"$MT_DIR/got" ||
		return 1
	[ "$(jq -c '[.sources, .destinations]' "$MT_DIR/got")" = \
		'[["x/a","x/b","x/c"],["x/b","x/c","y/b","y/c"]]' ] ||
		fail "ns=x to 'pod in (b,c),ns!=z' picked: $(cat "$MT_DIR/got")" || return 1
	live_mseg probe --port 80/udp --from y/b --to 'z/*' -o json >"$MT_DIR/got" || return 1
	[ "$(jq -c '[.sources, .destinations, [.allowed["y/b"][]]]' "$MT_DIR/got")" = \
		'[["y/b"],["z/a","z/b","z/c"],[true,true,true]]' ] ||
		fail "y/b to z/*: $(cat "$MT_DIR/got")" || return 1
	expect_output_contains "no match" "--to: no container of this node matches" \
		live_mseg probe --port 80/tcp --to '!pod' || return 1
	out=$(live_mseg probe --port 80/tcp --from 'pod in a' 2>&1)
	[ $? = 2 ] || fail "a malformed selector is not a usage error: $out" || return 1
	case $out in *"'pod in a'"*parentheses*) ;; *) fail "unclear: $out" || return 1 ;; esac
	out=$(live_mseg probe --port 80/tcp --from 'Bad Key=1' 2>&1)
	[ $? = 2 ] || fail "a bad label key is not a usage error: $out" || return 1
	out=$(live_mseg probe --port 99999/tcp 2>&1)
	[ $? = 2 ] || fail "port 99999 is not a usage error: $out" || return 1
	out=$(live_mseg probe --port 3:1/icmp 2>&1)
	[ $? = 2 ] || fail "3:1/icmp is not a usage error: $out" || return 1
	case $out in *"echo requests (8/icmp)"*) ;; *) fail "unclear: $out" || return 1 ;; esac
	out=$(live_mseg probe --port 80/tcp --timeout 0 2>&1)
	[ $? = 2 ] || fail "--timeout 0 is not a usage error: $out" || return 1
}

# The probe prints exactly what `mseg policy matrix` prints for the same endpoints: with no
# policy both allow everything, and the two texts must be equal byte for byte.
test_live_probe_prints_the_policy_matrix_format() {
	live_ready || return
	live_node || return 1
	live_topology || return 1
	live_mseg ps -o json | jq '{namespaces: [{name: "x"}, {name: "y"}, {name: "z"}],
		endpoints: [.[] | {namespace, name, labels, ip, ports}]}' >"$MT_DIR/eps.json" ||
		return 1
	local pp
	for pp in 80/tcp 81/udp; do
		"$MSEG" policy matrix --endpoints "$MT_DIR/eps.json" --port "$pp" >"$MT_DIR/want" ||
			return 1
		live_mseg probe --port "$pp" >"$MT_DIR/got" || return 1
		diff -u "$MT_DIR/want" "$MT_DIR/got" >&2 ||
			fail "$pp: probe text differs from policy matrix text" || return 1
		"$MSEG" policy matrix --endpoints "$MT_DIR/eps.json" --port "$pp" -o json \
			>"$MT_DIR/want" || return 1
		live_mseg probe --port "$pp" -o json >"$MT_DIR/got" || return 1
		diff -u "$MT_DIR/want" "$MT_DIR/got" >&2 ||
			fail "$pp: probe JSON differs from policy matrix JSON" || return 1
	done
}

test_live_probe_sctp_or_a_clear_refusal() {
	live_ready || return
	probe_small_topology || return 1
	local out
	if out=$(live_mseg probe --port 80/sctp -o json 2>&1); then
		[ "$(jq '[.allowed[][]] | all' <<<"$out")" = true ] ||
			fail "SCTP without any drop is not allowed everywhere: $out"
		return
	fi
	case $out in
	*"80/SCTP is not supported by this kernel"*) echo "SCTP unavailable here: $out" ;;
	*) fail "SCTP probe failed without saying it is unsupported: $out" ;;
	esac
}
