# SPDX-License-Identifier: Apache-2.0
# The truth tables of tests/data/ (format: tests/data/README.md): for every case, every
# "port" block is run through `mseg policy matrix -o json` and compared cell by cell with the
# grid worked out by hand. One test per directory, reporting every failing case; a mismatch
# prints both grids and the cells that differ. Plus `mseg policy trace` checks of what decided
# a verdict, and the exits of both commands on bad input.

TT_TOP=${MSEG_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
TT_DATA=$TT_TOP/tests/data
# Debian's interpreter: a python3 shim on PATH (pyenv) can cost a second per start
TT_PYTHON=${PYTHON:-$( [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || echo python3)}

# tt_cases EXPECT_FILE...: checks every block of every case in one interpreter (the machine
# is shared: one process per case would cost more than the checks), printing each mismatch
# and a last line naming the failing cases.
tt_cases() {
	MSEG=$MSEG "$TT_PYTHON" - "$TT_DATA/topology.yaml" "$@" <<'PY'
import json, os, subprocess, sys

mseg = os.environ["MSEG"]

def check_case(expect, topology):
    policy = expect[: -len(".expect")] + ".yaml"
    blocks, cur = [], None
    for n, line in enumerate(open(expect), 1):
        s = line.rstrip("\n")
        if not s.strip() or s.startswith("#") or s[0] in " \t":
            continue
        words = s.split()
        if words[0] == "endpoints":
            topology = os.path.join(os.path.dirname(expect), words[1])
        elif words[0] == "port":
            cur = {"port": words[1], "args": words[2:], "rows": [], "line": n}
            blocks.append(cur)
        elif cur is not None and "/" in words[0]:
            cur["rows"].append((words[0], "".join(words[1:])))
        else:
            print(f"{expect}:{n}: cannot read this line: {s!r}")
            return 1
    if not blocks:
        print(f"{expect}: no 'port' block")
        return 1

    failed = 0
    for b in blocks:
        names = [r[0] for r in b["rows"]]
        cmd = [mseg, "policy", "matrix", "--endpoints", topology, "-f", policy,
               "--port", b["port"], "-o", "json"] + b["args"]
        p = subprocess.run(cmd, capture_output=True, text=True)
        where = f"{os.path.basename(expect)}:{b['line']} port {b['port']} {' '.join(b['args'])}"
        if p.returncode != 0:
            print(f"{where}: mseg exited {p.returncode}:\n{p.stderr}")
            failed += 1
            continue
        got = json.loads(p.stdout)
        if sorted(got["endpoints"]) != sorted(names):
            print(f"{where}: rows name {names}, the matrix has {got['endpoints']}")
            failed += 1
            continue
        for name, cells in b["rows"]:
            if len(cells) != len(names) or set(cells) - set(".X"):
                print(f"{where}: row {name} must have {len(names)} cells of '.' or 'X'")
                return 1
        bad = [(s, d) for s, cells in b["rows"] for d, c in zip(names, cells)
               if got["allowed"][s][d] != (c == ".")]
        if bad:
            failed += 1
            print(f"{where}: {len(bad)} cell(s) differ (row from, column to; '!' marks them)")
            print(f"  {'':5} {'expected':<{len(names)}}   {'mseg':<{len(names)}}")
            for s, cells in b["rows"]:
                actual = "".join("." if got["allowed"][s][d] else "X" for d in names)
                marks = "".join("!" if (s, d) in bad else " " for d in names)
                print(f"  {s:<5} {cells}   {actual}   {marks}")
            for s, d in bad[:8]:
                want = "denied" if got["allowed"][s][d] else "allowed"
                print(f"  {s} -> {d}: expected {want}")
            if len(bad) > 8:
                print(f"  ... and {len(bad) - 8} more")
    return failed

topology, cases = sys.argv[1], sys.argv[2:]
bad = [c for c in cases if check_case(c, topology)]
print(f"{len(cases) - len(bad)} of {len(cases)} cases agree" +
      ("; failing: " + " ".join(os.path.basename(c) for c in bad) if bad else ""))
sys.exit(1 if bad or not cases else 0)
PY
}

test_k8s_networkpolicy_truth_tables() {
	tt_cases "$TT_DATA"/k8s/*.expect
}

test_mseg_policy_truth_tables() {
	tt_cases "$TT_DATA"/mseg/*.expect
}

# The suite itself: deleting cases must not pass silently.
test_truth_tables_are_all_there() {
	local k8s mseg
	k8s=$(find "$TT_DATA/k8s" -name '*.expect' | wc -l)
	mseg=$(find "$TT_DATA/mseg" -name '*.expect' | wc -l)
	echo "k8s cases: $k8s, mseg cases: $mseg"
	[ "$k8s" -ge 25 ] && [ "$mseg" -ge 15 ]
}

# The checker itself must catch a wrong grid (a suite that cannot fail proves nothing).
test_truth_table_checker_catches_a_wrong_cell() {
	local bad=$MT_DIR/wrong
	cp "$TT_DATA/k8s/01-default-deny-ingress.yaml" "$bad.yaml"
	# expect x/b -> x/a allowed: wrong under a default-deny-ingress policy
	sed '0,/^x\/b   XXX/s//x\/b   .XX/' "$TT_DATA/k8s/01-default-deny-ingress.expect" >"$bad.expect"
	grep -q '^x/b   \.XX' "$bad.expect" || return 1
	expect_output_contains "wrong cell reported" "x/b -> x/a: expected allowed" \
		tt_cases "$bad.expect" || return 1
	! tt_cases "$bad.expect" >/dev/null
}

# ---- mseg policy trace -o json ----------------------------------------------------------

# tt_trace_expect EXPECTED_JSON TRACE_ARGS...: the trace's JSON must contain EXPECTED_JSON
# (objects: every key given must match, "ABSENT" means the key must not be there; arrays:
# same length, element by element).
tt_trace_expect() {
	local want=$1 out rc
	shift
	out=$("$MSEG" policy trace --endpoints "$TT_DATA/topology.yaml" -o json "$@")
	rc=$?
	[ $rc -eq 0 ] || { echo "mseg policy trace $* exited $rc"; return 1; }
	"$TT_PYTHON" - "$want" "$out" <<'PY'
import json, sys
want, got = json.loads(sys.argv[1]), json.loads(sys.argv[2])
def check(w, g, path):
    if isinstance(w, dict):
        if not isinstance(g, dict):
            return [f"{path}: expected an object, got {json.dumps(g)}"]
        errs = []
        for k, v in w.items():
            if v == "ABSENT":
                if k in g:
                    errs.append(f"{path}.{k}: expected no such key, got {json.dumps(g[k])}")
            elif k not in g:
                errs.append(f"{path}.{k}: missing")
            else:
                errs += check(v, g[k], f"{path}.{k}")
        return errs
    if isinstance(w, list):
        if not isinstance(g, list) or len(g) != len(w):
            return [f"{path}: expected {json.dumps(w)}, got {json.dumps(g)}"]
        return [e for i, (a, b) in enumerate(zip(w, g)) for e in check(a, b, f"{path}[{i}]")]
    return [] if w == g else [f"{path}: expected {json.dumps(w)}, got {json.dumps(g)}"]
errs = check(want, got, "$")
for e in errs:
    print(e)
if errs:
    print(json.dumps(got, indent=1))
sys.exit(1 if errs else 0)
PY
}

test_trace_names_the_deny_rule() {
	tt_trace_expect '{"verdict": "deny", "audit": false,
		"egress": {"verdict": "allow", "decided_by": {"kind": "default",
			"policy": "ABSENT", "rule": "ABSENT"}},
		"ingress": {"verdict": "deny", "decided_by": {"kind": "rule",
			"policy": {"kind": "Policy", "namespace": "x", "name": "deny-y"},
			"direction": "ingress", "rule": 0,
			"isolated_by": [{"kind": "NetworkPolicy", "namespace": "x", "name": "allow-all"},
					{"kind": "Policy", "namespace": "x", "name": "deny-y"}]}}}' \
		-f "$TT_DATA/mseg/02-deny-beats-allow-across-policies.yaml" \
		--from y/c --to x/a --port 80/tcp || return 1
	# the same flow from x/b: the NetworkPolicy's allow-all rule decides
	tt_trace_expect '{"verdict": "allow", "ingress": {"verdict": "allow", "decided_by":
		{"kind": "rule", "rule": 0, "policy": {"kind": "NetworkPolicy", "name": "allow-all"}}}}' \
		-f "$TT_DATA/mseg/02-deny-beats-allow-across-policies.yaml" \
		--from x/b --to x/a --port 80/tcp
}

test_trace_isolation_lists_every_isolating_policy() {
	# from a bare address (not an endpoint): that side is unmanaged
	tt_trace_expect '{"verdict": "deny",
		"egress": {"verdict": "allow", "decided_by": {"kind": "unmanaged"}},
		"ingress": {"verdict": "deny", "decided_by": {"kind": "isolation",
			"policy": {"kind": "NetworkPolicy", "namespace": "x", "name": "y-on-81"},
			"direction": "ingress", "rule": "ABSENT",
			"isolated_by": [{"name": "y-on-81"}, {"name": "z-on-80"}]}}}' \
		-f "$TT_DATA/k8s/17-stacked-policies.yaml" --from 10.250.0.1 --to x/a --port 81/tcp
}

test_trace_cluster_policy_and_egress_rule() {
	tt_trace_expect '{"verdict": "deny", "ingress": {"verdict": "deny", "decided_by":
		{"kind": "rule", "rule": 0, "direction": "ingress",
		 "policy": {"kind": "ClusterPolicy", "name": "dev-never-prod", "namespace": "ABSENT"}}}}' \
		-f "$TT_DATA/mseg/03-admin-deny-over-namespace-allow.yaml" \
		--from y/a --to x/b --port 80/tcp || return 1
	# an egress allow rule, and an endpoint named by its address
	tt_trace_expect '{"verdict": "allow", "egress": {"verdict": "allow", "decided_by":
		{"kind": "rule", "direction": "egress", "rule": 0,
		 "policy": {"kind": "NetworkPolicy", "namespace": "x", "name": "to-y-a"}}},
		"ingress": {"decided_by": {"kind": "default"}}}' \
		-f "$TT_DATA/k8s/24-egress-pod-and-namespace.yaml" \
		--from x/a --to 10.200.2.10 --port 80/TCP
}

test_trace_audit_reports_what_would_deny() {
	tt_trace_expect '{"verdict": "allow", "audit": true,
		"ingress": {"verdict": "allow", "audit": true, "decided_by": {"kind": "default"},
			"audit_by": {"kind": "rule", "rule": 0,
			"policy": {"kind": "Policy", "namespace": "x", "name": "audit-deny"}}}}' \
		-f "$TT_DATA/mseg/11-audit-never-denies.yaml" --from z/c --to x/a --port 80/tcp
}

test_trace_icmp_and_default_deny() {
	tt_trace_expect '{"verdict": "deny", "ingress": {"decided_by": {"kind": "rule",
		"policy": {"name": "no-ping-from-y"}, "rule": 0}}}' \
		-f "$TT_DATA/mseg/13-icmp-echo-deny.yaml" --from y/b --to x/c --port 8/icmp || return 1
	tt_trace_expect '{"verdict": "allow", "ingress": {"decided_by": {"kind": "rule",
		"rule": 1}}}' \
		-f "$TT_DATA/mseg/13-icmp-echo-deny.yaml" --from y/b --to x/c --port 0:0/ICMP || return 1
	tt_trace_expect '{"verdict": "deny", "egress": {"verdict": "deny",
		"decided_by": {"kind": "default"}}}' --default-deny --from y/b --to x/c --port 80/tcp
}

test_trace_text_says_what_decided() {
	local f=$TT_DATA/mseg/02-deny-beats-allow-across-policies.yaml
	expect_output_contains "deny rule named" "denied by Policy x/deny-y rule ingress[0]" \
		"$MSEG" policy trace --endpoints "$TT_DATA/topology.yaml" -f "$f" \
		--from y/a --to x/a --port 80/tcp || return 1
	expect_output_contains "default named" "allowed: no policy decides for y/a (default allow)" \
		"$MSEG" policy trace --endpoints "$TT_DATA/topology.yaml" -f "$f" \
		--from y/a --to x/a --port 80/tcp || return 1
	expect_output_contains "isolation named" \
		"denied: isolated by NetworkPolicy x/y-on-81, NetworkPolicy x/z-on-80 (no rule allows it)" \
		"$MSEG" policy trace --endpoints "$TT_DATA/topology.yaml" \
		-f "$TT_DATA/k8s/17-stacked-policies.yaml" --from x/b --to x/a --port 81/tcp
}

test_trace_and_matrix_usage_and_load_errors() {
	local topo=$TT_DATA/topology.yaml rc
	"$MSEG" policy trace --help | grep -q 'TYPE:CODE/icmp' ||
		{ echo "no icmp syntax in --help"; return 1; }
	"$MSEG" policy matrix --help | grep -q -- '--default-deny' || return 1
	# (without --endpoints the commands ask msegd, so that is not a usage error)
	for args in "--endpoints $topo" "--endpoints $topo --port 80/xyz" "--endpoints $topo --port 0/tcp" \
		"--endpoints $topo --port 70000/tcp" "--endpoints $topo --port 256/icmp" \
		"--endpoints $topo --port 80/tcp -o yaml" "--endpoints $topo --port 80/tcp --bogus"; do
		# shellcheck disable=SC2086
		"$MSEG" policy matrix $args >/dev/null 2>&1
		rc=$?
		[ $rc -eq 2 ] || { echo "matrix $args: exit $rc, expected 2"; return 1; }
	done
	"$MSEG" policy trace --endpoints "$topo" --from x/nope --to x/a --port 80/tcp >/dev/null 2>&1
	rc=$?
	[ $rc -eq 2 ] || { echo "trace with an unknown endpoint: exit $rc, expected 2"; return 1; }
	cat >"$MT_DIR/bad.yaml" <<-'YAML'
	apiVersion: networking.k8s.io/v1
	kind: NetworkPolicy
	metadata: {name: p, namespace: x}
	spec:
	  podSelector: {}
	  ingress:
	    - ports: [{port: 80, endPort: 70000}]
	YAML
	"$MSEG" policy matrix --endpoints "$topo" -f "$MT_DIR/bad.yaml" --port 80/tcp >"$MT_DIR/out" 2>&1
	rc=$?
	cat "$MT_DIR/out"
	[ $rc -eq 1 ] || { echo "load error: exit $rc, expected 1"; return 1; }
	grep -q "bad.yaml:7:.*endPort" "$MT_DIR/out" || { echo "no located diagnostic"; return 1; }
}
