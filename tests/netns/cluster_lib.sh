# SPDX-License-Identifier: Apache-2.0
# Multi-node helpers on top of tests/netns/lib.sh (source that first): an underlay namespace
# "$MT-ul" with a bridge joins node namespaces, etcd runs in the underlay, and each node can
# get a VXLAN device with static peers. Used by test_overlay.sh, test_etcd.sh and later by the
# cluster tests and `make demo-cluster`. Everything lives in namespaces carrying $MT and is
# removed by harness_cleanup (processes in $MT-* namespaces are killed, namespaces deleted).
#
# Addressing (all of it exists only inside the test's namespaces):
#   underlay      10.250.0.0/24: node with index N is 10.250.0.N, the underlay namespace's
#                 bridge is 10.250.0.254 (etcd listens there)
#   cluster CIDR  10.200.0.0/16: node N owns 10.200.N.0/24, its VXLAN device holds 10.200.N.0

OVERLAY_TOOL=${OVERLAY_TOOL:-$BUILD/tests/netns/overlay-tool}
RUNTIME_TOOL=${RUNTIME_TOOL:-$BUILD/tests/netns/runtime-tool}
CLUSTER_UL_NET=10.250.0
CLUSTER_UL_GW=$CLUSTER_UL_NET.254
CLUSTER_CIDR=10.200.0.0/16
CLUSTER_VNI=${CLUSTER_VNI:-42}
CLUSTER_VXLAN_PORT=${CLUSTER_VXLAN_PORT:-4789}
CLUSTER_UL_MTU=${CLUSTER_UL_MTU:-1500}
ETCD_PORT=2379
ETCD_URL=http://$CLUSTER_UL_GW:$ETCD_PORT

# cluster_underlay_create: the underlay namespace with bridge br0 (10.250.0.254/24).
cluster_underlay_create() {
	local ul="$MT-ul"
	ip netns add "$ul" || return 1
	ip -n "$ul" link set lo up || return 1
	ip -n "$ul" link add br0 type bridge || return 1
	ip -n "$ul" link set br0 up || return 1
	ip -n "$ul" addr add "$CLUSTER_UL_GW/24" dev br0 || return 1
}

# cluster_node_ip INDEX: the underlay address of node INDEX.
cluster_node_ip() { echo "$CLUSTER_UL_NET.$1"; }

# cluster_attach NS INDEX: a veth "ul0" in the existing namespace NS, its peer in the underlay
# bridge, address 10.250.0.INDEX/24. The pair is created inside the underlay namespace.
cluster_attach() {
	local ns=$1 idx=$2 ul="$MT-ul" port="ul$2"
	ip -n "$ul" link add "$port" mtu "$CLUSTER_UL_MTU" type veth peer name ul0 netns "$ns" \
		mtu "$CLUSTER_UL_MTU" || return 1
	ip -n "$ul" link set "$port" master br0 up || return 1
	ip -n "$ns" addr add "$(cluster_node_ip "$idx")/24" dev ul0 || return 1
	ip -n "$ns" link set ul0 up || return 1
}

# cluster_node_join NODE INDEX: node_create NODE and attach it to the underlay.
cluster_node_join() {
	node_create "$1" || return 1
	cluster_attach "$MT-$1" "$2" || return 1
}

# cluster_vxlan_up NODE INDEX: the node's VXLAN device mseg_vxlan (MTU underlay - 50) holding
# the .0 of its pod CIDR, without peers yet.
cluster_vxlan_up() {
	local node=$1 idx=$2
	"$OVERLAY_TOOL" -n "$MT-$node" up mseg_vxlan "$CLUSTER_VNI" "$(cluster_node_ip "$idx")" \
		"$CLUSTER_CIDR" "$idx" $((CLUSTER_UL_MTU - 50)) "$CLUSTER_VXLAN_PORT" >/dev/null
}

# cluster_peer_add NODE PEER_INDEX / cluster_peer_del: program (remove) the remote node of
# index PEER_INDEX on NODE's VXLAN device.
cluster_peer_add() {
	"$OVERLAY_TOOL" -n "$MT-$1" peer-add mseg_vxlan "$(cluster_node_ip "$2")" "10.200.$2.0/24"
}
cluster_peer_del() {
	"$OVERLAY_TOOL" -n "$MT-$1" peer-del mseg_vxlan "$(cluster_node_ip "$2")" "10.200.$2.0/24"
}

# cluster_filter NODE INDEX...: only these nodes' underlay addresses may send VXLAN to NODE.
cluster_filter() {
	local node=$1 ips=() i
	shift
	for i in "$@"; do ips+=("$(cluster_node_ip "$i")"); done
	"$OVERLAY_TOOL" -n "$MT-$node" filter "$CLUSTER_VXLAN_PORT" "${ips[@]}"
}

# cluster_container NODE INDEX NAME HOST_NUM: a container namespace $MT-NODE-NAME with the
# routed network at 10.200.INDEX.HOST_NUM, MTU matching the overlay.
cluster_container() {
	local node=$1 idx=$2 name=$3 num=$4
	"$RUNTIME_TOOL" -n "$MT-$node" netns-create "$MT-$node-$name" || return 1
	"$RUNTIME_TOOL" -n "$MT-$node" setup "$MT-$node-$name" "${MT}${node}${name}" \
		"10.200.$idx.$num" $((CLUSTER_UL_MTU - 50)) >/dev/null || return 1
}

# cluster_mesh N: nodes n1..nN on the underlay, each with its VXLAN device, every other node
# as a peer, the VXLAN filter listing all of them, and one container c1 (10.200.I.1) each.
cluster_mesh() {
	local n=$1 i j all=()
	for i in $(seq 1 "$n"); do all+=("$i"); done
	cluster_underlay_create || return 1
	for i in "${all[@]}"; do
		cluster_node_join "n$i" "$i" || return 1
		cluster_vxlan_up "n$i" "$i" || return 1
		cluster_container "n$i" "$i" c1 1 || return 1
	done
	for i in "${all[@]}"; do
		for j in "${all[@]}"; do
			[ "$i" = "$j" ] || cluster_peer_add "n$i" "$j" || return 1
		done
		cluster_filter "n$i" "${all[@]}" || return 1
	done
}

# cluster_etcd_start [NAME]: etcd (one member) in the underlay namespace on
# http://10.250.0.254:2379, data under $MT_DIR/etcd; waits until it answers. Restarting with
# the same data directory keeps the data (cluster_etcd_stop first).
cluster_etcd_start() {
	local dir="$MT_DIR/etcd" i
	mkdir -p "$dir" || return 1
	ip netns exec "$MT-ul" etcd --name "$MT" --data-dir "$dir/data" \
		--listen-client-urls "$ETCD_URL" --advertise-client-urls "$ETCD_URL" \
		--listen-peer-urls "http://$CLUSTER_UL_GW:2380" \
		--initial-advertise-peer-urls "http://$CLUSTER_UL_GW:2380" \
		--initial-cluster "$MT=http://$CLUSTER_UL_GW:2380" \
		>>"$dir/etcd.log" 2>&1 &
	echo $! >"$dir/etcd.pid"
	for i in $(seq 1 200); do
		ip netns exec "$MT-ul" curl -s -m 1 "$ETCD_URL/health" 2>/dev/null |
			grep -q '"health":"true"' && return 0
		kill -0 "$(cat "$dir/etcd.pid")" 2>/dev/null || break
		sleep 0.05
	done
	echo "etcd did not start:" >&2
	tail -n 20 "$dir/etcd.log" >&2
	return 1
}

# cluster_etcd_stop [SIGNAL]: stops etcd (default SIGTERM) and waits for it to exit.
cluster_etcd_stop() {
	local pid
	pid=$(cat "$MT_DIR/etcd/etcd.pid" 2>/dev/null) || return 0
	kill "-${1:-TERM}" "$pid" 2>/dev/null
	while kill -0 "$pid" 2>/dev/null; do sleep 0.02; done
	rm -f "$MT_DIR/etcd/etcd.pid"
}

# cluster_etcd_freeze / cluster_etcd_thaw: etcd hung (SIGSTOP) and back (SIGCONT). A hung etcd
# is the hard outage for a client: connections are accepted by the kernel and then nothing
# answers, so every call runs into its timeout instead of being refused at once.
# (harness_cleanup's SIGKILL ends a stopped etcd too.)
cluster_etcd_freeze() { kill -STOP "$(cat "$MT_DIR/etcd/etcd.pid")"; }
cluster_etcd_thaw() { kill -CONT "$(cat "$MT_DIR/etcd/etcd.pid")"; }

# cluster_ms CMD...: runs CMD (output discarded) and prints how long it took in ms; fails
# when CMD does.
cluster_ms() {
	local t0 t1 r
	t0=$(date +%s%N)
	"$@" >/dev/null 2>&1
	r=$?
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
	return $r
}

# ---- msegd clusters (issue 7) ---------------------------------------------------------------

# cluster_agent_start NODE INDEX [MSEGD ARGS...]: msegd in node NODE on the etcd store, its
# underlay address 10.250.0.INDEX, the overlay's port and VNI.
cluster_agent_start() {
	local node=$1 idx=$2
	shift 2
	agent_start "$node" --store etcd --etcd-endpoints "$ETCD_URL" --etcd-prefix /mseg \
		--node-ip "$(cluster_node_ip "$idx")" --vxlan-port "$CLUSTER_VXLAN_PORT" \
		--vxlan-vni "$CLUSTER_VNI" "$@"
}

# cluster_up N [MSEGD ARGS...]: underlay, etcd in it, nodes n1..nN each with its agent, started
# in order (so node nI gets pod CIDR slot I: 10.200.I.0/24).
cluster_up() {
	local n=$1 i
	shift
	cluster_underlay_create || return 1
	cluster_etcd_start || return 1
	for i in $(seq 1 "$n"); do
		cluster_node_join "n$i" "$i" || return 1
		cluster_agent_start "n$i" "$i" "$@" || return 1
	done
}

# cluster_ep_field NODE NS/NAME FIELD: one field of a local endpoint of NODE.
cluster_ep_field() {
	mseg_on "$1" ps -o json | jq -r --arg ns "${2%/*}" --arg n "${2#*/}" \
		'.[] | select(.namespace == $ns and .name == $n) | .'"$3"
}

# cluster_serve NODE NS/NAME PORT: a TCP echo server in that container, up before returning.
cluster_serve() {
	mseg_on "$1" exec "$2" -- socat TCP-LISTEN:"$3",fork,reuseaddr EXEC:/bin/cat \
		>/dev/null 2>&1 &
	cluster_wait 10 mseg_on "$1" exec "$2" -- sh -c "ss -ltn | grep -q ':$3 '" ||
		fail "no server on $1 $2:$3"
}

# cluster_tcp NODE NS/NAME ADDR PORT [TIMEOUT]: that container reaches ADDR:PORT (echo back).
cluster_tcp() {
	local out
	out=$(echo mseg-ping | mseg_on "$1" exec "$2" -- timeout 2 socat -T1 - \
		TCP:"$3":"$4",connect-timeout="${5:-1}" 2>/dev/null)
	[ "$out" = mseg-ping ]
}

# cluster_wait SECONDS CMD...: CMD succeeds within SECONDS of wall time (on a loaded machine a
# single try can take a second, so the deadline is the clock's, not a number of tries).
cluster_wait() {
	local end=$(($(date +%s) + $1))
	shift
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.1
	done
}

# cluster_status NODE FILTER: a jq FILTER of `mseg status -o json` on NODE.
cluster_status() { mseg_on "$1" status -o json | jq -r "$2"; }
