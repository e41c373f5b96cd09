# SPDX-License-Identifier: Apache-2.0
# Helpers of the live suites (tests/netns/test_live_*.sh): one node with msegd, the truth
# tables' topology built with `mseg namespace create` + `mseg run -d`, and checks that compare
# what `mseg probe` measures with a truth table's grid or the reference evaluator's matrix.
# Sourced after lib.sh; everything is named with $MT and removed by harness_cleanup.

LIVE_DATA=$MSEG_TOP/tests/data
# The system's interpreter when there is one: a version manager's shim can cost seconds a call.
if [ -x /usr/bin/python3 ]; then LIVE_PYTHON=${LIVE_PYTHON:-/usr/bin/python3}; else LIVE_PYTHON=${LIVE_PYTHON:-python3}; fi
# The node's pod CIDR. The topology's addresses (10.200.<1|2|3>.<10|11|12>) cannot be had
# from one node's pool, so live_topology lays the pods out so that each namespace fills one
# aligned /30 and live_rewrite_cidrs maps every CIDR of a case onto the live addresses.
LIVE_POD_CIDR=10.200.0.0/24

# live_node [MSEGD ARGS...]: node n1 with its agent (e.g. --datapath nft, --default-deny).
live_node() {
	node_create n1 || return 1
	agent_start n1 --pod-cidr "$LIVE_POD_CIDR" "$@"
}

# live_mseg ARGS...: live_mseg without `ip netns exec`'s private mount namespace and /sys
# remount, which the CLI does not need: the suites call it hundreds of times.
live_mseg() {
	MSEG_SOCKET=$(node_socket n1) nsenter --net="/run/netns/$MT-n1" "$MSEG" "$@"
}

# live_ready: skip (77) unless what the live suites need is there.
live_ready() {
	command -v jq >/dev/null || { skip "jq is not installed"; return; }
	command -v "$LIVE_PYTHON" >/dev/null || { skip "python3 is not installed"; return; }
	if [ ! -x "$MSEG" ] || [ ! -x "$MSEGD" ]; then
		skip "build/mseg and build/msegd are not built"
		return
	fi
	return 0
}

# live_enforcing: skip (77) unless this build of the CLI can apply policies.
live_enforcing() {
	"$MSEG" --help 2>/dev/null | grep -q '^  apply ' ||
		{ skip "mseg apply is not there yet (policy enforcement not wired into msegd)"; return; }
}

# live_run NS NAME LABELS...: a detached container serving the truth tables' named ports.
live_run() {
	local ns=$1 name=$2 l args=()
	shift 2
	for l in "$@"; do args+=(-l "$l"); done
	live_mseg run -d --name "$name" --namespace "$ns" "${args[@]}" \
		--port serve-80-tcp:80/TCP --port serve-81-tcp:81/TCP \
		--port serve-80-udp:80/UDP --port serve-81-udp:81/UDP >/dev/null
}

# live_topology: tests/data/topology.yaml on node n1. Fillers take the addresses between the
# namespaces and leave again, so x, y and z get 10.200.0.4/30, .8/30 and .12/30.
live_topology() {
	local ns pod got want
	live_mseg namespace create x -l ns=x -l env=prod >/dev/null || return 1
	live_mseg namespace create y -l ns=y -l env=dev >/dev/null || return 1
	live_mseg namespace create z -l ns=z >/dev/null || return 1
	live_mseg namespace create fill >/dev/null || return 1
	for pod in f1 f2 f3; do live_mseg run -d --name "$pod" --namespace fill >/dev/null || return 1; done
	for ns in x y z; do
		for pod in a b c; do live_run "$ns" "$pod" "pod=$pod" || return 1; done
		[ $ns = z ] || live_mseg run -d --name "f$ns" --namespace fill >/dev/null || return 1
	done
	live_mseg rm fill/f1 fill/f2 fill/f3 fill/fx fill/fy >/dev/null || return 1
	got=$(live_mseg ps -o json | jq -r '.[] | "\(.namespace)/\(.name)=\(.ip)"' | sort | tr '\n' ' ')
	want="x/a=10.200.0.4 x/b=10.200.0.5 x/c=10.200.0.6 y/a=10.200.0.8 y/b=10.200.0.9 "
	want+="y/c=10.200.0.10 z/a=10.200.0.12 z/b=10.200.0.13 z/c=10.200.0.14 "
	[ "$got" = "$want" ] || fail "the topology's addresses are not laid out as expected:
got:  $got
want: $want"
}

# live_rewrite_cidrs FILE: FILE on stdout with every topology CIDR replaced by the live CIDR
# that covers the same endpoints (10.200.N.0/24: that namespace's /30; 10.200.N.M/32: that
# pod's /32; 10.200.0.0/16 covers the live pool as it covers the topology). Any other
# 10.200.* CIDR is an error: the mapping would not be known to be faithful.
live_rewrite_cidrs() {
	"$LIVE_PYTHON" - "$1" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
ns_base = {1: 4, 2: 8, 3: 12}           # x, y, z
pod = {10: 0, 11: 1, 12: 2}             # a, b, c
def sub(m):
    o3, o4, plen = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if (o3, o4, plen) == (0, 0, 16):
        return m.group(0)
    if o3 in ns_base and o4 == 0 and plen == 24:
        return "10.200.0.%d/30" % ns_base[o3]
    if o3 in ns_base and o4 in pod and plen == 32:
        return "10.200.0.%d/32" % (ns_base[o3] + pod[o4])
    sys.exit("no live equivalent for CIDR %s in %s" % (m.group(0), sys.argv[1]))
sys.stdout.write(re.sub(r"10\.200\.(\d+)\.(\d+)/(\d+)", sub, text))
EOF
}

# live_expect_blocks EXPECT: "PORT/PROTO ARGS" of each block of a truth table, one a line.
live_expect_blocks() {
	awk '/^port /{ $1 = ""; sub(/^ /, ""); print }' "$1"
}

# live_compare WHAT WANT GOT: compares two matrices. WANT is a truth table's .expect file and
# a block ("PORT/PROTO ARGS", grid in its row order) or, with WHAT "json", a file of
# `mseg policy matrix -o json`; GOT a file of `mseg probe -o json`. The diagonal is not
# compared (a pod reaching itself never leaves its namespace) but must be allowed. On a
# mismatch prints both grids with '!' under each differing cell and the differing pairs.
live_compare() {
	"$LIVE_PYTHON" - "$@" <<'EOF'
import json, sys
what, want_src, got_path = sys.argv[1], sys.argv[2], sys.argv[3]
got = json.load(open(got_path))
if what == "json":
    w = json.load(open(want_src))
    names, want = w["endpoints"], w["allowed"]
    title = want_src
else:
    block = what
    names, want, inside = [], {}, False
    rows = []
    for line in open(want_src):
        if line.startswith("port "):
            if inside:
                break
            inside = line[5:].strip() == block
            continue
        if not inside or not line.strip() or line[0] in "# \t":
            continue
        parts = line.split()
        rows.append((parts[0], "".join(parts[1:])))
    names = [r[0] for r in rows]
    for src, cells in rows:
        if len(cells) != len(names):
            sys.exit("%s: row %s has %d cells for %d endpoints" % (want_src, src, len(cells), len(names)))
        want[src] = {dst: cells[i] == "." for i, dst in enumerate(names)}
    title = "%s, port %s" % (want_src.split("/tests/data/")[-1], block)
if not names:
    sys.exit("%s: no grid for %s" % (want_src, what))
missing = [n for n in names if n not in got["allowed"]]
if missing:
    sys.exit("probe lacks sources %s: %s" % (missing, json.dumps(got)))
bad, loops = [], []
grid_w, grid_g, marks = [], [], []
for s in names:
    cw, cg, cm = "", "", ""
    for d in names:
        g = got["allowed"][s].get(d)
        if g is None:
            sys.exit("probe lacks %s -> %s" % (s, d))
        cw += "." if want[s][d] else "X"
        cg += "." if g else "X"
        if s == d:
            if not g:
                loops.append(s)
            cm += " "
            continue
        if g != want[s][d]:
            bad.append("%s -> %s: expected %s, probe says %s" % (
                s, d, "allowed" if want[s][d] else "denied", "allowed" if g else "denied"))
            cm += "!"
        else:
            cm += " "
    grid_w.append(cw); grid_g.append(cg); marks.append(cm)
if loops:
    bad.append("a pod could not reach itself: %s" % ", ".join(loops))
if not bad:
    sys.exit(0)
w = max(len(n) for n in names)
print("MISMATCH %s (%s)" % (title, got.get("protocol")))
print("%-*s  %-*s  %s" % (w, "", len(names), "expected", "probe"))
for i, n in enumerate(names):
    print("%-*s  %-*s  %s" % (w, n, max(len(names), 8), grid_w[i], grid_g[i]))
    if marks[i].strip():
        print("%-*s  %-*s  %s" % (w, "", max(len(names), 8), "", marks[i]))
for b in bad[:12]:
    print("  " + b)
if len(bad) > 12:
    print("  ... %d more" % (len(bad) - 12))
sys.exit(1)
EOF
}

# live_policies_clear: deletes every policy the agent holds (between truth-table cases).
live_policies_clear() {
	local ref kind
	while read -r kind ref; do
		[ -n "$ref" ] || continue
		live_mseg delete policy "$ref" --kind "$kind" >/dev/null || return 1
	done < <(live_mseg get policies -o json | jq -r '.[] |
		"\(.kind) \(if .namespace then "\(.namespace)/\(.name)" else .name end)"')
	[ "$(live_mseg get policies -o json | jq length)" = 0 ] ||
		fail "policies left after deleting them all: $(live_mseg get policies -o json)"
}
