#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Part c: control plane. Time from the command to enforcement of N rules, for mseg and for
# `nft -f` of the equivalent set-based file and `iptables-restore` of the equivalent linear
# rules (both iptables backends), each confirmed afterwards by probes (the admitted port
# answers, a port no rule admits does not); then one changed rule at the largest size.
set -u
BENCH_PART=c
source "$(dirname "$0")/lib.sh"
trap 'exit 143' INT TERM

# agent_node bpf|nft: node ab or an with msegd on that backend and bench/src, bench/dst; the
# address of dst in $MT_DIR/<node>.dst; probe servers in dst (5002 admitted, 6002 not).
agent_node() {
	local b=$1 node=a${1:0:1} p
	node_create "$node" || return 1
	agent_start "$node" --datapath "$b" --pod-cidr "10.20$([ "$b" = bpf ] && echo 1 || echo 2).0.0/20" ||
		return 1
	mseg_on "$node" namespace create bench >/dev/null || return 1
	mseg_on "$node" run -d --name src --namespace bench -l app=src >/dev/null || return 1
	mseg_on "$node" run -d --name dst --namespace bench -l app=dst >/dev/null || return 1
	mseg_on "$node" ps -o json | jq -r '.[] | select(.name == "dst") | .ip' >"$MT_DIR/$node.dst"
	[ -s "$MT_DIR/$node.dst" ] || return 1
	for p in 5002 6002; do
		mseg_on "$node" exec bench/dst -- "$RR" server --port $p --seconds 3600 >/dev/null 2>&1 &
	done
	sleep 0.3
}

# The measurements; globals they set (counts, configurations) feed the report.
measure() {
	if [ -n "$QUICK" ]; then
		SCALES=${SCALES:-1000 10000}
	else
		SCALES=${SCALES:-1000 10000 100000}
	fi
	TRIALS=$(bench_trials)
	bench_pair || { bench_note "could not build the container pair"; exit 1; }
	# Probe servers in c2: 5002 is admitted by every ruleset, 6002 by none.
	for p in 5002 6002; do
		on c2 "$RR" server --port $p --seconds 3600 >/dev/null 2>&1 &
	done
	sleep 0.2

	SYSTEMS=""
	# mseg through its agent: one node per backend (ab: bpf, an: nft), each with msegd and
	# containers bench/src (app=src) and bench/dst (app=dst) made by `mseg run -d`.
	if "$MSEG" --help 2>&1 | grep -qw apply; then
		for b in bpf nft; do
			if agent_node "$b"; then
				SYSTEMS="$SYSTEMS apply$b"
			else
				bench_note "mseg apply on $b: the node could not be set up"
			fi
		done
	else
		bench_note "\`mseg apply\` to enforced: needs mseg apply (not yet integrated)"
	fi
	# dp-load (the same compiler and backends without the agent) only when the agent cannot
	# apply, or when asked (DPLOAD_ROWS=1): it is the stage breakdown, not a peer.
	if [ -x "$DPLOAD" ] && { [ -z "$SYSTEMS" ] || [ -n "${DPLOAD_ROWS:-}" ]; }; then
		SYSTEMS="$SYSTEMS msegbpf msegnft"
	fi
	# The full applies get 60% of the time; the rest is kept for the one-change figures.
	if [ -n "${BENCH_DEADLINE:-}" ]; then
		APPLY_DEADLINE=$((EPOCHSECONDS + (BENCH_DEADLINE - EPOCHSECONDS) * 60 / 100))
	else
		APPLY_DEADLINE=
	fi
	apply_time_ok() { [ -z "$APPLY_DEADLINE" ] || [ "$EPOCHSECONDS" -lt "$APPLY_DEADLINE" ]; }
	: >"$MT_DIR/failed"
	SYSTEMS="$SYSTEMS nftset iptnft"
	command -v iptables-legacy >/dev/null && SYSTEMS="$SYSTEMS iptleg"

	# hook_set FILE: the set ruleset's base chain, so that loading FILE enforces.
	hook_set() {
		printf '%s\n' "table inet mbset {" "  chain mbfwd {" \
			"    type filter hook forward priority 0;" "    jump rules" "  }" "}" >>"$1"
	}
	# probe_ok SYSTEM PORT: c1 (or the agent node's bench/src) gets an answer from PORT.
	probe_ok() {
		case $1 in
		apply*)
			local node=a${1#apply}
			mseg_on "${node:0:2}" exec bench/src -- "$RR" client --dst "$(cat "$MT_DIR/${node:0:2}.dst")" \
				--port "$2" --count 1 --seconds 0.4 >/dev/null 2>&1 ;;
		*) on c1 "$RR" client --dst "$DST_IP" --port "$2" --count 1 --seconds 0.4 >/dev/null 2>&1 ;;
		esac
	}
	confirm() { probe_ok "$1" 5002 && ! probe_ok "$1" 6002; }

	apply_cmd() {
		case $1 in
		applybpf) mseg_on ab apply --timings -f "$MT_DIR/policy.yaml" ;;
		applynft) mseg_on an apply --timings -f "$MT_DIR/policy.yaml" ;;
		msegbpf | msegnft) mseg_load "${1#mseg}" ;;
		nftset) on n1 nft -f "$MT_DIR/set-hooked.nft" ;;
		iptnft) on n1 iptables-nft-restore -w <"$MT_DIR/hooked.ipt" ;;
		iptleg) on n1 iptables-legacy-restore -w <"$MT_DIR/hooked.ipt" ;;
		esac
	}
	remove_cmd() {
		case $1 in
		applybpf) mseg_on ab delete policy "bench/bench-$n" ;;
		applynft) mseg_on an delete policy "bench/bench-$n" ;;
		msegbpf | msegnft) mseg_purge "${1#mseg}" ;;
		nftset) on n1 nft delete table inet mbset ;;
		iptnft) on n1 iptables-nft -w -F && on n1 iptables-nft -w -X ;;
		iptleg) on n1 iptables-legacy -w -F && on n1 iptables-legacy -w -X ;;
		esac
	}

	: >"$BENCH_OUT/c_apply.dat"
	: >"$BENCH_OUT/c_change.dat"
	: >"$BENCH_OUT/c_newep.dat"
	for n in $SCALES; do
		apply_time_ok || { bench_note "stopped before $n rules: time budget"; break; }
		bench_log "c: $n rules"
		DONE_SCALE=$n
		gen_mseg_policy "$n" "$MT_DIR/policy.yaml"
		gen_nft_set "$n" "$MT_DIR/set-hooked.nft"
		hook_set "$MT_DIR/set-hooked.nft"
		gen_ipt_linear "$n" "$MT_DIR/hooked.ipt"
		sed -i 's/^COMMIT$/-A FORWARD -j MBLIN\nCOMMIT/' "$MT_DIR/hooked.ipt"
		for t in $(seq 1 "$TRIALS"); do
			apply_time_ok || { bench_note "$n rules: stopped after $((t - 1)) trials: time budget"; break; }
			for s in $SYSTEMS; do
				grep -qx "$s" "$MT_DIR/failed" && continue
				confirm "$s" && { bench_note "$s: enforcing before the apply at $n (trial $t)"; }
				t0=${EPOCHREALTIME/./}
				if ! apply_cmd "$s" >"$MT_DIR/apply.out" 2>"$MT_DIR/apply.err"; then
					bench_note "$s: apply of $n rules failed: $(head -c 240 "$MT_DIR/apply.err" | tr '\n' ' ')"
					echo "$s" >>"$MT_DIR/failed"
					remove_cmd "$s" >/dev/null 2>&1
					continue
				fi
				t1=${EPOCHREALTIME/./}
				# Enforced = the first probe round that sees it; if the command returned
				# before its rules took effect, the time runs to the start of that round.
				ok=
				for k in 1 2 3 4 5 6; do
					tc=${EPOCHREALTIME/./}
					confirm "$s" && { ok=1; break; }
				done
				if [ -n "$ok" ]; then
					[ "$k" -gt 1 ] && t1=$tc && bench_note "$s: enforced only after the command" \
						"returned (probe round $k) at $n rules"
					echo "$n $s $t $(awk -v us=$((t1 - t0)) 'BEGIN {printf "%.2f", us / 1000}')" \
						"$(grep -a '^parse_ms=' "$MT_DIR/apply.out")" >>"$BENCH_OUT/c_apply.dat"
				else
					bench_note "**$s did not enforce after applying $n rules** (trial $t)"
				fi
				remove_cmd "$s" >/dev/null 2>&1
			done
		done
	done

	# One changed rule at the largest size: the first filler peer moves to another address.
	# at the largest size the full applies reached
	last=${DONE_SCALE:-${SCALES##* }}
	bench_time_ok || { bench_note "one changed rule: not measured (time budget)"; return 0; }
	bench_log "c: one changed rule at $last"
	: >"$BENCH_OUT/c_change.dat"
	: >"$BENCH_OUT/c_newep.dat"
	gen_mseg_policy "$last" "$MT_DIR/policy.yaml"
	sed '0,/cidr: 10\.64\.0\.0\/32/s//cidr: 10.127.255.254\/32/' "$MT_DIR/policy.yaml" \
		>"$MT_DIR/policy2.yaml"
	gen_nft_set "$last" "$MT_DIR/set-hooked.nft"
	hook_set "$MT_DIR/set-hooked.nft"
	gen_ipt_linear "$last" "$MT_DIR/hooked.ipt"
	sed -i 's/^COMMIT$/-A FORWARD -j MBLIN\nCOMMIT/' "$MT_DIR/hooked.ipt"
	for s in $SYSTEMS; do
		grep -qx "$s" "$MT_DIR/failed" && continue
		case $s in
		applybpf | applynft)
			node=a${s#apply}
			node=${node:0:2}
			# A new endpoint without any policy first, for the difference the policy makes.
			for t in $(seq 1 "$TRIALS"); do
				t0=${EPOCHREALTIME/./}
				mseg_on "$node" run -d --name "old$t" --namespace bench -l app=dst >/dev/null ||
					{ bench_note "$s: mseg run failed"; break; }
				t1=${EPOCHREALTIME/./}
				echo "$s-nopolicy $t $(awk -v us=$((t1 - t0)) 'BEGIN {printf "%.3f", us / 1000}')" \
					>>"$BENCH_OUT/c_newep.dat"
				mseg_on "$node" rm "bench/old$t" >/dev/null 2>&1
			done
			apply_cmd "$s" >/dev/null 2>&1 || { bench_note "$s: load for the change failed"; continue; }
			for t in $(seq 1 "$TRIALS"); do
				f=$MT_DIR/policy2.yaml
				[ $((t % 2)) = 0 ] && f=$MT_DIR/policy.yaml
				t0=${EPOCHREALTIME/./}
				mseg_on "$node" apply --timings -f "$f" >"$MT_DIR/change.out" ||
					{ bench_note "$s: changing one rule failed"; break; }
				t1=${EPOCHREALTIME/./}
				# msegd's own account: parse_ms= save_ms= compile_ms= apply_ms= total_ms=
				echo "$s $t $(awk -v us=$((t1 - t0)) 'BEGIN {printf "%.3f", us / 1000}')" \
					"$(grep -a '^parse_ms=' "$MT_DIR/change.out")" >>"$BENCH_OUT/c_change.dat"
			done
			confirm "$s" || bench_note "**$s did not enforce after the changes**"
			# One new endpoint the policy selects: from \`mseg run\` to attached with its policy.
			for t in $(seq 1 "$TRIALS"); do
				t0=${EPOCHREALTIME/./}
				mseg_on "$node" run -d --name "new$t" --namespace bench -l app=dst >/dev/null ||
					{ bench_note "$s: mseg run of a new endpoint failed"; break; }
				t1=${EPOCHREALTIME/./}
				echo "$s $t $(awk -v us=$((t1 - t0)) 'BEGIN {printf "%.3f", us / 1000}')" \
					>>"$BENCH_OUT/c_newep.dat"
				mseg_on "$node" rm "bench/new$t" >/dev/null 2>&1
			done
			n=$last remove_cmd "$s" >/dev/null 2>&1
			;;
		msegbpf | msegnft)
			coproc DP { mseg_load "${s#mseg}" --serve 2>"$MT_DIR/dp.err"; }
			read -r -t 120 line <&"${DP[0]}"
			case $line in parse_ms=*) ;; *)
				bench_note "dp-load --serve: $line $(head -c 200 "$MT_DIR/dp.err" | tr '\n' ' ')"
				continue ;;
			esac
			for t in $(seq 1 "$TRIALS"); do
				f=$MT_DIR/policy2.yaml
				[ $((t % 2)) = 0 ] && f=$MT_DIR/policy.yaml
				t0=${EPOCHREALTIME/./}
				echo "apply $f" >&"${DP[1]}"
				read -r -t 120 line <&"${DP[0]}"
				t1=${EPOCHREALTIME/./}
				case $line in parse_ms=*) ;; *) bench_note "dp-load apply: $line"; break ;; esac
				echo "$s $t $(awk -v us=$((t1 - t0)) 'BEGIN {printf "%.3f", us / 1000}') $line" \
					>>"$BENCH_OUT/c_change.dat"
			done
			confirm "$s" || bench_note "**$s did not enforce after the changes**"
			echo quit >&"${DP[1]}"
			wait "$DP_PID" 2>/dev/null
			mseg_purge "${s#mseg}" >/dev/null 2>&1
			;;
		nftset | iptnft | iptleg)
			apply_cmd "$s" >/dev/null 2>&1 || { bench_note "$s: load for the change failed"; continue; }
			for t in $(seq 1 "$TRIALS"); do
				a=10.64.0.0 b=10.127.255.254
				[ $((t % 2)) = 0 ] && a=10.127.255.254 b=10.64.0.0
				case $s in
				nftset) cmd=(on n1 nft "delete element inet mbset allow { $a . udp . 5001 };" \
					"add element inet mbset allow { $b . udp . 5001 }") ;;
				iptnft | iptleg)
					# rule 2 of MBLIN is the first filler peer (rule 1: established)
					cmd=(on n1 "${s/iptnft/iptables-nft}" -w -R MBLIN 2 -s "$b/32" -d "$DST_IP/32" \
						-p udp --dport 5001 -j ACCEPT)
					cmd[2]=${cmd[2]/iptleg/iptables-legacy} ;;
				esac
				t0=${EPOCHREALTIME/./}
				"${cmd[@]}" || { bench_note "$s: changing one rule failed"; break; }
				t1=${EPOCHREALTIME/./}
				echo "$s $t $(awk -v us=$((t1 - t0)) 'BEGIN {printf "%.3f", us / 1000}')" \
					>>"$BENCH_OUT/c_change.dat"
			done
			confirm "$s" || bench_note "**$s did not enforce after the changes**"
			remove_cmd "$s" >/dev/null 2>&1
			;;
		esac
	done
}

# ---- the report -----------------------------------------------------------------------------
# Written on every exit path, from whatever was measured (a part stopped by its time budget
# still reports its complete trials).
report() {
	label() {
		case $1 in
		applybpf) echo "\`mseg apply\`, eBPF" ;;
	applynft) echo "\`mseg apply\`, nft" ;;
	msegbpf) echo "mseg eBPF (dp-load)" ;;
		msegnft) echo "mseg nft (dp-load)" ;;
		nftset) echo "\`nft -f\`, set-based" ;;
		iptnft) echo "\`iptables-restore\` (nft), linear" ;;
		iptleg) echo "\`iptables-legacy-restore\`, linear" ;;
		esac
	}
	ap() {
		# shellcheck disable=SC2046
		stats $(awk -v n="$1" -v s="$2" '$1 == n && $2 == s {print $4}' "$BENCH_OUT/c_apply.dat")
	}
	# stopped before the one-change part: its figures are simply missing
	[ -n "${last:-}" ] || last=${DONE_SCALE:-$(echo "${SCALES:-}" | awk '{print $NF}')}
	{
		echo "## c. Control plane"
		echo
		echo "Wall time of the command that loads N rules into an empty node until it returns," \
			"ms, median [min–max] of $TRIALS interleaved trials; each apply is then confirmed by" \
			"probes (UDP request/response: the admitted port answers, a port no rule admits does" \
			"not; a failed confirmation is reported below and the trial left out). Every command" \
			"is synchronous (it returns after the kernel committed), so the probe confirms what" \
			"was timed. Rulesets as in part a (N−1 filler /32 peers + the admitted client)."
		echo
		echo "| rules | system | time to enforced ms | ratio ÷ \`nft -f\` | goal | result |"
		echo "| ---: | --- | --- | ---: | --- | --- |"
		for n in $SCALES; do
			read -r nm _ <<<"$(ap "$n" nftset)"
			read -r mm _ <<<"$(ap "$n" applybpf)"
			for s in $SYSTEMS; do
				read -r m a b <<<"$(ap "$n" "$s")"
				r=$(ratio "$m" "$nm")
				g="" res=""
				case $s in
				applybpf | applynft) g="≤ 1.0"; res=$(met "$r" "<=" 1.0) ;;
				iptnft | iptleg)
					if [ "$n" = 100000 ]; then
						g="mseg ≥ 10× faster"
						rr=$(ratio "$m" "$mm" 1)
						res="\`mseg apply\` (eBPF) ${rr}× faster: $(met "$rr" ">=" 10)"
					fi ;;
				esac
				echo "| $n | $(label "$s") | $(fmt_cell "$m" "$a" "$b" 1) | $r | $g | $res |"
				echo "$n $s $m $a $b" >>"$BENCH_OUT/c_plot_$s.dat"
			done
		done
		echo
		echo "One changed rule at $last rules (ms, median [min–max] of $TRIALS; each trial moves" \
			"one filler peer to a new address and back):"
		echo
		echo "| system | one changed rule, wall ms | agent: request to datapath committed ms" \
			"| of which compile + datapath ms | goal | result |"
		echo "| --- | --- | --- | --- | --- | --- |"
		for s in $SYSTEMS; do
			# shellcheck disable=SC2046
			read -r m a b <<<"$(stats $(awk -v s="$s" '$1 == s {print $3}' "$BENCH_OUT/c_change.dat"))"
			# shellcheck disable=SC2046
			read -r cm ca cb <<<"$(stats $(awk -v s="$s" '$1 == s {
				for (i = 4; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
				print v["compile_ms"] + v["apply_ms"] }' "$BENCH_OUT/c_change.dat"))"
			# shellcheck disable=SC2046
			read -r tm ta tb <<<"$(stats $(awk -v s="$s" '$1 == s {
				for (i = 4; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
				if ("total_ms" in v) print v["total_ms"] }' "$BENCH_OUT/c_change.dat"))"
			g="" res="" c="" tt=""
			case $s in
			applybpf | applynft)
				g="< 2 ms"; res=$(met "$m" "<=" 2)
				c=$(fmt_cell "$cm" "$ca" "$cb" 2)
				tt=$(fmt_cell "$tm" "$ta" "$tb" 2) ;;
			msegbpf | msegnft) c=$(fmt_cell "$cm" "$ca" "$cb" 2) ;;
			esac
			echo "| $(label "$s") | $(fmt_cell "$m" "$a" "$b" 2) | $tt | $c | $g | $res |"
		done
		for s in applybpf applynft; do
			# shellcheck disable=SC2046
			read -r m a b <<<"$(stats $(awk -v s="$s" '$1 == s {print $3}' "$BENCH_OUT/c_newep.dat"))"
			# shellcheck disable=SC2046
			read -r m0 a0 b0 <<<"$(stats $(awk -v s="$s-nopolicy" '$1 == s {print $3}' \
				"$BENCH_OUT/c_newep.dat"))"
			[ "$m" = nan ] && continue
			d=$(awk -v x="$m" -v y="$m0" 'BEGIN {printf "%.2f", x - y}')
			echo "| one new endpoint at $last rules: \`mseg run -d\`, $(label "$s" | sed 's/.*, //')" \
				"(without policy: $(fmt_cell "$m0" "$a0" "$b0" 1)) | $(fmt_cell "$m" "$a" "$b" 2) |" \
				"difference: $d | < 2 ms (difference) | $(met "$d" "<=" 2) |"
		done
		echo
		if grep -q ' apply\(bpf\|nft\) .*total_ms=' "$BENCH_OUT/c_apply.dat" "$BENCH_OUT/c_change.dat" \
			2>/dev/null; then
			echo
			echo "Where msegd's time goes (ms, medians; \`mseg apply --timings\`: parse and validate," \
				"save policies.json, compile, datapath apply; total from the decoded request to the" \
				"datapath committed, without the JSON transport):"
			echo
			echo "| what | backend | parse | save | compile | datapath apply | agent total |"
			echo "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
			for s in applybpf applynft; do
				for w in "full apply at $last" "one changed rule at $last"; do
					case $w in
					full*) src=$BENCH_OUT/c_apply.dat sel="\$1 == $last && \$2 == \"$s\"" ;;
					*) src=$BENCH_OUT/c_change.dat sel="\$1 == \"$s\"" ;;
					esac
					for k in parse_ms save_ms compile_ms apply_ms total_ms; do
						# shellcheck disable=SC2046
						stats $(awk "$sel"' {
							for (i = 4; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "'$k'") print kv[2] } }' \
							"$src") | cut -d' ' -f1
					done | paste -sd' ' | awk -v w="$w" -v l="$(label "$s" | sed 's/.*, //')" \
						'$1 != "nan" {printf "| %s | %s | %.2f | %.2f | %.2f | %.2f | %.2f |\n", w, l, $1, $2, $3, $4, $5}'
				done
			done
		fi
		echo
		echo "\`mseg apply\` rows: the CLI reads and sends the file, msegd parses it, runs the" \
			"compiler update and applies the diff to its backend before answering; the goal is" \
			"judged on that whole wall time. The dp-load rows re-read the file themselves (parsing" \
			"$last rules dominates their wall time); their compile + datapath column is the part an" \
			"agent cannot avoid. The peers' figures are the whole command (nft resolves the set" \
			"element; iptables re-reads and rewrites the whole table). A new endpoint: \`mseg run -d\`" \
			"of a container the $last-rule policy selects, until msegd answers (it attaches the" \
			"endpoint with its policy before that; compare part d's setup without policy)."
		echo
		if grep -q ' mseg\(bpf\|nft\) ' "$BENCH_OUT/c_apply.dat" 2>/dev/null; then
			echo "Stages of the mseg full apply (ms, medians over the trials; dp-load's own timers):"
			echo
			echo "| rules | backend | parse | compile | datapath apply | attach 2 endpoints |"
			echo "| ---: | --- | ---: | ---: | ---: | ---: |"
			for n in $SCALES; do
				for s in msegbpf msegnft; do
					for k in parse_ms compile_ms apply_ms attach_ms; do
						# shellcheck disable=SC2046
						stats $(awk -v n="$n" -v s="$s" -v k="$k" '$1 == n && $2 == s {
							for (i = 5; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) print kv[2] } }' \
							"$BENCH_OUT/c_apply.dat") | cut -d' ' -f1
					done | paste -sd' ' | awk -v n="$n" -v l="$(label "$s")" \
						'$1 != "nan" {printf "| %s | %s | %.1f | %.1f | %.1f | %.1f |\n", n, l, $1, $2, $3, $4}'
				done
			done
			echo
		fi
		echo "Reproduce: \`sudo QUICK=$QUICK SCALES='$SCALES' ./tools/bench/part_c.sh\`."
		echo
		[ -e "$BENCH_OUT/c.notes" ] && awk '!seen[$0]++ {print "- " $0}' "$BENCH_OUT/c.notes" && echo
	} >"$BENCH_OUT/c.md"
}

trap 'report; harness_cleanup' EXIT
measure
exit 0
