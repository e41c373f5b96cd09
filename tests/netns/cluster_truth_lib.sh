# SPDX-License-Identifier: Apache-2.0
# Helpers of the cross-node truth-table suite (tests/netns/test_cluster_truth.sh): the
# topology of tests/data/topology.yaml spread over three nodes (pod a of every namespace on
# n1, b on n2, c on n3), the cases' ipBlock CIDRs rewritten onto the live addresses, and a
# prober that connects from every container's network namespace to every other one. `mseg
# probe` only reaches the containers of its own node; every container namespace of every node
# is bind-mounted under /run/netns of this machine, so one process can enter them all.
# Sourced after lib.sh, cluster_lib.sh and live_lib.sh (for live_compare and LIVE_PYTHON).

# The cases' directory (another one lets a check of the suite itself feed it a wrong grid).
CT_DATA=${CT_DATA:-$LIVE_DATA}

# ct_topology: namespaces x, y, z (labels as in topology.yaml) created on n1, pods a, b, c of
# each on n1, n2, n3, with the truth tables' named ports; waits until every node knows the
# six endpoints of the other two. Leaves "NAME NETNS IP" lines in $MT_DIR/ct.endpoints.
ct_topology() {
	local ns pod node i n
	mseg_on n1 namespace create x -l ns=x -l env=prod >/dev/null || return 1
	mseg_on n1 namespace create y -l ns=y -l env=dev >/dev/null || return 1
	mseg_on n1 namespace create z -l ns=z >/dev/null || return 1
	for node in n2 n3; do
		cluster_wait 10 ct_has_ns "$node" z || fail "$node never saw namespace z" || return 1
	done
	for ns in x y z; do
		i=1
		for pod in a b c; do
			mseg_on "n$i" run -d --name "$pod" --namespace "$ns" -l "pod=$pod" \
				--port serve-80-tcp:80/TCP --port serve-81-tcp:81/TCP \
				--port serve-80-udp:80/UDP --port serve-81-udp:81/UDP >/dev/null ||
				fail "run $ns/$pod on n$i failed" || return 1
			i=$((i + 1))
		done
	done
	for n in 1 2 3; do
		cluster_wait 10 ct_remote_is "n$n" 6 ||
			fail "n$n sees $(mseg_on "n$n" status -o json | jq .endpoints.remote) remote endpoints, not 6" ||
			return 1
	done
	: >"$MT_DIR/ct.endpoints"
	for n in 1 2 3; do
		mseg_on "n$n" ps -o json | jq -r '.[] | "\(.namespace)/\(.name) \(.netns) \(.ip)"' \
			>>"$MT_DIR/ct.endpoints" || return 1
	done
	[ "$(wc -l <"$MT_DIR/ct.endpoints")" = 9 ] ||
		fail "expected 9 endpoints: $(cat "$MT_DIR/ct.endpoints")" || return 1
}

ct_has_ns() {
	mseg_on "$1" namespace ls -o json 2>/dev/null |
		jq -e --arg n "$2" '.[] | select(.name == $n)' >/dev/null
}
ct_remote_is() { [ "$(mseg_on "$1" status -o json | jq -r .endpoints.remote)" = "$2" ]; }

# ct_rewrite_cidrs FILE: FILE on stdout with its ipBlocks moved onto the live addresses. A
# namespace's pods are on three nodes, so no single CIDR covers exactly one namespace: an
# ipBlock covering the whole cluster CIDR keeps its CIDR and its excepts become the live /32s
# of the topology pods they cover; any other ipBlock becomes one /32 peer per topology pod it
# covers (minus its excepts). The grid is unchanged by construction (only pods send or
# receive); a file without 10.200.* is passed through untouched.
ct_rewrite_cidrs() {
	if ! grep -q '10\.200\.' "$1"; then
		cat "$1"
		return
	fi
	"$LIVE_PYTHON" - "$1" "$MT_DIR/ct.endpoints" <<'PY'
import ipaddress as ipa, sys, yaml
path, eps = sys.argv[1], sys.argv[2]
live = {}
for line in open(eps):
    name, _, ip = line.split()
    live[name] = ip
topo = {}
for i, ns in enumerate("xyz"):
    for j, pod in enumerate("abc"):
        topo["%s/%s" % (ns, pod)] = ipa.ip_address("10.200.%d.%d" % (i + 1, 10 + j))
cluster = ipa.ip_network("10.200.0.0/16")

def covered(cidr):
    net = ipa.ip_network(cidr)
    return [n for n in sorted(topo) if topo[n] in net]

def live32(names):
    return ["%s/32" % live[n] for n in names]

def peers(block):
    net = ipa.ip_network(block["cidr"])
    exc = block.get("except") or []
    if net.version == 4 and cluster.subnet_of(net):
        out = dict(block)
        if exc:
            new = []
            for e in exc:
                c = covered(e)
                if not c:
                    sys.exit("%s: except %s covers no pod" % (path, e))
                new += live32(c)
            out["except"] = new
        return [{"ipBlock": out}]
    gone = set(n for e in exc for n in covered(e))
    keep = [n for n in covered(block["cidr"]) if n not in gone]
    if not keep:
        sys.exit("%s: ipBlock %s covers no pod: no live equivalent" % (path, block))
    return [{"ipBlock": {"cidr": c}} for c in live32(keep)]

def walk(v):
    if isinstance(v, dict):
        return {k: walk(x) for k, x in v.items()}
    if isinstance(v, list):
        out = []
        for x in v:
            if isinstance(x, dict) and "ipBlock" in x:
                if len(x) != 1:
                    sys.exit("%s: ipBlock peer with other keys: %s" % (path, x))
                out += peers(x["ipBlock"])
            else:
                out.append(walk(x))
        return out
    return v

docs = [walk(d) for d in yaml.safe_load_all(open(path)) if d is not None]
yaml.safe_dump_all(docs, sys.stdout, sort_keys=False)
PY
}

# ct_probe TIMEOUT BLOCK...: probes every pair of the topology for each BLOCK ("80/tcp",
# "81/udp") at once: a listener per port in each destination, one connection (TCP) or two
# datagrams (UDP) from each source, TIMEOUT seconds. TCP is allowed when the handshake
# completes, UDP when the destination receives a datagram. Writes $MT_DIR/ct.got.PORT-PROTO,
# each {"protocol": P, "port": N, "allowed": {src: {dst: bool}}}.
ct_probe() {
	"$LIVE_PYTHON" - "$MT_DIR" "$@" 3<"$MT_DIR/ct.endpoints" <<'PY'
import ctypes, errno, json, os, selectors, socket, sys, time
outdir, timeout, blocks = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000
eps = []
for line in os.fdopen(3):
    name, netns, ip = line.split()
    eps.append((name, netns if netns.startswith("/") else "/run/netns/" + netns, ip))

def enter(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            sys.exit("setns %s: %s" % (path, os.strerror(e)))
    finally:
        os.close(fd)

home = os.open("/proc/self/ns/net", os.O_RDONLY)
sel = selectors.DefaultSelector()
res = {b: {s[0]: {d[0]: False for d in eps} for s in eps} for b in blocks}
byaddr = {ip: name for name, _, ip in eps}
listeners = []
for dname, netns, ip in eps:
    enter(netns)
    for b in blocks:
        port, proto = b.split("/")
        st = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
        s = socket.socket(socket.AF_INET, st)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((ip, int(port)))
        if proto == "tcp":
            s.listen(128)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, ("listen", b, dname))
        listeners.append(s)
clients = []
for sname, netns, sip in eps:
    enter(netns)
    for b in blocks:
        port, proto = b.split("/")
        for dname, _, dip in eps:
            if proto == "tcp":
                c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                c.setblocking(False)
                c.bind((sip, 0))
                r = c.connect_ex((dip, int(port)))
                if r not in (0, errno.EINPROGRESS):
                    c.close()
                    continue
                sel.register(c, selectors.EVENT_WRITE, ("tcp", b, sname, dname))
            else:
                c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                c.setblocking(False)
                c.bind((sip, 0))
                c.connect((dip, int(port)))
                try:
                    c.send(b"mseg")
                except OSError:
                    pass
            clients.append((c, proto, dname))
libc.setns(home, CLONE_NEWNET)
start = time.monotonic()
resent = False
while True:
    left = start + timeout - time.monotonic()
    if left <= 0:
        break
    if not resent and left < timeout / 2:
        resent = True
        for c, proto, _ in clients:
            if proto == "udp":
                try:
                    c.send(b"mseg")
                except OSError:
                    pass
    for key, _ in sel.select(min(left, timeout / 4)):
        kind = key.data[0]
        s = key.fileobj
        if kind == "tcp":
            _, b, sname, dname = key.data
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                res[b][sname][dname] = True
            sel.unregister(s)
            continue
        _, b, dname = key.data
        while True:
            try:
                if b.endswith("/tcp"):
                    conn, _ = s.accept()
                    conn.close()
                else:
                    _, addr = s.recvfrom(64)
                    src = byaddr.get(addr[0])
                    if src:
                        res[b][src][dname] = True
            except (BlockingIOError, InterruptedError):
                break
for b in blocks:
    port, proto = b.split("/")
    with open("%s/ct.got.%s-%s" % (outdir, port, proto), "w") as f:
        json.dump({"protocol": proto, "port": int(port), "allowed": res[b]}, f)
PY
}

# ct_policies_clear: deletes every policy of the cluster (from n1) and waits until n1 has none.
ct_policies_clear() {
	local ref kind
	while read -r kind ref; do
		[ -n "$ref" ] || continue
		mseg_on n1 delete policy "$ref" --kind "$kind" >/dev/null || return 1
	done < <(mseg_on n1 get policies -o json | jq -r '.[] |
		"\(.kind) \(if .namespace then "\(.namespace)/\(.name)" else .name end)"')
	# the delete goes through etcd: n1's own view follows when its watch delivers it
	cluster_wait 5 ct_no_policies ||
		fail "policies left after deleting them all: $(mseg_on n1 get policies -o json)"
}
ct_no_policies() { [ "$(mseg_on n1 get policies -o json | jq length)" = 0 ]; }

# ct_blocks EXPECT: the blocks of a case this suite probes (TCP and UDP, no extra arguments),
# as "PORT/PROTO" one a line.
ct_blocks() {
	live_expect_blocks "$1" | awk 'NF == 1 && $1 ~ /^[0-9]+\/(tcp|udp)$/'
}

# ct_check CASE EXPECT BLOCKS...: probes and compares every block; 0 when all match.
# Leaves the differences in $MT_DIR/ct.diff.
ct_check() {
	local case=$1 expect=$2 t=$3 b ok=0
	shift 3
	ct_probe "$t" "$@" >"$MT_DIR/ct.diff" 2>&1 || return 2
	: >"$MT_DIR/ct.diff"
	for b in "$@"; do
		live_compare "$b" "$expect" "$MT_DIR/ct.got.${b%/*}-${b#*/}" >>"$MT_DIR/ct.diff" ||
			ok=1
	done
	return $ok
}

# ct_case CASE: the case applied on n1 (its ipBlocks rewritten), then all nodes probed until
# the grids match or 3 s pass; a last probe with a long timeout decides.
ct_case() {
	local c=$1 yaml=$CT_DATA/$1.yaml expect=$CT_DATA/$1.expect blocks end r
	blocks=$(ct_blocks "$expect")
	[ -n "$blocks" ] || fail "case $c: no TCP or UDP block" || return 1
	ct_policies_clear || return 1
	ct_rewrite_cidrs "$yaml" >"$MT_DIR/ct.case.yaml" || fail "case $c: rewrite failed" || return 1
	mseg_on n1 apply -f "$MT_DIR/ct.case.yaml" >"$MT_DIR/ct.apply" 2>&1 ||
		fail "case $c: apply failed: $(cat "$MT_DIR/ct.apply")" || return 1
	end=$(($(date +%s%N) + 3000000000))
	while [ "$(date +%s%N)" -lt "$end" ]; do
		ct_check "$c" "$expect" 0.5 $blocks
		r=$?
		[ $r = 0 ] && { CT_GRIDS=$((CT_GRIDS + $(wc -w <<<"$blocks"))); break; }
		[ $r = 2 ] && { fail "case $c: probe failed: $(cat "$MT_DIR/ct.diff")"; return 1; }
	done
	if [ $r != 0 ]; then
		ct_check "$c" "$expect" 2 $blocks || {
			echo "case $c (applied on n1, pods spread over n1-n3):" >&2
			cat "$MT_DIR/ct.diff" >&2
			return 1
		}
		CT_GRIDS=$((CT_GRIDS + $(wc -w <<<"$blocks")))
	fi
	ct_matrix_check "$c" $blocks
}

# ct_matrix_check CASE BLOCKS...: the agent of n2 (not where the case was applied) computes
# the grids from the policies it learnt through etcd, compared with what was just probed.
# Its matrix is the cluster's: all 9 endpoints, the 6 of n1 and n3 included.
ct_matrix_check() {
	local c=$1 b m n
	shift
	for b in "$@"; do
		m=$MT_DIR/ct.matrix.${b%/*}-${b#*/}
		mseg_on n2 policy matrix --port "$b" -o json >"$m" ||
			fail "case $c: mseg policy matrix --port $b on n2 failed" || return 1
		n=$(jq '.endpoints | length' "$m")
		[ "$n" = 9 ] ||
			fail "case $c: n2's policy matrix has $n endpoints: $(cat "$m")" ||
			return 1
		live_compare json "$m" "$MT_DIR/ct.got.${b%/*}-${b#*/}" >&2 ||
			fail "case $c: probe differs from n2's policy matrix on $b" || return 1
	done
}
