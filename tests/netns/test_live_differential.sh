# SPDX-License-Identifier: Apache-2.0
# Differential test (issue 5): seeded random (topology, policies, flow) samples, every flow sent
# as real packets through real namespaces, on each backend, and every verdict compared with
# the reference evaluator's (`mseg policy matrix` over the live endpoints and the same
# policies). Amortized: the nine containers of the truth tables stay; each round relabels a
# few containers and a namespace (`mseg label`, `mseg namespace label`), applies a fresh
# random policy set with one `mseg apply`, and probes two random ports/protocols: 72 flows a
# matrix (the diagonal never leaves its namespace), 16 rounds = 2,304 flows per backend (the
# calls around a probe cost more than the probe itself on a loaded machine).
#
# LIVE_DIFF_SEED (default: random, printed) and LIVE_DIFF_ROUNDS (default 16) reproduce or
# lengthen a run. A failure prints the seed and round, then the smallest subset of the round's
# policies that still disagrees for one pair, with that pair and the labels in force.
source "$MSEG_TOP/tests/netns/live_lib.sh"

# diff_plan SEED ROUNDS: one JSON line per round, {"labels": [[REF, ARG...]...],
# "ns_labels": [[NS, ARG...]...], "policies": [YAML document...], "ports": ["80/tcp", "81/udp"]}.
diff_plan() {
	"$LIVE_PYTHON" - "$1" "$2" <<'EOF'
import json, random, sys
seed, rounds = int(sys.argv[1]), int(sys.argv[2])
rnd = random.Random(seed)
NS = ["x", "y", "z"]
PODS = ["%s/%s" % (n, p) for n in NS for p in "abc"]
EP_VOCAB = {"app": ["web", "api", "db"], "tier": ["front", "back"]}
NS_VOCAB = {"env": ["prod", "dev"], "team": ["red", "blue"]}
# what the containers start with (live_topology): pod=<name>; namespaces ns=<name>, env on x, y
ep_labels = {r: {"pod": r[2]} for r in PODS}
ns_labels = {"x": {"ns": "x", "env": "prod"}, "y": {"ns": "y", "env": "dev"}, "z": {"ns": "z"}}
POD_IP = {r: "10.200.0.%d" % (4 + 4 * NS.index(r[0]) + "abc".index(r[2])) for r in PODS}
CIDRS = ["10.200.0.0/24", "10.200.0.0/28", "10.200.0.4/30", "10.200.0.8/29", "10.200.0.12/30",
         "10.200.0.8/30"]

def relabel(labels, vocab):
    args = []
    for k, vals in vocab.items():
        if rnd.random() < 0.5:
            continue
        if k in labels and rnd.random() < 0.3:
            del labels[k]
            args.append(k + "-")
        else:
            labels[k] = rnd.choice(vals)
            args.append("%s=%s" % (k, labels[k]))
    return args

def selector(vocab, allow_empty=True):
    c = rnd.random()
    if allow_empty and c < 0.25:
        return {}
    k = rnd.choice(list(vocab))
    if c < 0.6:
        return {"matchLabels": {k: rnd.choice(vocab[k])}}
    op = rnd.choice(["In", "NotIn", "Exists", "DoesNotExist"])
    e = {"key": k, "operator": op}
    if op in ("In", "NotIn"):
        e["values"] = rnd.sample(vocab[k], rnd.randint(1, len(vocab[k])))
    return {"matchExpressions": [e]}

EPV = dict(EP_VOCAB, pod=["a", "b", "c"])
NSV = dict(NS_VOCAB, ns=NS)

def peer(cluster):
    c = rnd.random()
    if c < 0.15:
        cidr = rnd.choice(CIDRS)
        base, plen = cidr.split("/")
        inside = [r for r in PODS if int(POD_IP[r].split(".")[3]) >> (32 - int(plen))
                  == int(base.split(".")[3]) >> (32 - int(plen))]
        b = {"cidr": cidr}
        if inside and int(plen) < 32 and rnd.random() < 0.6:
            b["except"] = [POD_IP[r] + "/32" for r in rnd.sample(inside, rnd.randint(1, min(2, len(inside))))]
        return {"ipBlock": b}
    p = {}
    if c < 0.55:
        p["endpointSelector" if cluster else "podSelector"] = selector(EPV)
    elif c < 0.8:
        p["namespaceSelector"] = selector(NSV)
    else:
        p["namespaceSelector"] = selector(NSV)
        p["endpointSelector" if cluster else "podSelector"] = selector(EPV)
    return p

def ports(icmp_ok):
    out = []
    for _ in range(rnd.randint(1, 2)):
        c = rnd.random()
        if icmp_ok and c < 0.1:
            out.append({"protocol": "ICMP", "icmp": {"type": 8}})
        elif c < 0.3:
            out.append({"port": rnd.choice([80, 81])})
        elif c < 0.45:
            out.append({"protocol": "UDP", "port": rnd.choice([80, 81])})
        elif c < 0.6:
            proto = rnd.choice(["TCP", "UDP"])
            out.append({"protocol": proto, "port": "serve-%d-%s" % (rnd.choice([80, 81]), rnd.choice(["tcp", "udp"]))})
        elif c < 0.75:
            out.append({"protocol": rnd.choice(["TCP", "UDP"]), "port": 79, "endPort": rnd.choice([80, 81])})
        else:
            out.append({"protocol": rnd.choice(["TCP", "UDP"])})
    return out

def rules(direction, kind, pass_ok):
    key = "from" if direction == "ingress" else "to"
    out = []
    for _ in range(rnd.randint(0 if kind == "NetworkPolicy" else 1, 2)):
        r = {}
        if kind != "NetworkPolicy":
            r["action"] = rnd.choice(["allow", "deny"] + (["pass"] if pass_ok else []))
        c = rnd.random()
        if c < 0.7:
            r[key] = [peer(kind == "ClusterPolicy") for _ in range(rnd.randint(1, 2))]
        elif c < 0.8 and kind == "NetworkPolicy":
            r[key] = []
        if rnd.random() < 0.5:
            r["ports"] = ports(kind != "NetworkPolicy")
        out.append(r)
    return out

def policy(i):
    kind = rnd.choice(["NetworkPolicy"] * 3 + ["Policy"] * 2 + ["ClusterPolicy"] * 2)
    tier = rnd.choice(["admin", "baseline"])
    dirs = rnd.choice([["ingress"], ["egress"], ["ingress", "egress"]])
    name = "r%d" % i
    if kind == "ClusterPolicy":
        doc = {"apiVersion": "mseg.io/v1", "kind": kind, "metadata": {"name": name},
               "spec": {"tier": tier, "priority": rnd.randint(0, 3) * 10}}
        subj = {}
        if rnd.random() < 0.6:
            subj["namespaceSelector"] = selector(NSV, False)
        if rnd.random() < 0.5:
            subj["endpointSelector"] = selector(EPV, False)
        if subj:
            doc["spec"]["subject"] = subj
    else:
        doc = {"apiVersion": "networking.k8s.io/v1" if kind == "NetworkPolicy" else "mseg.io/v1",
               "kind": kind, "metadata": {"name": name, "namespace": rnd.choice(NS)},
               "spec": {"podSelector": selector(EPV)}}
        if kind == "NetworkPolicy" or rnd.random() < 0.7:
            doc["spec"]["policyTypes"] = [d.capitalize() for d in dirs]
    for d in dirs:
        rl = rules(d, kind, kind == "ClusterPolicy" and tier == "admin")
        if rl or kind == "NetworkPolicy":
            doc["spec"][d] = rl
    if kind == "ClusterPolicy" and not any(d in doc["spec"] for d in ("ingress", "egress")):
        doc["spec"]["ingress"] = [{"action": "deny"}]
    return doc

for rd in range(rounds):
    plan = {"labels": [], "ns_labels": [], "policies": []}
    for r in rnd.sample(PODS, rnd.randint(1, 3)):
        args = relabel(ep_labels[r], EP_VOCAB)
        if args:
            plan["labels"].append([r] + args)
    if rnd.random() < 0.4:
        n = rnd.choice(NS)
        args = relabel(ns_labels[n], NS_VOCAB)
        if args:
            plan["ns_labels"].append([n] + args)
    plan["policies"] = [json.dumps(policy(i)) for i in range(rnd.randint(1, 4))]
    plan["ports"] = rnd.sample(["80/tcp", "81/tcp", "80/udp", "81/udp", "8/icmp"], 2)
    print(json.dumps(plan))
EOF
}

# diff_endpoints: the live namespaces and endpoints as an endpoints file for the evaluator.
diff_endpoints() {
	jq -n --argjson ns "$(live_mseg namespace ls -o json)" \
		--argjson eps "$(live_mseg ps -o json)" \
		'{namespaces: [$ns[] | {name, labels: (.labels | del(.["kubernetes.io/metadata.name"]))}
			| select(.name != "fill")],
		  endpoints: [$eps[] | {namespace, name, labels, ip, ports}]}'
}

# diff_policies_file OUT DOC...: the documents (JSON, one per argument) as one YAML stream.
diff_policies_file() {
	local out=$1 d first=1
	shift
	: >"$out"
	for d in "$@"; do
		[ $first = 1 ] || echo "---" >>"$out"
		first=0
		# JSON is YAML: one document per line keeps the file easy to read in a report
		echo "$d" >>"$out"
	done
}

# diff_apply FILE: replaces the policies of the previous diff_apply with FILE's. It deletes
# what it applied last time by name (recorded in $MT_DIR/applied) rather than listing the
# agent's policies: two calls fewer a round.
diff_apply() {
	local kind ref
	if [ -e "$MT_DIR/applied" ]; then
		while read -r kind ref; do
			live_mseg delete policy "$ref" --kind "$kind" >/dev/null ||
				fail "cannot delete $kind $ref" || return 1
		done <"$MT_DIR/applied"
	fi
	: >"$MT_DIR/applied"
	[ -s "$1" ] || return 0
	live_mseg apply -f "$1" >"$MT_DIR/apply.out" 2>&1 ||
		fail "apply failed: $(cat "$MT_DIR/apply.out")
$(cat "$1")" || return 1
	grep -v '^---$' "$1" | jq -r '"\(.kind) \(if .metadata.namespace then
		"\(.metadata.namespace)/\(.metadata.name)" else .metadata.name end)"' >"$MT_DIR/applied"
}

# diff_pair_differs DOCS_FILE SRC DST PORT: true when the probe and the evaluator still
# disagree on SRC -> DST with only the policies of DOCS_FILE applied.
diff_pair_differs() {
	local file=$1 src=$2 dst=$3 pp=$4 want got
	diff_apply "$file" || return 2
	want=$("$MSEG" policy matrix --endpoints "$MT_DIR/eps.json" -f "$file" --port "$pp" -o json |
		jq --arg s "$src" --arg d "$dst" '.allowed[$s][$d]')
	got=$(live_mseg probe --port "$pp" --from "$src" --to "$dst" -o json |
		jq --arg s "$src" --arg d "$dst" '.allowed[$s][$d]')
	[ "$want" != "$got" ]
}

# diff_minimize ROUND_FILE PAIR PORT: drops documents one at a time while the pair still
# disagrees, and prints what is left.
diff_minimize() {
	local plan=$1 src=${2%% *} dst=${2#* } pp=$3 i n docs=() keep=()
	mapfile -t docs < <(jq -r '.policies[]' <<<"$plan")
	keep=("${docs[@]}")
	n=${#keep[@]}
	i=0
	while [ "$i" -lt "$n" ] && [ "$n" -gt 1 ]; do
		local try=("${keep[@]:0:$i}" "${keep[@]:$((i + 1))}")
		diff_policies_file "$MT_DIR/try.yaml" "${try[@]}"
		if diff_pair_differs "$MT_DIR/try.yaml" "$src" "$dst" "$pp"; then
			keep=("${try[@]}")
			n=${#keep[@]}
		else
			i=$((i + 1))
		fi
	done
	diff_policies_file "$MT_DIR/min.yaml" "${keep[@]}"
	echo "minimal case: $src -> $dst on $pp, evaluator and datapath disagree with:"
	sed 's/^/    /' "$MT_DIR/min.yaml"
	echo "  labels in force:"
	jq -r '.namespaces[] | "    namespace \(.name): \(.labels)"' "$MT_DIR/eps.json"
	jq -r '.endpoints[] | "    \(.namespace)/\(.name) \(.ip): \(.labels)"' "$MT_DIR/eps.json"
	"$MSEG" policy trace --endpoints "$MT_DIR/eps.json" -f "$MT_DIR/min.yaml" \
		--from "$src" --to "$dst" --port "$pp" 2>&1 | sed 's/^/    /'
}

# diff_check SEED ROUND PLAN PORT: probes PORT and compares with $MT_DIR/want.json; on a
# disagreement prints the seed, the grids and the minimal case, and fails.
diff_check() {
	local seed=$1 rd=$2 plan=$3 pp=$4 pair
	live_mseg probe --port "$pp" -o json >"$MT_DIR/got.json" || return 1
	live_compare json "$MT_DIR/want.json" "$MT_DIR/got.json" >"$MT_DIR/diff" && return 0
	# expected-allowed pairs that only timed out: once more, slowly (loaded machine)
	if ! grep -q 'expected denied' "$MT_DIR/diff"; then
		live_mseg probe --port "$pp" --timeout 3000 -o json >"$MT_DIR/got.json" || return 1
		live_compare json "$MT_DIR/want.json" "$MT_DIR/got.json" >"$MT_DIR/diff" && return 0
	fi
	echo "DIFFERENTIAL FAILURE: seed $seed, round $rd, port $pp" >&2
	cat "$MT_DIR/diff" >&2
	pair=$(awk '/ -> .*: expected/ {print $1, $3; exit}' "$MT_DIR/diff" | tr -d :)
	[ -n "$pair" ] && diff_minimize "$plan" "$pair" "$pp" >&2
	return 1
}

# diff_run [MSEGD ARGS...]: the whole differential run on one agent.
diff_run() {
	live_ready || return
	live_enforcing || return
	local seed=${LIVE_DIFF_SEED:-$((RANDOM * 32768 + RANDOM))} rounds=${LIVE_DIFF_ROUNDS:-16}
	local rd=0 flows=0 plan args pp docs
	echo "differential: seed $seed, $rounds rounds (LIVE_DIFF_SEED=$seed to reproduce)"
	live_node "$@" || return 1
	live_topology || return 1
	diff_plan "$seed" "$rounds" >"$MT_DIR/plan" || return 1
	while read -r plan; do
		rd=$((rd + 1))
		while read -r args; do
			[ -n "$args" ] || continue
			# shellcheck disable=SC2086
			live_mseg label $args >/dev/null || fail "round $rd: mseg label $args failed" ||
				return 1
		done < <(jq -r '.labels[] | join(" ")' <<<"$plan")
		while read -r args; do
			[ -n "$args" ] || continue
			# shellcheck disable=SC2086
			live_mseg namespace label $args >/dev/null ||
				fail "round $rd: mseg namespace label $args failed" || return 1
		done < <(jq -r '.ns_labels[] | join(" ")' <<<"$plan")
		mapfile -t docs < <(jq -r '.policies[]' <<<"$plan")
		diff_policies_file "$MT_DIR/round.yaml" "${docs[@]}"
		diff_endpoints >"$MT_DIR/eps.json" || return 1
		diff_apply "$MT_DIR/round.yaml" || { echo "seed $seed round $rd" >&2; return 1; }
		for pp in $(jq -r '.ports[]' <<<"$plan"); do
			"$MSEG" policy matrix --endpoints "$MT_DIR/eps.json" -f "$MT_DIR/round.yaml" \
				--port "$pp" -o json >"$MT_DIR/want.json" ||
				fail "round $rd: the evaluator refused the generated policies (seed $seed):
$(cat "$MT_DIR/round.yaml")" || return 1
			diff_check "$seed" "$rd" "$plan" "$pp" || return 1
			flows=$((flows + $(jq '[.allowed | to_entries[] | .key as $s | .value | keys[] |
				select(. != $s)] | length' "$MT_DIR/got.json")))
		done
	done <"$MT_DIR/plan"
	echo "differential: $flows flows in $rd rounds agree with the evaluator (seed $seed)"
	[ $flows -ge $((rounds * 2 * 72)) ] || fail "only $flows flows were checked"
}

test_live_differential_bpf() {
	diff_run --datapath bpf
}

test_live_differential_nft() {
	diff_run --datapath nft
}
