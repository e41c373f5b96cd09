# SPDX-License-Identifier: Apache-2.0
# The truth tables of tests/data/k8s through the nft backend with real packets: for every case
# on the shared topology, dpdrive applies the case's policies as a compiler update (the
# incremental path) and every source probes every other endpoint on each port of the case's
# .expect file; each answer must equal `mseg policy matrix` (the reference evaluator).
source "$MSEG_TOP/tests/netns/test_nft_helpers.sh"

# nft_matrix_check POLICY PORT/PROTO: probes all pairs in parallel, compares with the matrix.
nft_matrix_check() {
	local policy=$1 pp=$2 port=${2%/*} proto=${2#*/} out="$MT_DIR/probe" i j bad=0 pids=()
	"$MSEG" policy matrix --endpoints "$NFT_TOPO" -f "$policy" --port "$pp" -o json |
		jq -r '.allowed | to_entries[] | .key as $s | .value | to_entries[] |
		       "\($s) \(.key) \(.value)"' >"$MT_DIR/want" || return 1
	# a listener that died would look like a drop: make sure they all still listen
	if [ "$proto" = tcp ]; then
		for i in "${!NFT_EPS[@]}"; do
			ip netns exec "$MT-c$i" ss -Hltn "sport = :$port" | grep -q . ||
				{ fail "${NFT_EPS[$i]}: nothing listens on $pp any more"; return 1; }
		done
	fi
	: >"$out"
	# one worker per source (the machine is shared): its destinations one after another; a
	# probe that fails is tried once more, so that a slow moment cannot look like a drop
	# (a retry can only turn a denial into a pass, never hide a pass that should not be)
	for i in "${!NFT_EPS[@]}"; do
		(
			for j in "${!NFT_EPS[@]}"; do
				# an endpoint's traffic to itself never leaves its namespace
				[ "$i" = "$j" ] && continue
				r=false
				if "${proto}_probe" "$i" "$j" "$port" ||
					"${proto}_probe" "$i" "$j" "$port"; then
					r=true
				fi
				echo "${NFT_EPS[$i]} ${NFT_EPS[$j]} $r" >>"$out"
			done
		) &
		pids+=($!)
	done
	# not a bare wait: the dpdrive coprocess is a child too
	wait "${pids[@]}"
	# one pass over both lists (the machine is shared: few processes)
	awk -v name="$(basename "$policy") $pp" '
		NR == FNR { got[$1 " " $2] = $3; next }
		$1 != $2 && got[$1 " " $2] != $3 {
			# the first few pairs, then a count: the harness shows 40 lines
			if (++bad <= 3)
				printf "%s: %s -> %s: datapath allowed=%s, evaluator allowed=%s\n",
					name, $1, $2, got[$1 " " $2], $3 > "/dev/stderr"
		}
		END {
			if (bad > 3)
				printf "%s: %d pairs differ in all\n", name, bad > "/dev/stderr"
			exit bad > 0
		}' "$out" "$MT_DIR/want" || bad=1
	return $bad
}

test_nft_truth_tables_k8s() {
	local data="$MSEG_TOP/tests/data" f pp failed=0 n=0
	# Its shell probes (a subshell per source, a socat per pair) time out under load; the
	# truth tables reach the nft backend in every run through msegd and mseg probe
	# (test_live_truth, test_live_differential), so this agent-less pass is opt-in.
	[ "${NFT_TRUTH:-0}" = 1 ] || [ "${NFT_TRUTH_ALL:-0}" = 1 ] || {
		skip "opt-in (NFT_TRUTH=1): test_live_truth covers nft through msegd"
		return
	}
	command -v jq >/dev/null || { skip "jq is not installed"; return; }
	[ -x "$MSEG" ] || { skip "build/mseg is not built"; return; }
	NFT_TOPO="$data/topology.yaml"
	nft_setup_topology "$NFT_TOPO" || return 1
	# shellcheck disable=SC2046
	dpdrive_serve --endpoints "$NFT_TOPO" $(nft_attach_args) || return 1
	# Every case goes through the nft backend inside msegd in test_live_truth and
	# test_live_differential; here, without the agent, every fourth case keeps the check of
	# dpdrive's incremental path affordable (NFT_TRUTH_ALL=1 runs them all).
	local k=0
	for f in "$data"/k8s/*.yaml; do
		case $f in *.topology.yaml) continue ;; esac
		# a case with its own topology needs other containers: not on this one
		[ -e "${f%.yaml}.topology.yaml" ] && continue
		k=$((k + 1))
		[ "${NFT_TRUTH_ALL:-0}" = 1 ] || [ $((k % 4)) = 1 ] || continue
		dp_cmd apply "$f" || { echo "apply $(basename "$f") failed" >&2; return 1; }
		for pp in $(awk '/^port /{print $2}' "${f%.yaml}.expect"); do
			# SCTP needs the sctp module in every container namespace: TCP and UDP only
			case $pp in */tcp | */udp) ;; *) continue ;; esac
			# listeners serve 80 and 81 only (nft_listen); the live suites probe the rest
			case ${pp%/*} in 80 | 81) ;; *) continue ;; esac
			n=$((n + 1))
			nft_matrix_check "$f" "$pp" || failed=1
		done
	done
	dp_cmd quit >/dev/null 2>&1
	echo "checked $n (case, port) tables"
	return $failed
}
