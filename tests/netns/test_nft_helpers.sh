# SPDX-License-Identifier: Apache-2.0
# Helpers of the nft backend scenarios (sourced by tests/netns/test_nft_*.sh; no tests here).
#
# A node namespace "$MT-n1" and one namespace per container "$MT-c<i>", wired by hand as in
# DESIGN.md §5: the container's eth0 has its /32 and a default route via 169.254.1.1, a
# permanent neighbour entry for the gateway pointing at the host-side veth; the node has a /32
# route and a permanent neighbour per container. dpdrive (tests/netns/dpdrive.c) programs
# table inet mseg in the node; probes are real TCP connections and UDP exchanges.

DPDRIVE=${DPDRIVE:-$BUILD/tests/netns/dpdrive}
NFT_EPS=() # index -> "ns/name"
NFT_IPS=() # index -> address

# nft_container I NS/NAME IP: container namespace $MT-c<I>, host side ${MT}h<I>.
nft_container() {
	local i=$1 ep=$2 ip=$3 c="$MT-c$1" hif="${MT}h$1" node="$MT-n1" hmac cmac
	ip netns add "$c" || return 1
	ip -n "$c" link set lo up
	ip -n "$node" link add "$hif" type veth peer name eth0 netns "$c" || return 1
	ip -n "$node" link set "$hif" up
	ip -n "$c" link set eth0 up
	ip -n "$c" addr add "$ip/32" dev eth0
	hmac=$(ip -n "$node" -br link show "$hif" | awk '{print $3}')
	cmac=$(ip -n "$c" -br link show eth0 | awk '{print $3}')
	ip -n "$c" route add 169.254.1.1 dev eth0 scope link
	ip -n "$c" route add default via 169.254.1.1 dev eth0
	ip -n "$c" neigh replace 169.254.1.1 lladdr "$hmac" dev eth0 nud permanent
	ip -n "$node" route add "$ip/32" dev "$hif"
	ip -n "$node" neigh replace "$ip" lladdr "$cmac" dev "$hif" nud permanent
	NFT_EPS[$i]=$ep
	NFT_IPS[$i]=$ip
	echo "--attach $ep=$hif,$cmac" >>"$MT_DIR/attach"
}

# nft_listen I: TCP 80 and 81 (accept and close) and UDP 80 and 81 (answer "pong") in c<I>.
nft_listen() {
	local c="$MT-c$1" p
	for p in 80 81; do
		ip netns exec "$c" socat TCP-LISTEN:$p,fork,reuseaddr SYSTEM:'echo pong' \
			</dev/null >/dev/null 2>&1 &
		ip netns exec "$c" socat UDP-RECVFROM:$p,fork,reuseaddr SYSTEM:'echo pong' \
			</dev/null >/dev/null 2>&1 &
	done
	wait_for 3 ip netns exec "$c" ss -Hltn "sport = :81" | grep -q . || true
}

# nft_setup_topology FILE: the node plus one container per endpoint of the endpoints file,
# in file order (only the ip: lines are read, with the namespace/name before them).
nft_setup_topology() {
	local file=$1 i=0 ns="" name="" line
	node_create n1 || return 1
	: >"$MT_DIR/attach"
	while IFS= read -r line; do
		case $line in
		*"- namespace:"*) ns=$(echo "$line" | sed 's/.*namespace: *//') ;;
		*"name:"*) [ -n "$ns" ] && [ -z "$name" ] && name=$(echo "$line" | sed 's/.*name: *//') ;;
		*"ip:"*)
			i=$((i + 1))
			nft_container "$i" "$ns/$name" "$(echo "$line" | sed 's/.*ip: *//')" || return 1
			ns=""
			name=""
			;;
		esac
	done <"$file"
	for i in "${!NFT_EPS[@]}"; do nft_listen "$i"; done
	sleep 0.3
}

nft_attach_args() { cat "$MT_DIR/attach"; }

# nft_index NS/NAME: the container index of an endpoint.
nft_index() {
	local i
	for i in "${!NFT_EPS[@]}"; do
		[ "${NFT_EPS[$i]}" = "$1" ] && echo "$i" && return 0
	done
	return 1
}

# tcp_probe I J PORT: 0 when c<I> completes a TCP connection to c<J>:PORT and reads "pong".
tcp_probe() {
	local out
	out=$(ip netns exec "$MT-c$1" timeout 2 socat -T1 - \
		"TCP:${NFT_IPS[$2]}:$3,connect-timeout=0.6" </dev/null 2>/dev/null)
	[ "$out" = pong ]
}

# udp_probe I J PORT: 0 when c<I> gets "pong" back from c<J>:PORT.
udp_probe() {
	local out
	out=$(echo ping | ip netns exec "$MT-c$1" timeout 2 socat -T0.6 - \
		"UDP:${NFT_IPS[$2]}:$3" 2>/dev/null)
	[ "$out" = pong ]
}

# dpdrive_run ARGS...: dpdrive inside the node.
dpdrive_run() {
	ip netns exec "$MT-n1" "$DPDRIVE" --datapath nft "$@"
}

# dpdrive_serve ARGS...: dpdrive --serve as a coprocess (DP[0] its stdout, DP[1] its stdin).
dpdrive_serve() {
	coproc DP { ip netns exec "$MT-n1" "$DPDRIVE" --datapath nft --serve "$@" 2>&1; }
	local line
	read -r -t 10 line <&"${DP[0]}" || return 1
	[ "$line" = ready ] || { echo "dpdrive: $line" >&2; return 1; }
}

# dp_cmd CMD...: one command to the served dpdrive; prints its answer lines up to "ok".
dp_cmd() {
	local line
	echo "$*" >&"${DP[1]}"
	while read -r -t 20 line <&"${DP[0]}"; do
		case $line in
		ok) return 0 ;;
		error:*) echo "$line" >&2; return 1 ;;
		*) echo "$line" ;;
		esac
	done
	return 1
}

nft_list() { ip netns exec "$MT-n1" nft list table inet mseg; }

# expect_reach PROTO I J PORT yes|no
expect_reach() {
	local proto=$1 i=$2 j=$3 port=$4 want=$5 got=no
	"${proto}_probe" "$i" "$j" "$port" && got=yes
	[ "$got" = "$want" ] && return 0
	fail "$proto ${NFT_EPS[$i]} -> ${NFT_EPS[$j]}:$port: reachable=$got, expected $want"
}
