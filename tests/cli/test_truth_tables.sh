# SPDX-License-Identifier: Apache-2.0
# The truth tables of tests/data/ (format: tests/data/README.md): for every case, every
# "port" block is run through `mseg policy matrix -o json` and compared cell by cell with the
# grid worked out by hand. One test per case; a mismatch prints both grids and the cells that
# differ. Plus a few `mseg policy trace -o json` checks of what decided a verdict.

TT_TOP=${MSEG_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
TT_DATA=$TT_TOP/tests/data
# Debian's interpreter: a python3 shim on PATH (pyenv) can cost a second per start
TT_PYTHON=${PYTHON:-$( [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || echo python3)}

# tt_case EXPECT_FILE: checks every block of one case.
tt_case() {
	MSEG=$MSEG "$TT_PYTHON" - "$1" "$TT_DATA/topology.yaml" <<'PY'
import json, os, subprocess, sys

expect, topology = sys.argv[1], sys.argv[2]
policy = expect[: -len(".expect")] + ".yaml"
mseg = os.environ["MSEG"]
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
        sys.exit(f"{expect}:{n}: cannot read this line: {s!r}")
if not blocks:
    sys.exit(f"{expect}: no 'port' block")

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
            sys.exit(f"{where}: row {name} must have {len(names)} cells of '.' or 'X'")
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
            print(f"  {s} -> {d}: expected {'allowed' if got['allowed'][s][d] is False else 'denied'}")
        if len(bad) > 8:
            print(f"  ... and {len(bad) - 8} more")
sys.exit(1 if failed else 0)
PY
}

for tt_file in "$TT_DATA"/k8s/*.expect "$TT_DATA"/mseg/*.expect; do
	[ -e "$tt_file" ] || continue
	tt_suite=$(basename "$(dirname "$tt_file")")
	tt_name=$(basename "$tt_file" .expect | tr -c 'A-Za-z0-9\n' '_')
	eval "test_${tt_suite}_${tt_name}() { tt_case '$tt_file'; }"
done
unset tt_file tt_suite tt_name

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
		tt_case "$bad.expect" || return 1
	! tt_case "$bad.expect" >/dev/null
}
