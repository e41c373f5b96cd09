# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash disable=SC2034
# Shared helpers of the benchmark parts (tools/bench/part_*.sh); sourced, defines no benchmark.
#
# Everything runs inside namespaces named "$MT-*" (the netns harness, tests/netns/lib.sh), which
# run.sh creates per run and removes on every path. Each part writes its results under
# $BENCH_OUT: "<part>.md" (its section of docs/benchmarks.md) and "<part>_*.dat" (plot data).

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MSEG_TOP=${MSEG_TOP:-$(cd "$BENCH_DIR/../.." && pwd)}
export MT=${MT:-mb$$}
export MT_DIR=${MT_DIR:-/run/mseg-bench/$MT}
# shellcheck source=../../tests/netns/lib.sh
source "$MSEG_TOP/tests/netns/lib.sh"
BENCH_OUT=${BENCH_OUT:-$MT_DIR/out}
BUILD_REL=${BUILD#"$MSEG_TOP"/}
QUICK=${QUICK:-}
[ "$QUICK" = 0 ] && QUICK=
UDPBLAST=$BUILD/tools/bench/udpblast
RR=$BUILD/tools/bench/rr
DPLOAD=$BUILD/tools/bench/dp-load
mkdir -p "$BENCH_OUT"

# Addresses of the two-container path (parts a and b): c1 sends, c2 receives.
SRC_IP=10.210.0.1
DST_IP=10.210.0.2

bench_log() { echo "bench: $*" >&2; }

# bench_note TEXT: a line for the part's section (skips, limits, what was not measured).
bench_note() { echo "$*" >>"$BENCH_OUT/$BENCH_PART.notes"; bench_log "$*"; }

# now_ns: a monotonic-enough clock for durations (bash's EPOCHREALTIME, no fork).
now_us() { local t=${EPOCHREALTIME/./}; echo "$t"; }

# stats V...: "median min max" of the values (median of an even count: the mean of the two).
stats() {
	printf '%s\n' "$@" | sort -g | awk 'NF {v[++n] = $1}
		END {
			if (n == 0) { print "nan nan nan"; exit }
			m = n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
			printf "%.6g %.6g %.6g\n", m, v[1], v[n]
		}'
}

# fmt_cell MEDIAN MIN MAX [DIGITS]: "median [min–max]" for a table cell.
fmt_cell() {
	awk -v m="$1" -v a="$2" -v b="$3" -v d="${4:-1}" 'BEGIN {
		if (m == "nan" || m == "") { print "n/a"; exit }
		f = "%." d "f"
		printf f " [" f "–" f "]\n", m, a, b }'
}

# ratio A B [DIGITS]: A / B, or n/a.
ratio() {
	awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN {
		if (a == "nan" || b == "nan" || a == "" || b == "" || b + 0 == 0) { print "n/a"; exit }
		printf "%." d "f\n", a / b }'
}

# met VALUE OP LIMIT: "met" or "missed" (OP is <= or >=), "n/a" when VALUE is not a number.
met() {
	awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
		if (v == "n/a" || v == "nan" || v == "") { print "n/a"; exit }
		ok = op == "<=" ? v + 0 <= l + 0 : v + 0 >= l + 0
		print ok ? "met" : "**missed**" }'
}

# kv KEY LINE: the value of KEY=VALUE in LINE.
kv() { echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n1; }

# bench_time_ok: true while the part is within its time budget (run.sh sets BENCH_DEADLINE,
# in epoch seconds, with room left for the report and cleanup). Loops stop at a trial boundary.
bench_time_ok() { [ -z "${BENCH_DEADLINE:-}" ] || [ "${EPOCHSECONDS}" -lt "$BENCH_DEADLINE" ]; }

# bench_trials: how many interleaved trials (5; QUICK=1, the short smoke run, takes 3).
bench_trials() {
	if [ -n "${BENCH_TRIALS:-}" ]; then echo "$BENCH_TRIALS"; elif [ -n "$QUICK" ]; then echo 3; else echo 5; fi
}

# bench_pair: node n1 with containers c1 (SRC_IP) and c2 (DST_IP) wired as DESIGN.md §5
# (routed veth, /32 and a permanent gateway neighbour in the container, a /32 route and a
# permanent neighbour in the node), the same way the nft backend tests build them.
bench_pair() {
	local i ip c hif hmac cmac
	node_create n1 || return 1
	: >"$MT_DIR/attach"
	for i in 1 2; do
		ip=$SRC_IP
		[ "$i" = 2 ] && ip=$DST_IP
		c="$MT-c$i"
		hif="${MT}h$i"
		ip netns add "$c" || return 1
		ip -n "$c" link set lo up
		ip -n "$MT-n1" link add "$hif" type veth peer name eth0 netns "$c" || return 1
		ip -n "$MT-n1" link set "$hif" up
		ip -n "$c" link set eth0 up
		ip -n "$c" addr add "$ip/32" dev eth0
		hmac=$(ip -n "$MT-n1" -br link show "$hif" | awk '{print $3}')
		cmac=$(ip -n "$c" -br link show eth0 | awk '{print $3}')
		ip -n "$c" route add 169.254.1.1 dev eth0 scope link
		ip -n "$c" route add default via 169.254.1.1 dev eth0
		ip -n "$c" neigh replace 169.254.1.1 lladdr "$hmac" dev eth0 nud permanent
		ip -n "$MT-n1" route add "$ip/32" dev "$hif"
		ip -n "$MT-n1" neigh replace "$ip" lladdr "$cmac" dev "$hif" nud permanent
		echo "--attach bench/$([ "$i" = 1 ] && echo src || echo dst)=$hif,$cmac" \
			>>"$MT_DIR/attach"
	done
	# The endpoints file dpdrive and `mseg policy` read for this pair.
	cat >"$MT_DIR/pair.yaml" <<-EOF
		namespaces:
		  - {name: bench, labels: {}}
		endpoints:
		  - namespace: bench
		    name: src
		    labels: {app: src}
		    ip: $SRC_IP
		  - namespace: bench
		    name: dst
		    labels: {app: dst}
		    ip: $DST_IP
	EOF
}

# ---- rule sets with N rules, all equivalent: N-1 filler peers (distinct /32s in 10.64/10,
# UDP 5001), then the rule that admits c1 (UDP 5001-5003, TCP 5002 and 5201), then, for the
# hand-written ones, a drop of everything else to c2 (the isolation a NetworkPolicy implies).
# The flow under test matches the last rule: the worst case of a linear list and the case of
# every denied packet.

# filler_ips N: N-1 addresses, one a line.
filler_ips() {
	awk -v n="$1" 'BEGIN { for (i = 0; i < n - 1; i++)
		printf "10.%d.%d.%d\n", 64 + int(i / 65536), int(i / 256) % 256, i % 256 }'
}

# gen_mseg_policy N FILE: a NetworkPolicy selecting c2 with N ingress rules.
gen_mseg_policy() {
	{
		cat <<-EOF
			apiVersion: networking.k8s.io/v1
			kind: NetworkPolicy
			metadata: {name: bench-$1, namespace: bench}
			spec:
			  podSelector: {matchLabels: {app: dst}}
			  policyTypes: [Ingress]
			  ingress:
		EOF
		filler_ips "$1" | awk '{printf "    - from: [{ipBlock: {cidr: %s/32}}]\n" \
			"      ports: [{protocol: UDP, port: 5001}]\n", $1}'
		cat <<-EOF
			    - from: [{podSelector: {matchLabels: {app: src}}}]
			      ports:
			        - {protocol: UDP, port: 5001, endPort: 5003}
			        - {protocol: TCP, port: 5002}
			        - {protocol: TCP, port: 5201}
		EOF
	} >"$2"
}

# gen_nft_set N FILE [TABLE]: the best nftables can do by hand: one concatenated set lookup.
gen_nft_set() {
	{
		echo "table inet ${3:-mbset} {"
		echo "  set allow { type ipv4_addr . inet_proto . inet_service; flags interval;"
		echo "    elements = {"
		filler_ips "$1" | awk '{printf "      %s . udp . 5001,\n", $1}'
		echo "      $SRC_IP . udp . 5001-5003, $SRC_IP . tcp . 5002, $SRC_IP . tcp . 5201 }"
		echo "  }"
		echo "  chain rules {"
		echo "    ct state established,related accept"
		echo "    ip daddr $DST_IP ip saddr . meta l4proto . th dport @allow accept"
		echo "    ip daddr $DST_IP drop"
		echo "  }"
		echo "}"
	} >"$2"
}

# gen_nft_linear N FILE [TABLE]: one rule per allowed peer, in a regular chain.
gen_nft_linear() {
	{
		echo "table inet ${3:-mblin} {"
		echo "  chain rules {"
		echo "    ct state established,related accept"
		filler_ips "$1" | awk -v d="$DST_IP" \
			'{printf "    ip saddr %s ip daddr %s udp dport 5001 accept\n", $1, d}'
		echo "    ip saddr $SRC_IP ip daddr $DST_IP udp dport 5001-5003 accept"
		echo "    ip saddr $SRC_IP ip daddr $DST_IP tcp dport { 5002, 5201 } accept"
		echo "    ip daddr $DST_IP drop"
		echo "  }"
		echo "}"
	} >"$2"
}

# gen_ipt_linear N FILE [CHAIN]: the same list for iptables-restore, in chain MBLIN.
gen_ipt_linear() {
	local c=${3:-MBLIN}
	{
		echo "*filter"
		echo ":$c - [0:0]"
		echo "-A $c -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT"
		filler_ips "$1" | awk -v d="$DST_IP" -v c="$c" \
			'{printf "-A %s -s %s/32 -d %s/32 -p udp --dport 5001 -j ACCEPT\n", c, $1, d}'
		echo "-A $c -s $SRC_IP/32 -d $DST_IP/32 -p udp --dport 5001:5003 -j ACCEPT"
		echo "-A $c -s $SRC_IP/32 -d $DST_IP/32 -p tcp -m multiport --dports 5002,5201" \
			"-j ACCEPT"
		echo "-A $c -d $DST_IP/32 -j DROP"
		echo "COMMIT"
	} >"$2"
}

# ---- switching a peer ruleset on and off in the node without reloading it: each lives in
# its own table or chain (names suffixed with SUFFIX, e.g. the rule count); only the hook (an
# nft base chain or an iptables FORWARD jump) comes and goes.
# peer_on CFG [SUFFIX] / peer_off CFG [SUFFIX]
peer_on() {
	local x=${2:-}
	case $1 in
	nftset | nftlin)
		local t=mbset$x
		[ "$1" = nftlin ] && t=mblin$x
		on n1 nft add chain inet "$t" mbfwd '{ type filter hook forward priority 0; }' &&
			on n1 nft add rule inet "$t" mbfwd jump rules ;;
	iptnft) on n1 iptables-nft -w -A FORWARD -j "MBLIN$x" ;;
	iptleg) on n1 iptables-legacy -w -A FORWARD -j "MBLIN$x" ;;
	esac
}
peer_off() {
	local x=${2:-}
	case $1 in
	nftset) on n1 nft delete chain inet "mbset$x" mbfwd ;;
	nftlin) on n1 nft delete chain inet "mblin$x" mbfwd ;;
	iptnft) on n1 iptables-nft -w -D FORWARD -j "MBLIN$x" ;;
	iptleg) on n1 iptables-legacy -w -D FORWARD -j "MBLIN$x" ;;
	esac
}

# mseg_load bpf|nft [ARGS...]: mseg's datapath programmed in node n1 with the pair's endpoints
# and $MSEG_POLICY (default $MT_DIR/policy.yaml) through dp-load (the real compiler and
# backend, no agent); it stays enforcing after dp-load exits.
mseg_load() {
	local be=$1
	shift
	# shellcheck disable=SC2046
	on n1 "$DPLOAD" --datapath "$be" --bpf-dir "$MT_DIR/n1/bpf" --endpoints "$MT_DIR/pair.yaml" \
		-f "${MSEG_POLICY:-$MT_DIR/policy.yaml}" $(cat "$MT_DIR/attach") "$@"
}
mseg_purge() { on n1 "$DPLOAD" --datapath "$1" --bpf-dir "$MT_DIR/n1/bpf" --purge; }

# machine_line: one line describing the machine and the load while measuring.
machine_line() {
	local cpu
	cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
	echo "$(nproc) CPUs ($cpu), kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
}
