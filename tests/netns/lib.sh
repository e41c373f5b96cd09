# SPDX-License-Identifier: Apache-2.0
# The namespace test harness. Sourced by tests/netns/run.sh (and by the demo and benchmarks).
#
# A "node" is a network namespace made for the test; the agent runs inside it with its own
# state directory, control socket and bpffs, so nothing touches the host's own namespace.
# Every object carries the per-run prefix $MT (e.g. "mt4242"), and cleanup removes all of it
# on every path: call harness_cleanup from an EXIT trap (run.sh does it for each test).
#
# Interface names are limited to 15 characters, so keep the prefix short.
#
# A test is a function test_NAME in tests/netns/test_*.sh. It returns 0 (pass), 77 (skip:
# call `skip "why"`) or anything else (fail, with what it printed as the reason). Chain every
# step with `|| return 1`; the assertions below print what went wrong.

MSEG_TOP=${MSEG_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$MSEG_TOP/$BUILD ;; esac
MSEGD=${MSEGD:-$BUILD/msegd}
MSEG=${MSEG:-$BUILD/mseg}
MT=${MT:-mt$$}
MT_DIR=${MT_DIR:-/run/mseg-test/$MT}

# node_create NODE: a node namespace "$MT-NODE" with lo up, forwarding on, and its own
# directories under $MT_DIR/NODE (state, bpffs mounted outside /sys so pins outlive
# `ip netns exec`).
node_create() {
	local node=$1 ns="$MT-$1"
	mkdir -p "$MT_DIR/$node/state" "$MT_DIR/$node/bpf" || return 1
	ip netns add "$ns" || return 1
	ip -n "$ns" link set lo up
	ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
	mountpoint -q "$MT_DIR/$node/bpf" || mount -t bpf bpf "$MT_DIR/$node/bpf"
}

node_ns() { echo "$MT-$1"; }
node_socket() { echo "$MT_DIR/$1/msegd.sock"; }

# on NODE CMD...: runs CMD inside the node's namespace.
on() {
	local node=$1
	shift
	ip netns exec "$MT-$node" "$@"
}

# mseg_on NODE ARGS...: the CLI inside the node, talking to that node's agent.
mseg_on() {
	local node=$1
	shift
	MSEG_SOCKET=$(node_socket "$node") ip netns exec "$MT-$node" "$MSEG" "$@"
}

# agent_start NODE [MSEGD ARGS...]: starts msegd in the node and waits for its socket.
agent_start() {
	local node=$1
	shift
	local sock
	sock=$(node_socket "$node")
	rm -f "$sock"
	# nsenter, not `ip netns exec`: the latter gives msegd a private (slave) mount namespace,
	# and the container namespaces it bind-mounts under /run/netns would be invisible outside.
	nsenter --net="/run/netns/$MT-$node" "$MSEGD" --foreground --node "$node" \
		--state-dir "$MT_DIR/$node/state" --socket "$sock" \
		--bpf-dir "$MT_DIR/$node/bpf" --netns-prefix "$MT-$node-" "$@" \
		>>"$MT_DIR/$node/msegd.log" 2>&1 &
	echo $! >"$MT_DIR/$node/msegd.pid"
	local i
	for i in $(seq 1 100); do
		[ -S "$sock" ] && return 0
		kill -0 "$(cat "$MT_DIR/$node/msegd.pid")" 2>/dev/null || break
		sleep 0.05
	done
	echo "msegd on $node did not start:" >&2
	tail -n 20 "$MT_DIR/$node/msegd.log" >&2
	return 1
}

# agent_kill NODE [SIGNAL]: stops the node's agent (default SIGTERM) and waits for it.
agent_kill() {
	local node=$1 sig=${2:-TERM} pid
	pid=$(cat "$MT_DIR/$node/msegd.pid" 2>/dev/null) || return 0
	kill "-$sig" "$pid" 2>/dev/null
	while kill -0 "$pid" 2>/dev/null; do sleep 0.02; done
	rm -f "$MT_DIR/$node/msegd.pid"
}

agent_log() { cat "$MT_DIR/$1/msegd.log" 2>/dev/null; }

# harness_cleanup: removes everything this run made, whatever state it is in.
harness_cleanup() {
	local f pid ns d
	for f in "$MT_DIR"/*/msegd.pid; do
		[ -e "$f" ] || continue
		pid=$(cat "$f")
		kill -KILL "$pid" 2>/dev/null
	done
	# Processes left in our namespaces (containers, listeners), then the namespaces.
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$MT-"); do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
	done
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$MT-"); do
		ip netns del "$ns" 2>/dev/null
	done
	for d in "$MT_DIR"/*/bpf; do
		[ -d "$d" ] || continue
		umount "$d" 2>/dev/null
	done
	rm -rf "$MT_DIR"
}

# ---- assertions: each prints why on failure and returns 1 --------------------------------

fail() {
	echo "$*" >&2
	return 1
}

# expect_ok DESC CMD...: CMD must succeed.
expect_ok() {
	local desc=$1
	shift
	local out
	if ! out=$("$@" 2>&1); then
		fail "$desc: '$*' failed: $out"
		return 1
	fi
}

# expect_fail DESC CMD...: CMD must fail.
expect_fail() {
	local desc=$1
	shift
	local out
	if out=$("$@" 2>&1); then
		fail "$desc: '$*' succeeded but should have failed: $out"
		return 1
	fi
}

# expect_output_contains DESC NEEDLE CMD...: CMD's stdout+stderr contains NEEDLE.
expect_output_contains() {
	local desc=$1 needle=$2
	shift 2
	local out
	out=$("$@" 2>&1)
	case $out in
	*"$needle"*) return 0 ;;
	esac
	fail "$desc: output of '$*' lacks '$needle': $out"
}

# wait_for SECONDS CMD...: retries CMD every 50 ms until it succeeds or time runs out.
wait_for() {
	local limit=$1 i
	shift
	for i in $(seq 1 $((limit * 20))); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}

skip() {
	echo "$*" >"$MT_DIR.skip"
	return 77
}
