# SPDX-License-Identifier: Apache-2.0
# Anti-spoofing through the agent (issue 4, both backends): a container that sends with a
# source address or MAC that is not its own is dropped on its host-side veth, and the drop is
# counted under its reason (bpf: the pinned per-CPU counters map, index reason * 2 + dir;
# nft: the named counters drop_spoofed_{ip,mac}_*). Packets with its own address and MAC,
# before and after, arrive: the receiver works and the drop is about the forgery alone.
source "$MSEG_TOP/tests/netns/live_lib.sh"

SPOOF_PORT=9000
# bpf/abi.h: MSEG_DROP_SPOOFED_IP, MSEG_DROP_SPOOFED_MAC
SPOOF_REASON_IP=4
SPOOF_REASON_MAC=5

spoof_netns() { echo "$MT-n1-${1%/*}_${1#*/}"; }
spoof_field() { live_mseg ps -o json | jq -r --arg r "$1" '.[] | select("\(.namespace)/\(.name)" == $r) | .'"$2"; }

# spoof_send NS/NAME SRC_IP DST_IP WORD: one UDP datagram WORD from SRC_IP inside the container.
spoof_send() {
	echo "$4" | ip netns exec "$(spoof_netns "$1")" \
		socat -u - "UDP-SENDTO:$3:$SPOOF_PORT,bind=$2" 2>&1
}

# spoof_drops DATAPATH REASON: packets dropped for REASON so far, both directions.
spoof_drops() {
	local dp=$1 reason=$2 name
	if [ "$dp" = bpf ]; then
		bpftool -j map dump pinned "$MT_DIR/n1/bpf/mseg_counters" 2>/dev/null |
			jq --argjson a $((reason * 2)) --argjson b $((reason * 2 + 1)) '
			if type != "array" then 0 else
			[.[] | (.formatted // .) | select(.key == $a or .key == $b) | .values[] |
			 (.value.packets // 0)] | add // 0 end'
	else
		[ "$reason" = $SPOOF_REASON_IP ] && name=spoofed_ip || name=spoofed_mac
		on n1 nft -j list counters table inet mseg 2>/dev/null |
			jq --arg n "drop_${name}_" '[.nftables[]? | .counter? | select(. != null) |
			select(.name | startswith($n)) | .packets] | add // 0'
	fi
}

# spoof_attached DATAPATH IFNAME: the agent's datapath sits on the container's host-side veth.
spoof_attached() {
	if [ "$1" = bpf ]; then
		on n1 tc filter show dev "$2" ingress 2>/dev/null | grep -q bpf
	else
		on n1 nft list table inet mseg 2>/dev/null | grep -q "\"$2\""
	fi
}

# spoof_setup DATAPATH: x/a the forger, x/b the receiver (recording every datagram), x/c the
# container whose address x/a borrows.
spoof_setup() {
	live_ready || return
	live_node --datapath "$1" || return 1
	live_mseg namespace create x >/dev/null || return 1
	local p
	for p in a b c; do live_mseg run -d --name $p --namespace x -l pod=$p >/dev/null || return 1; done
	if ! spoof_attached "$1" "$(spoof_field x/a interface)"; then
		skip "msegd --datapath $1 does not attach to endpoints yet"
		return
	fi
	: >"$MT_DIR/recv"
	ip netns exec "$(spoof_netns x/b)" socat -u \
		"UDP-RECV:$SPOOF_PORT,bind=$(spoof_field x/b ip)" "OPEN:$MT_DIR/recv,append" \
		>"$MT_DIR/socat.log" 2>&1 &
	wait_for 3 ip netns exec "$(spoof_netns x/b)" sh -c "ss -Huln | grep -q ':$SPOOF_PORT '" ||
		fail "the receiver in x/b does not listen"
}

# spoof_arrived WORD: the receiver got WORD (waits up to 2 s) / spoof_absent WORD: it did not.
spoof_arrived() { wait_for 2 grep -qx "$1" "$MT_DIR/recv" || fail "'$1' did not arrive: $(cat "$MT_DIR/recv")"; }
spoof_absent() { ! grep -qx "$1" "$MT_DIR/recv" || fail "'$1' arrived: the forgery passed"; }

spoof_ip_case() {
	local dp=$1 a_ip b_ip c_ip before after
	spoof_setup "$dp" || return
	a_ip=$(spoof_field x/a ip) b_ip=$(spoof_field x/b ip) c_ip=$(spoof_field x/c ip)
	spoof_send x/a "$a_ip" "$b_ip" legit-1 || return 1
	spoof_arrived legit-1 || return 1
	before=$(spoof_drops "$dp" $SPOOF_REASON_IP)
	# x/a takes x/c's address as a second one and sends from it (as `nc -s` would)
	ip -n "$(spoof_netns x/a)" addr add "$c_ip/32" dev eth0 || return 1
	spoof_send x/a "$c_ip" "$b_ip" forged-ip || return 1
	# and from an address no container has
	ip -n "$(spoof_netns x/a)" addr add 10.200.0.250/32 dev eth0 || return 1
	spoof_send x/a 10.200.0.250 "$b_ip" forged-ip-unused || return 1
	spoof_send x/a "$a_ip" "$b_ip" legit-2 || return 1
	spoof_arrived legit-2 || return 1
	sleep 0.3
	spoof_absent forged-ip || return 1
	spoof_absent forged-ip-unused || return 1
	after=$(spoof_drops "$dp" $SPOOF_REASON_IP)
	echo "spoofed-IP drops counted: $before -> $after"
	[ "${after:-0}" -ge $((${before:-0} + 2)) ] ||
		fail "the drops were not counted as spoofed source IP ($before -> $after)"
}

# spoof_set_mac NS/NAME MAC: a new MAC on the container's eth0. The kernel flushes the
# interface's neighbours on a MAC change, the gateway's permanent entry too: put it back, as
# a forger would, or nothing leaves the container at all.
spoof_set_mac() {
	local ns gw
	ns=$(spoof_netns "$1")
	gw=$(ip -n "$ns" -j neigh show 169.254.1.1 dev eth0 | jq -r '.[0].lladdr // empty')
	[ -n "$gw" ] || { fail "no neighbour entry for the gateway in $1"; return 1; }
	ip -n "$ns" link set eth0 address "$2" || return 1
	ip -n "$ns" neigh replace 169.254.1.1 lladdr "$gw" dev eth0 nud permanent
}

spoof_mac_case() {
	local dp=$1 a_ip b_ip mac before after
	spoof_setup "$dp" || return
	a_ip=$(spoof_field x/a ip) b_ip=$(spoof_field x/b ip)
	mac=$(ip -n "$(spoof_netns x/a)" -j link show eth0 | jq -r '.[0].address')
	spoof_send x/a "$a_ip" "$b_ip" legit-1 || return 1
	spoof_arrived legit-1 || return 1
	before=$(spoof_drops "$dp" $SPOOF_REASON_MAC)
	spoof_set_mac x/a 02:00:00:00:0e:99 || return 1
	spoof_send x/a "$a_ip" "$b_ip" forged-mac || return 1
	spoof_set_mac x/a "$mac" || return 1
	spoof_send x/a "$a_ip" "$b_ip" legit-2 || return 1
	spoof_arrived legit-2 || return 1
	sleep 0.3
	spoof_absent forged-mac || return 1
	after=$(spoof_drops "$dp" $SPOOF_REASON_MAC)
	echo "spoofed-MAC drops counted: $before -> $after"
	[ "${after:-0}" -ge $((${before:-0} + 1)) ] ||
		fail "the drop was not counted as spoofed source MAC ($before -> $after)"
}

test_live_antispoof_ip_bpf() { spoof_ip_case bpf; }
test_live_antispoof_ip_nft() { spoof_ip_case nft; }
test_live_antispoof_mac_bpf() { spoof_mac_case bpf; }
test_live_antispoof_mac_nft() { spoof_mac_case nft; }
