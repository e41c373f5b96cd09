# SPDX-License-Identifier: Apache-2.0
# The VXLAN overlay (runtime/vxlan.h) between three node namespaces joined by an underlay
# namespace: containers ping across nodes, peers join and leave, the MTU is the underlay's
# minus 50, and VXLAN from an address that is not a node is dropped and counted.
source "$MSEG_TOP/tests/netns/cluster_lib.sh"

overlay_ready() {
	[ -x "$OVERLAY_TOOL" ] || { skip "overlay-tool not built ($OVERLAY_TOOL)"; return 77; }
	[ -x "$RUNTIME_TOOL" ] || { skip "runtime-tool not built ($RUNTIME_TOOL)"; return 77; }
	cluster_mesh 3
}

c_ping() { # NODE ADDR [PING ARGS...]
	local node=$1 addr=$2
	shift 2
	ip netns exec "$MT-$node-c1" ping -c1 -W2 "$@" "$addr"
}

test_overlay_device_and_static_entries() {
	overlay_ready || return $?
	local ns="$MT-n1"
	expect_output_contains "vxlan id/port/nolearning" "vxlan id $CLUSTER_VNI local 10.250.0.1" \
		ip -d -n "$ns" link show mseg_vxlan || return 1
	expect_output_contains "dstport" "dstport $CLUSTER_VXLAN_PORT" \
		ip -d -n "$ns" link show mseg_vxlan || return 1
	expect_output_contains "no learning" "nolearning" ip -d -n "$ns" link show mseg_vxlan ||
		return 1
	expect_output_contains "mtu underlay-50" "mtu 1450" ip -n "$ns" link show mseg_vxlan ||
		return 1
	expect_output_contains "mac from gateway" "link/ether 02:00:0a:c8:01:00" \
		ip -n "$ns" link show mseg_vxlan || return 1
	expect_output_contains "gateway address" "inet 10.200.1.0/32" \
		ip -n "$ns" addr show mseg_vxlan || return 1
	# No remote or group on the device: every destination is a static FDB entry.
	if ip -d -n "$ns" link show mseg_vxlan | grep 'vxlan id' | grep -Eq ' (remote|group) '; then
		fail "device has a remote/group" || return 1
	fi
	expect_output_contains "BUM entry to n2" "00:00:00:00:00:00 dst 10.250.0.2 self permanent" \
		bridge -n "$ns" fdb show dev mseg_vxlan || return 1
	expect_output_contains "BUM entry to n3" "00:00:00:00:00:00 dst 10.250.0.3 self permanent" \
		bridge -n "$ns" fdb show dev mseg_vxlan || return 1
	expect_output_contains "unicast n2" "02:00:0a:c8:02:00 dst 10.250.0.2 self permanent" \
		bridge -n "$ns" fdb show dev mseg_vxlan || return 1
	expect_output_contains "neigh n3" "10.200.3.0 lladdr 02:00:0a:c8:03:00 PERMANENT" \
		ip -n "$ns" neigh show dev mseg_vxlan || return 1
	expect_output_contains "route n2" "10.200.2.0/24 via 10.200.2.0 dev mseg_vxlan" \
		ip -n "$ns" route || return 1
	expect_output_contains "onlink" "onlink" ip -n "$ns" route show 10.200.3.0/24 || return 1
	# Re-adding a peer (a retried join) succeeds and duplicates nothing.
	expect_ok "peer re-add" cluster_peer_add n1 2 || return 1
	[ "$(bridge -n "$ns" fdb show dev mseg_vxlan | grep -c 'dst 10.250.0.2')" = 2 ] ||
		fail "re-add duplicated FDB entries: $(bridge -n "$ns" fdb show dev mseg_vxlan)" ||
		return 1
}

test_overlay_containers_ping_across_nodes() {
	overlay_ready || return $?
	local i j
	for i in 1 2 3; do
		for j in 1 2 3; do
			[ "$i" = "$j" ] && continue
			# Two routed hops (source node, destination node): TTL 62 at the receiver's reply.
			expect_output_contains "n$i -> n$j" "ttl=62" c_ping "n$i" "10.200.$j.1" ||
				return 1
		done
	done
	# The node itself reaches remote pods from its gateway address.
	expect_ok "node n1 -> pod on n3" on n1 ping -c1 -W2 10.200.3.1 || return 1
	# A full-size packet (MTU 1450: 1422 bytes of ICMP payload) passes with DF set; one
	# byte more is refused at the container's own interface.
	expect_ok "1450-byte DF packet" c_ping n1 10.200.2.1 -M do -s 1422 || return 1
	expect_fail "1451-byte DF packet" c_ping n1 10.200.2.1 -M do -s 1423 || return 1
	expect_output_contains "container mtu" "mtu 1450" \
		ip -n "$MT-n1-c1" link show eth0 || return 1
}

test_overlay_peer_leaves_and_rejoins() {
	overlay_ready || return $?
	expect_ok "before leave" c_ping n1 10.200.3.1 || return 1
	expect_ok "n1 drops n3" cluster_peer_del n1 3 || return 1
	expect_fail "after leave" c_ping n1 10.200.3.1 || return 1
	[ -z "$(ip -n "$MT-n1" route show 10.200.3.0/24)" ] || fail "route to n3 left" || return 1
	if bridge -n "$MT-n1" fdb show dev mseg_vxlan | grep -q 'dst 10.250.0.3'; then
		fail "FDB entries for n3 left: $(bridge -n "$MT-n1" fdb show dev mseg_vxlan)" ||
			return 1
	fi
	if ip -n "$MT-n1" neigh show dev mseg_vxlan | grep -q '10.200.3.0'; then
		fail "neighbour for n3 left" || return 1
	fi
	# n2 is untouched, and removing again is not an error.
	expect_output_contains "n2 kept" "dst 10.250.0.2" bridge -n "$MT-n1" fdb show dev mseg_vxlan ||
		return 1
	expect_ok "n1 -> n2 still" c_ping n1 10.200.2.1 || return 1
	expect_ok "second removal" cluster_peer_del n1 3 || return 1
	expect_ok "n1 re-adds n3" cluster_peer_add n1 3 || return 1
	expect_ok "after rejoin" c_ping n1 10.200.3.1 || return 1
}

test_overlay_unknown_underlay_sender_dropped_and_counted() {
	overlay_ready || return $?
	local x="$MT-x" before after
	# A fourth machine on the underlay (10.250.0.99) that is not a node, with its own VXLAN
	# device that knows n1 as a peer (pod CIDR index 9, gateway 10.200.9.0).
	ip netns add "$x" || return 1
	ip -n "$x" link set lo up
	# No IPv6 there: its link-local chatter (router solicitations, MLD) would reach n1 as
	# VXLAN at random moments and move the counter between the exact reads below.
	ip netns exec "$x" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1 || return 1
	cluster_attach "$x" 99 || return 1
	expect_ok "intruder device" "$OVERLAY_TOOL" -n "$x" up mseg_vxlan "$CLUSTER_VNI" \
		10.250.0.99 "$CLUSTER_CIDR" 9 1450 "$CLUSTER_VXLAN_PORT" || return 1
	expect_ok "intruder knows n1" "$OVERLAY_TOOL" -n "$x" peer-add mseg_vxlan 10.250.0.1 \
		10.200.1.0/24 || return 1
	# Control: while n1 lists 10.250.0.99 as a node (and routes back to it), the very same
	# packets reach the container, so the drop below is the filter's doing.
	expect_ok "n1 peers x" "$OVERLAY_TOOL" -n "$MT-n1" peer-add mseg_vxlan 10.250.0.99 \
		10.200.9.0/24 || return 1
	expect_ok "filter with x" cluster_filter n1 1 2 3 99 || return 1
	expect_ok "x reaches c1 while known" on x ping -c1 -W2 10.200.1.1 || return 1

	before=$("$OVERLAY_TOOL" -n "$MT-n1" filter-counter | awk '{print $2}')
	expect_ok "filter without x" cluster_filter n1 1 2 3 || return 1
	expect_fail "x no longer reaches c1" on x ping -c3 -i0.2 -W1 10.200.1.1 || return 1
	after=$("$OVERLAY_TOOL" -n "$MT-n1" filter-counter | awk '{print $2}')
	[ "$((after - before))" -ge 3 ] ||
		fail "counter went from $before to $after, expected +3 drops" || return 1
	# Re-applying the same node list (every agent reconcile does) keeps the count.
	expect_ok "filter re-applied" cluster_filter n1 1 2 3 || return 1
	[ "$("$OVERLAY_TOOL" -n "$MT-n1" filter-counter | awk '{print $2}')" = "$after" ] ||
		fail "re-apply reset the counter" || return 1
	expect_output_contains "nft sees the counter" "counter vxlan_unknown" \
		on n1 nft list table inet mseg_overlay || return 1
	# Known nodes still pass the filter, and the counter does not move for them.
	expect_ok "n2 -> n1 through filter" c_ping n2 10.200.1.1 || return 1
	[ "$("$OVERLAY_TOOL" -n "$MT-n1" filter-counter | awk '{print $2}')" = "$after" ] ||
		fail "known node's packets were counted" || return 1
	# Removing the table is clean and idempotent.
	expect_ok "filter removed" "$OVERLAY_TOOL" -n "$MT-n1" filter-remove || return 1
	expect_ok "filter removed again" "$OVERLAY_TOOL" -n "$MT-n1" filter-remove || return 1
	expect_fail "table gone" on n1 nft list table inet mseg_overlay || return 1
}
