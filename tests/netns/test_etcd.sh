# SPDX-License-Identifier: Apache-2.0
# The etcd client (agent/etcd.h) against a real etcd 3.4 running in the test's underlay
# namespace (cluster_lib.sh), driven by build/tests/netns/etcd-tool: every unary operation,
# lease expiry, the non-blocking watch across an etcd restart and a compaction, endpoint
# failover, and identity/pod-CIDR allocation by three concurrent nodes.
source "$MSEG_TOP/tests/netns/cluster_lib.sh"

ETCD_TOOL=${ETCD_TOOL:-$BUILD/tests/netns/etcd-tool}

etcd_ready() {
	[ -x "$ETCD_TOOL" ] || { skip "etcd-tool not built ($ETCD_TOOL)"; return 77; }
	command -v etcd >/dev/null || { skip "etcd not installed (etcd-server)"; return 77; }
	cluster_underlay_create || return 1
	cluster_etcd_start || return 1
}

# et [ARGS...]: the tool inside the underlay namespace, talking to the test's etcd.
et() { ip netns exec "$MT-ul" "$ETCD_TOOL" "$ETCD_URL" "$@"; }

test_etcd_every_operation() {
	etcd_ready || return $?
	expect_output_contains "selftest" "ok" et selftest /mseg-test || return 1
}

test_etcd_lease_expires_without_keepalive() {
	etcd_ready || return $?
	expect_output_contains "lease expiry" "ok" et lease-expiry /mseg-test || return 1
}

test_etcd_endpoint_failover() {
	etcd_ready || return $?
	# The first endpoint refuses (nothing listens on 127.0.0.1:1 in the underlay namespace).
	expect_ok "put via second endpoint" ip netns exec "$MT-ul" "$ETCD_TOOL" \
		"http://127.0.0.1:1,$ETCD_URL" put /f/k v || return 1
	expect_output_contains "get back" "v" et get /f/k || return 1
	expect_fail "no endpoint answers" ip netns exec "$MT-ul" "$ETCD_TOOL" \
		"http://127.0.0.1:1" put /f/k v || return 1
	expect_output_contains "bad endpoint list" "Invalid argument" \
		ip netns exec "$MT-ul" "$ETCD_TOOL" "ftp://x" get /f/k || return 1
}

# wait_line FILE PATTERN [SECONDS]: until FILE has a line matching the regex.
wait_line() { wait_for "${3:-10}" grep -Eq "$2" "$1"; }

test_etcd_watch_survives_restart_and_reports_compaction() {
	etcd_ready || return $?
	local out="$MT_DIR/watch.out" pid rev n
	et put /w/before 0 >/dev/null || return 1
	ip netns exec "$MT-ul" "$ETCD_TOOL" "$ETCD_URL" watch /w/ 0 >"$out" 2>&1 &
	pid=$!
	wait_line "$out" '^connected ' || fail "watch never connected: $(cat "$out")" || return 1

	et put /w/a 1 >/dev/null || return 1
	et put /w/a 2 >/dev/null || return 1
	ip netns exec "$MT-ul" curl -s -m 2 -X POST "$ETCD_URL/v3/kv/deleterange" \
		-d '{"key":"L3cvYQ=="}' >/dev/null || return 1 # base64("/w/a")
	et put /x/outside 1 >/dev/null || return 1
	wait_line "$out" '^delete /w/a ' || fail "no delete event: $(cat "$out")" || return 1
	grep -q '^put /w/a 1 ' "$out" && grep -q '^put /w/a 2 ' "$out" ||
		fail "missing put events: $(cat "$out")" || return 1
	# Watching from now: the key written before is not replayed; other prefixes never show.
	! grep -q 'before\|outside' "$out" || fail "unexpected events: $(cat "$out")" || return 1

	# etcd restarts: the watch notices, reconnects by itself and resumes where it was.
	cluster_etcd_stop || return 1
	wait_line "$out" '^disconnected' || fail "no disconnect: $(cat "$out")" || return 1
	et put /w/while-down 1 >/dev/null 2>&1 && fail "etcd still answers" && return 1
	cluster_etcd_start || return 1
	et put /w/b 1 >/dev/null || return 1
	wait_line "$out" '^put /w/b 1 ' || fail "no event after restart: $(cat "$out")" || return 1
	[ "$(grep -c '^connected ' "$out")" = 2 ] || fail "not reconnected once: $(cat "$out")" ||
		return 1
	# Nothing replayed twice.
	[ "$(grep -c '^put /w/a 1 ' "$out")" = 1 ] || fail "replayed: $(cat "$out")" || return 1

	# While the watcher is frozen, etcd restarts, more is written and history is compacted:
	# resuming is impossible, the watcher reports it, resyncs and follows again.
	kill -STOP "$pid"
	cluster_etcd_stop || { kill -CONT "$pid"; return 1; }
	cluster_etcd_start || { kill -CONT "$pid"; return 1; }
	et put /w/c 1 >/dev/null && et put /w/d 1 >/dev/null
	rev=$(et put /w/e 1) || { kill -CONT "$pid"; return 1; }
	et compact "$rev" || { kill -CONT "$pid"; return 1; }
	kill -CONT "$pid"
	wait_line "$out" '^compacted ' || fail "no compaction reported: $(cat "$out")" || return 1
	wait_line "$out" '^resync ' || fail "no resync: $(cat "$out")" || return 1
	# The resync sees every key under the prefix: before, b, c, d, e.
	n=$(awk '/^resync/ {print $2}' "$out" | tail -n1)
	[ "$n" = 5 ] || fail "resync saw $n keys: $(cat "$out")" || return 1
	et put /w/f 1 >/dev/null || return 1
	wait_line "$out" '^put /w/f 1 ' || fail "no event after resync: $(cat "$out")" || return 1
	! grep -q '^put /w/c ' "$out" || fail "compacted events delivered: $(cat "$out")" ||
		return 1
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# The three nodes of a cluster allocate concurrently, each from its own namespace.
test_etcd_concurrent_identity_allocation_agrees() {
	etcd_ready || return $?
	local i pids=() all="$MT_DIR/ids.all"
	for i in 1 2 3; do cluster_node_join "n$i" "$i" || return 1; done
	# 3 processes x 50 allocations over 75 label sets in different orders: every set is
	# wanted by two processes on average, many at the same moment.
	for i in 1 2 3; do
		on "n$i" "$ETCD_TOOL" "$ETCD_URL" alloc /mseg 75 50 "$i" >"$MT_DIR/ids.$i" 2>&1 &
		pids+=($!)
	done
	for i in 0 1 2; do wait "${pids[$i]}" || fail "allocator $((i + 1)) failed: $(cat "$MT_DIR/ids.$((i + 1))")" || return 1; done
	cat "$MT_DIR"/ids.[123] >"$all"
	[ "$(wc -l <"$all")" = 150 ] || fail "expected 150 allocations, got $(wc -l <"$all")" ||
		return 1
	# One id per label set everywhere...
	[ "$(sort -u "$all" | awk '{print $1}' | uniq -d | wc -l)" = 0 ] ||
		fail "a label set got two ids: $(sort -u "$all" | awk '{print $1}' | uniq -d)" ||
		return 1
	# ...and never one id for two label sets.
	[ "$(sort -u "$all" | awk '{print $2}' | sort | uniq -d | wc -l)" = 0 ] ||
		fail "an id was handed out twice" || return 1
	# Ids start at 256 and are dense: the distinct sets got 256..256+N-1.
	local n min max
	n=$(sort -u "$all" | wc -l)
	min=$(sort -u "$all" | awk '{print $2}' | sort -n | head -n1)
	max=$(sort -u "$all" | awk '{print $2}' | sort -n | tail -n1)
	[ "$min" = 256 ] && [ "$max" = $((256 + n - 1)) ] ||
		fail "ids $min..$max for $n label sets" || return 1
	# etcd agrees: the counter and one by-id key per set.
	expect_output_contains "counter" "$((256 + n))" et get /mseg/ids/next || return 1
	# Allocating again (a restarted agent) returns the same ids.
	on n2 "$ETCD_TOOL" "$ETCD_URL" alloc /mseg 75 50 1 >"$MT_DIR/ids.again" || return 1
	cmp -s "$MT_DIR/ids.1" "$MT_DIR/ids.again" || fail "ids changed on re-allocation" ||
		return 1
}

test_etcd_pod_cidr_slots() {
	etcd_ready || return $?
	local i pids=() s
	for i in 1 2 3 4; do
		et slot /mseg/podcidrs "node$i" 1 3 >"$MT_DIR/slot.$i" 2>&1 &
		pids+=($!)
	done
	# Four nodes race for three slots: three win distinct ones, one gets ENOSPC.
	local ok=0
	for i in 0 1 2 3; do wait "${pids[$i]}" && ok=$((ok + 1)); done
	[ "$ok" = 3 ] || fail "$ok nodes got a slot: $(cat "$MT_DIR"/slot.*)" || return 1
	[ "$(cat "$MT_DIR"/slot.* | grep -xE '[123]' | sort -u | wc -l)" = 3 ] ||
		fail "slots not distinct: $(cat "$MT_DIR"/slot.*)" || return 1
	expect_output_contains "full" "No space left" cat "$MT_DIR"/slot.* || return 1
	# A node that rejoins gets its slot back; a released slot goes to the next node.
	for i in 1 2 3 4; do
		s=$(grep -xE '[123]' "$MT_DIR/slot.$i") || continue
		[ "$(et slot /mseg/podcidrs "node$i" 1 3)" = "$s" ] ||
			fail "node$i did not get slot $s back" || return 1
		expect_ok "release node$i" et release /mseg/podcidrs "node$i" || return 1
		expect_output_contains "freed slot reused" "$s" et slot /mseg/podcidrs other 1 3 ||
			return 1
		return 0
	done
	fail "no node got a slot"
}

# fnv1a64 TEXT: the hash agent/etcd_alloc.c names a label set's key by (16 hex digits).
fnv1a64() {
	python3 -c 'import sys
h = 0xcbf29ce484222325
for b in sys.argv[1].encode():
    h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
print("%016x" % h)' "$1"
}

test_etcd_allocation_collisions_and_claimed_ids() {
	etcd_ready || return $?
	command -v python3 >/dev/null || { skip "python3 missing (computes the key hash)"; return 77; }
	local h
	h=$(fnv1a64 "app=l0") || return 1
	# Another label set already sits under app=l0's hash, and id 256 is claimed although the
	# counter does not exist (restored by hand): app=l0 must get neither 256 nor that key.
	et put "/mseg/ids/by-labels/$h" '{"id":300,"labels":"app=other"}' >/dev/null || return 1
	et put /mseg/ids/by-id/256 "app=ghost" >/dev/null || return 1
	expect_output_contains "probe and step past" "app=l0 257" et alloc /mseg 1 1 0 || return 1
	expect_output_contains "probed key" '"id":257' et get "/mseg/ids/by-labels/$h.1" || return 1
	expect_output_contains "colliding key untouched" "app=other" \
		et get "/mseg/ids/by-labels/$h" || return 1
	expect_output_contains "ghost untouched" "app=ghost" et get /mseg/ids/by-id/256 || return 1
	expect_output_contains "counter" "258" et get /mseg/ids/next || return 1
	# Asked again, the same id comes back from the probed key.
	expect_output_contains "stable" "app=l0 257" et alloc /mseg 1 1 0 || return 1
}
