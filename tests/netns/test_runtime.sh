# SPDX-License-Identifier: Apache-2.0
# The runtime's routed container network (runtime/container_net.h) inside a node namespace,
# driven through build/tests/netns/runtime-tool. The tool enters the node with setns (-n), so
# container namespaces it binds under /run/netns are visible to `ip netns` here.

RT=${RT:-$BUILD/tests/netns/runtime-tool}

rt_ready() {
	[ -x "$RT" ] || { skip "runtime-tool not built ($RT)"; return 77; }
	node_create n1 || return 1
}

# rt NODE ARGS...: the tool inside NODE's network namespace.
rt() {
	local node=$1
	shift
	"$RT" -n "$MT-$node" "$@"
}

# container NODE NAME HOSTIF ADDR: a namespace $MT-NODE-NAME with the routed network on HOSTIF.
container() {
	local node=$1 name=$2 ifname=$3 addr=$4
	expect_ok "create namespace $name" rt "$node" netns-create "$MT-$node-$name" || return 1
	expect_ok "set up $name" rt "$node" setup "$MT-$node-$name" "$ifname" "$addr" || return 1
}

test_runtime_two_containers_ping_through_node() {
	rt_ready || return $?
	local c1="$MT-n1-c1" c2="$MT-n1-c2" mac1 hostmac1
	container n1 c1 "${MT}c1" 10.200.0.2 || return 1
	container n1 c2 "${MT}c2" 10.200.0.3 || return 1

	# Both namespaces are where `ip netns` looks, with lo up.
	expect_output_contains "ip netns lists c1" "$c1" ip netns list || return 1
	expect_output_contains "lo up in c1" "UP" ip -n "$c1" link show lo || return 1

	# Container side: eth0 (not moved: created there), its /32, gateway route, default route,
	# permanent gateway neighbour pointing at the host veth's MAC.
	hostmac1=$(ip -n "$MT-n1" -o link show "${MT}c1" | grep -o 'link/ether [0-9a-f:]*' |
		awk '{print $2}')
	[ -n "$hostmac1" ] || fail "no MAC on ${MT}c1" || return 1
	expect_output_contains "c1 eth0 address" "inet 10.200.0.2/32" ip -n "$c1" addr show eth0 ||
		return 1
	expect_output_contains "c1 eth0 MAC from address" "link/ether 02:00:0a:c8:00:02" \
		ip -n "$c1" link show eth0 || return 1
	expect_output_contains "c1 gateway route" "169.254.1.1 dev eth0" ip -n "$c1" route ||
		return 1
	expect_output_contains "c1 default route" "default via 169.254.1.1 dev eth0" \
		ip -n "$c1" route || return 1
	expect_output_contains "c1 gateway neighbour" "169.254.1.1 dev eth0 lladdr $hostmac1 PERMANENT" \
		ip -n "$c1" neigh || return 1

	# Node side: host veth up, /32 route, permanent neighbour to the container MAC.
	expect_output_contains "host veth up" "state UP" ip -n "$MT-n1" link show "${MT}c1" ||
		return 1
	expect_output_contains "node route to c1" "10.200.0.2 dev ${MT}c1" ip -n "$MT-n1" route ||
		return 1
	mac1=$(ip -n "$c1" -o link show eth0 | grep -o 'link/ether [0-9a-f:]*' | awk '{print $2}')
	expect_output_contains "node neighbour for c1" "10.200.0.2 dev ${MT}c1 lladdr $mac1 PERMANENT" \
		ip -n "$MT-n1" neigh || return 1

	# Routed through the node (TTL drops by one), both ways, with no address on the node.
	expect_output_contains "c1 -> c2" "ttl=63" \
		ip netns exec "$c1" ping -c1 -W2 10.200.0.3 || return 1
	expect_output_contains "c2 -> c1" "ttl=63" \
		ip netns exec "$c2" ping -c1 -W2 10.200.0.2 || return 1
	[ -z "$(ip -n "$MT-n1" -4 addr show scope global)" ] ||
		fail "node namespace got an address" || return 1
}

test_runtime_mtu_applies_to_both_sides() {
	rt_ready || return $?
	expect_ok "create namespace" rt n1 netns-create "$MT-n1-c1" || return 1
	expect_ok "setup mtu 1450" rt n1 setup "$MT-n1-c1" "${MT}c1" 10.200.0.2 1450 || return 1
	expect_output_contains "host mtu" "mtu 1450" ip -n "$MT-n1" link show "${MT}c1" || return 1
	expect_output_contains "container mtu" "mtu 1450" ip -n "$MT-n1-c1" link show eth0 ||
		return 1
}

test_runtime_teardown_removes_veth_and_route() {
	rt_ready || return $?
	local c1="$MT-n1-c1"
	container n1 c1 "${MT}c1" 10.200.0.2 || return 1
	container n1 c2 "${MT}c2" 10.200.0.3 || return 1
	expect_ok "teardown c1" rt n1 teardown "${MT}c1" 10.200.0.2 || return 1
	expect_fail "host veth gone" ip -n "$MT-n1" link show "${MT}c1" || return 1
	expect_fail "peer gone" ip -n "$c1" link show eth0 || return 1
	if ip -n "$MT-n1" route | grep -q '^10.200.0.2 '; then
		fail "route to 10.200.0.2 left behind" || return 1
	fi
	# The other container is untouched.
	expect_output_contains "c2 route kept" "10.200.0.3 dev ${MT}c2" ip -n "$MT-n1" route ||
		return 1
	# Idempotent: a second teardown of what is gone succeeds.
	expect_ok "teardown again" rt n1 teardown "${MT}c1" 10.200.0.2 || return 1
	# Reaping without the address (a crash before it was recorded) removes link and route.
	expect_ok "teardown c2 by name only" rt n1 teardown "${MT}c2" || return 1
	expect_fail "c2 veth gone" ip -n "$MT-n1" link show "${MT}c2" || return 1
	if ip -n "$MT-n1" route | grep -q '^10.200.0.3 '; then
		fail "route to 10.200.0.3 left behind" || return 1
	fi
	expect_ok "delete namespace" rt n1 netns-delete "$c1" || return 1
	if ip netns list | grep -q "^$c1\b"; then fail "namespace $c1 still listed" || return 1; fi
	[ ! -e "/run/netns/$c1" ] || fail "/run/netns/$c1 left behind" || return 1
	expect_ok "delete namespace again" rt n1 netns-delete "$c1" || return 1
	expect_fail "namespace no longer exists" rt n1 netns-exists "$c1" || return 1
}

test_runtime_duplicate_host_ifname_leaves_nothing() {
	rt_ready || return $?
	container n1 c1 "${MT}c1" 10.200.0.2 || return 1
	expect_ok "create namespace c2" rt n1 netns-create "$MT-n1-c2" || return 1
	expect_output_contains "duplicate veth name refused" "File exists" \
		rt n1 setup "$MT-n1-c2" "${MT}c1" 10.200.0.3 || return 1
	expect_fail "no eth0 in c2" ip -n "$MT-n1-c2" link show eth0 || return 1
	if ip -n "$MT-n1" route | grep -q '^10.200.0.3 '; then
		fail "route to 10.200.0.3 made by a failed setup" || return 1
	fi
	# The existing container still has its veth, route and connectivity to the node side.
	expect_output_contains "c1 route kept" "10.200.0.2 dev ${MT}c1" ip -n "$MT-n1" route ||
		return 1
	expect_output_contains "c1 eth0 kept" "10.200.0.2/32" ip -n "$MT-n1-c1" addr show eth0 ||
		return 1
}

test_runtime_failure_half_way_is_undone() {
	rt_ready || return $?
	# A node route to the address already exists: the veth and the container side are made,
	# then the node route fails; everything made so far must go.
	expect_ok "other link" ip -n "$MT-n1" link add "${MT}d" type veth peer name "${MT}e" ||
		return 1
	expect_ok "other link up" ip -n "$MT-n1" link set "${MT}d" up || return 1
	expect_ok "competing route" ip -n "$MT-n1" route add 10.200.0.7/32 dev "${MT}d" || return 1
	expect_ok "create namespace" rt n1 netns-create "$MT-n1-c1" || return 1
	expect_output_contains "setup fails on the route" "File exists" \
		rt n1 setup "$MT-n1-c1" "${MT}c1" 10.200.0.7 || return 1
	expect_fail "host veth removed" ip -n "$MT-n1" link show "${MT}c1" || return 1
	expect_fail "eth0 removed" ip -n "$MT-n1-c1" link show eth0 || return 1
	expect_output_contains "the competing route is not ours to remove" "10.200.0.7 dev ${MT}d" \
		ip -n "$MT-n1" route || return 1
	# The namespace is reusable: the same setup with a free address works.
	expect_ok "setup after failure" rt n1 setup "$MT-n1-c1" "${MT}c1" 10.200.0.8 || return 1
}

test_runtime_bad_input_is_refused() {
	rt_ready || return $?
	expect_ok "create namespace" rt n1 netns-create "$MT-n1-c1" || return 1
	expect_output_contains "duplicate namespace" "File exists" \
		rt n1 netns-create "$MT-n1-c1" || return 1
	expect_output_contains "missing namespace" "No such file or directory" \
		rt n1 setup "$MT-n1-nope" "${MT}c1" 10.200.0.2 || return 1
	expect_output_contains "name too long" "Invalid argument" \
		rt n1 setup "$MT-n1-c1" "${MT}-much-too-long" 10.200.0.2 || return 1
	expect_output_contains "multicast address" "Invalid argument" \
		rt n1 setup "$MT-n1-c1" "${MT}c1" 224.0.0.1 || return 1
	expect_output_contains "slash in namespace name" "Invalid argument" \
		rt n1 netns-create "$MT-n1/x" || return 1
	expect_fail "nothing made in c1" ip -n "$MT-n1-c1" link show eth0 || return 1
	[ "$(ip -n "$MT-n1" -o link | wc -l)" = 1 ] || fail "links left in the node" || return 1
}

test_runtime_setup_takes_milliseconds() {
	rt_ready || return $?
	local out setup
	out=$(rt n1 bench 50 "$MT-n1-b" 10.201.0.0/24) || fail "bench failed: $out" || return 1
	echo "$out"
	setup=$(echo "$out" | sed -n 's/.*setup_median_us=\([0-9]*\).*/\1/p')
	[ -n "$setup" ] || fail "no figure in '$out'" || return 1
	# A few milliseconds expected (about 0.5 ms here); 20 ms leaves room for a loaded machine.
	[ "$setup" -lt 20000 ] || fail "setup median ${setup} us, expected a few ms" || return 1
	if ip netns list | grep -q "^$MT-n1-b"; then fail "bench namespaces left" || return 1; fi
}
