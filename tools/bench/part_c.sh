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
	bench_note "\`mseg apply\` to enforced: needs mseg apply (not yet integrated); the mseg rows are" \
		"the real compiler and backend programmed by dp-load in the node (parse + compile + apply +" \
		"attach, no agent)"
	[ -x "$DPLOAD" ] && SYSTEMS="msegbpf msegnft"
	SYSTEMS="$SYSTEMS nftset iptnft"
	command -v iptables-legacy >/dev/null && SYSTEMS="$SYSTEMS iptleg"

	# hook_set FILE: the set ruleset's base chain, so that loading FILE enforces.
	hook_set() {
		printf '%s\n' "table inet mbset {" "  chain mbfwd {" \
			"    type filter hook forward priority 0;" "    jump rules" "  }" "}" >>"$1"
	}
	probe_ok() { on c1 "$RR" client --dst "$DST_IP" --port "$1" --count 1 --seconds 0.4 >/dev/null 2>&1; }
	confirm() { probe_ok 5002 && ! probe_ok 6002; }

	apply_cmd() {
		case $1 in
		msegbpf | msegnft) mseg_load "${1#mseg}" ;;
		nftset) on n1 nft -f "$MT_DIR/set-hooked.nft" ;;
		iptnft) on n1 iptables-nft-restore -w <"$MT_DIR/hooked.ipt" ;;
		iptleg) on n1 iptables-legacy-restore -w <"$MT_DIR/hooked.ipt" ;;
		esac
	}
	remove_cmd() {
		case $1 in
		msegbpf | msegnft) mseg_purge "${1#mseg}" ;;
		nftset) on n1 nft delete table inet mbset ;;
		iptnft) on n1 iptables-nft -w -F && on n1 iptables-nft -w -X ;;
		iptleg) on n1 iptables-legacy -w -F && on n1 iptables-legacy -w -X ;;
		esac
	}

	: >"$BENCH_OUT/c_apply.dat"
	: >"$BENCH_OUT/c_change.dat"
	for n in $SCALES; do
		bench_time_ok || { bench_note "stopped before $n rules: time budget"; break; }
		bench_log "c: $n rules"
		gen_mseg_policy "$n" "$MT_DIR/policy.yaml"
		gen_nft_set "$n" "$MT_DIR/set-hooked.nft"
		hook_set "$MT_DIR/set-hooked.nft"
		gen_ipt_linear "$n" "$MT_DIR/hooked.ipt"
		sed -i 's/^COMMIT$/-A FORWARD -j MBLIN\nCOMMIT/' "$MT_DIR/hooked.ipt"
		for t in $(seq 1 "$TRIALS"); do
			bench_time_ok || { bench_note "$n rules: stopped after $((t - 1)) trials: time budget"; break; }
			for s in $SYSTEMS; do
				confirm && { bench_note "$s: enforcing before the apply at $n (trial $t)"; }
				t0=${EPOCHREALTIME/./}
				if ! apply_cmd "$s" >"$MT_DIR/apply.out" 2>"$MT_DIR/apply.err"; then
					bench_note "$s: apply of $n rules failed: $(head -c 240 "$MT_DIR/apply.err" | tr '\n' ' ')"
					remove_cmd "$s" >/dev/null 2>&1
					continue
				fi
				t1=${EPOCHREALTIME/./}
				if confirm; then
					echo "$n $s $t $(awk -v us=$((t1 - t0)) 'BEGIN {printf "%.2f", us / 1000}')" \
						"$(cat "$MT_DIR/apply.out")" >>"$BENCH_OUT/c_apply.dat"
				else
					bench_note "**$s did not enforce after applying $n rules** (trial $t)"
				fi
				remove_cmd "$s" >/dev/null 2>&1
			done
		done
	done

	# One changed rule at the largest size: the first filler peer moves to another address.
	last=${SCALES##* }
	bench_time_ok || { bench_note "one changed rule: not measured (time budget)"; return 0; }
	bench_log "c: one changed rule at $last"
	: >"$BENCH_OUT/c_change.dat"
	gen_mseg_policy "$last" "$MT_DIR/policy.yaml"
	sed '0,/cidr: 10\.64\.0\.0\/32/s//cidr: 10.127.255.254\/32/' "$MT_DIR/policy.yaml" \
		>"$MT_DIR/policy2.yaml"
	gen_nft_set "$last" "$MT_DIR/set-hooked.nft"
	hook_set "$MT_DIR/set-hooked.nft"
	gen_ipt_linear "$last" "$MT_DIR/hooked.ipt"
	sed -i 's/^COMMIT$/-A FORWARD -j MBLIN\nCOMMIT/' "$MT_DIR/hooked.ipt"
	for s in $SYSTEMS; do
		case $s in
		msegbpf | msegnft)
			coproc DP { mseg_load "${s#mseg}" --serve 2>&1; }
			read -r -t 120 line <&"${DP[0]}"
			case $line in parse_ms=*) ;; *) bench_note "dp-load --serve: $line"; continue ;; esac
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
			confirm || bench_note "**$s did not enforce after the changes**"
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
			confirm || bench_note "**$s did not enforce after the changes**"
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
			read -r mm _ <<<"$(ap "$n" msegbpf)"
			for s in $SYSTEMS; do
				read -r m a b <<<"$(ap "$n" "$s")"
				r=$(ratio "$m" "$nm")
				g="" res=""
				case $s in
				msegbpf | msegnft) g="≤ 1.0"; res=$(met "$r" "<=" 1.0) ;;
				iptnft | iptleg)
					if [ "$n" = 100000 ]; then
						g="mseg ≥ 10× faster"
						rr=$(ratio "$m" "$mm" 1)
						res="mseg eBPF ${rr}× faster: $(met "$rr" ">=" 10)"
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
		echo "| system | one changed rule, wall ms | of which compile + datapath ms | goal | result |"
		echo "| --- | --- | --- | --- | --- |"
		for s in $SYSTEMS; do
			# shellcheck disable=SC2046
			read -r m a b <<<"$(stats $(awk -v s="$s" '$1 == s {print $3}' "$BENCH_OUT/c_change.dat"))"
			# shellcheck disable=SC2046
			read -r cm ca cb <<<"$(stats $(awk -v s="$s" '$1 == s {
				for (i = 4; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
				print v["compile_ms"] + v["apply_ms"] }' "$BENCH_OUT/c_change.dat"))"
			g="" res="" c=""
			case $s in
			msegbpf | msegnft) g="< 2 ms"; res=$(met "$cm" "<=" 2); c=$(fmt_cell "$cm" "$ca" "$cb" 2) ;;
			esac
			echo "| $(label "$s") | $(fmt_cell "$m" "$a" "$b" 2) | $c | $g | $res |"
		done
		echo "| one new endpoint at $last rules (mseg) | needs mseg apply (not yet integrated) | | < 2 ms | n/a |"
		echo
		echo "The mseg change is dp-load's \`apply FILE\`: it re-reads the whole policy file" \
			"(parsing $last rules dominates the wall time), then runs the compiler update and" \
			"applies the diff; the agent keeps policies parsed, so the goal is judged on compile +" \
			"datapath. The peers' figures are the whole command (nft reads the ruleset to resolve" \
			"the set; iptables rewrites the whole table)."
		echo
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
		echo "Reproduce: \`sudo QUICK=$QUICK SCALES='$SCALES' ./tools/bench/part_c.sh\`."
		echo
		[ -e "$BENCH_OUT/c.notes" ] && awk '!seen[$0]++ {print "- " $0}' "$BENCH_OUT/c.notes" && echo
	} >"$BENCH_OUT/c.md"
}

trap 'report; harness_cleanup' EXIT
measure
exit 0
