#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Part b: throughput and latency between two containers with no policy and with mseg enforcing
# a 10,000-rule policy: iperf3 TCP with 1 and 2 streams, and request/response latency (rr,
# UDP and TCP) p50/p99. Trials are interleaved across the configurations.
set -u
BENCH_PART=b
source "$(dirname "$0")/lib.sh"
trap 'exit 143' INT TERM

# The measurements; globals they set (counts, configurations) feed the report.
measure() {
	RULES=${RULES:-10000}
	# Quick mode sends a fixed amount instead of for a time (iperf3 counts whole seconds): a
	# 256 MB stream takes well under its 1 s minimum, and quick mode has 18 s for everything.
	if [ -n "$QUICK" ]; then
		IPERF_T=${IPERF_T:-} IPERF_BYTES=${IPERF_BYTES:-256M} RR_COUNT=${RR_COUNT:-500}
	else
		IPERF_T=${IPERF_T:-3} IPERF_BYTES=${IPERF_BYTES:-} RR_COUNT=${RR_COUNT:-5000}
	fi
	if [ -n "$IPERF_T" ]; then
		IPERF_LEN=(-t "$IPERF_T") IPERF_WHAT="for ${IPERF_T}s" IPERF_MAX=$IPERF_T
	else
		IPERF_LEN=(-n "$IPERF_BYTES") IPERF_WHAT="sending $IPERF_BYTES" IPERF_MAX=5
	fi
	TRIALS=$(bench_trials)
	command -v iperf3 >/dev/null || { bench_note "skipped: iperf3 is not installed"; exit 0; }

	bench_pair || { bench_note "could not build the container pair"; exit 1; }
	gen_mseg_policy "$RULES" "$MT_DIR/policy.yaml"
	on c2 iperf3 -s >/dev/null 2>&1 &
	on c2 "$RR" server --port 5002 --seconds 3600 >/dev/null 2>&1 &
	on c2 "$RR" server --port 5002 --tcp --seconds 3600 >/dev/null 2>&1 &
	wait_for 3 on c2 ss -Hltn "sport = :5201" || { bench_note "iperf3 server did not start"; exit 1; }

	CONFIGS=none
	if [ -x "$DPLOAD" ]; then
		CONFIGS="$CONFIGS msegbpf msegnft"
	else
		bench_note "mseg: $DPLOAD is not built"
	fi

	cfg_on() { [ "$1" = none ] || mseg_load "${1#mseg}"; }
	cfg_off() { [ "$1" = none ] || mseg_purge "${1#mseg}"; }

	# iperf P: "Gbit/s cpu_s_per_GB" for P parallel streams (CPU: iperf3's own sender+receiver).
	iperf() {
		on c1 timeout $((IPERF_MAX + 15)) iperf3 -c "$DST_IP" "${IPERF_LEN[@]}" -P "$1" -J \
			>"$MT_DIR/iperf.json" 2>/dev/null || { echo "nan nan"; return; }
		jq -r '(.end.sum_received.bytes) as $b | (.end.sum_received.seconds) as $s |
			(.end.cpu_utilization_percent.host_total + .end.cpu_utilization_percent.remote_total)
			as $c | "\($b * 8 / $s / 1e9) \($c / 100 * $s / ($b / 1e9))"' "$MT_DIR/iperf.json"
	}

	: >"$BENCH_OUT/b.dat"
	for t in $(seq 1 "$TRIALS"); do
		bench_time_ok || { bench_note "stopped after $((t - 1)) trials: time budget"; break; }
		bench_log "b: trial $t"
		for cfg in $CONFIGS; do
			if ! cfg_on "$cfg" >/dev/null 2>"$MT_DIR/on.err"; then
				bench_note "$cfg: could not be switched on: $(head -c 240 "$MT_DIR/on.err" | tr '\n' ' ')"
				continue
			fi
			for p in 1 2; do
				echo "$cfg iperf$p $t $(iperf $p)" >>"$BENCH_OUT/b.dat"
			done
			for proto in udp tcp; do
				flag=
				[ $proto = tcp ] && flag=--tcp
				out=$(on c1 "$RR" client --dst "$DST_IP" --port 5002 $flag --count "$RR_COUNT" \
					--seconds 20 2>&1) || bench_note "$cfg rr $proto: $out"
				echo "$cfg rr$proto $t $(kv p50_us "$out") $(kv p99_us "$out")" >>"$BENCH_OUT/b.dat"
			done
			cfg_off "$cfg" >/dev/null
		done
	done
}

# ---- the report -----------------------------------------------------------------------------
# Written on every exit path, from whatever was measured (a part stopped by its time budget
# still reports its complete trials).
report() {
	# "median min max" of every (configuration, metric, field) in one awk pass: a process per
	# cell took 13 s on a loaded machine, most of quick mode's budget.
	declare -A ST
	while read -r c k f m a x; do
		ST["$c $k $f"]="$m $a $x"
	done < <(awk '{
			for (f = 4; f <= 5; f++) {
				if ($f == "" || $f == "nan") continue
				id = $1 " " $2 " " f
				v[id, ++n[id]] = $f + 0
			}
		}
		END {
			for (id in n) {
				c = n[id]
				for (i = 2; i <= c; i++) { # insertion sort: a handful of trials
					x = v[id, i]
					for (j = i - 1; j >= 1 && v[id, j] > x; j--) v[id, j + 1] = v[id, j]
					v[id, j + 1] = x
				}
				m = c % 2 ? v[id, (c + 1) / 2] : (v[id, c / 2] + v[id, c / 2 + 1]) / 2
				printf "%s %.6g %.6g %.6g\n", id, m, v[id, 1], v[id, c]
			}
		}' "$BENCH_OUT/b.dat")
	col() { echo "${ST["$1 $2 $3"]:-nan nan nan}"; }
	label() {
		case $1 in
		none) echo "no policy" ;;
		msegnft) echo "mseg nft, $RULES rules" ;;
		msegbpf) echo "mseg eBPF, $RULES rules" ;;
		esac
	}
	{
		echo "## b. Throughput and latency"
		echo
		echo "Between containers c1 and c2 through the node (routed veth), median [min–max] of" \
			"$TRIALS interleaved trials. iperf3 TCP $IPERF_WHAT with 1 and 2 streams; CPU" \
			"per GB is iperf3's own sender + receiver CPU time (user + system, which includes the" \
			"softirq forwarding done in their context) per GB delivered. Latency: \`rr\`" \
			"(tools/bench/rr.c) ping-pong of 32-byte messages, $RR_COUNT per trial, over UDP and" \
			"over one TCP connection. The $RULES-rule policy is part a's (the flow is admitted by" \
			"the last rule). Ratio = with policy ÷ no policy."
		echo
		echo "| metric | configuration | figure | ratio | goal | result |"
		echo "| --- | --- | --- | ---: | --- | --- |"
		for k in iperf1 iperf2; do
			read -r b0 _ <<<"$(col none $k 4)"
			for cfg in $CONFIGS; do
				read -r m a x <<<"$(col "$cfg" $k 4)"
				read -r cm ca cx <<<"$(col "$cfg" $k 5)"
				r="" g="" res=""
				[ "$cfg" != none ] && r=$(ratio "$m" "$b0") && g="≥ 0.95" && res=$(met "$r" ">=" 0.95)
				echo "| TCP ${k#iperf} stream(s) Gbit/s | $(label "$cfg") | $(fmt_cell "$m" "$a" "$x" 2) |" \
					"$r | $g | $res |"
				echo "| CPU s per GB, ${k#iperf} stream(s) | $(label "$cfg") |" \
					"$(fmt_cell "$cm" "$ca" "$cx" 2) | $( [ "$cfg" != none ] &&
					ratio "$cm" "$(col none $k 5 | cut -d' ' -f1)") | reported | |"
			done
		done
		for k in rrudp rrtcp; do
			read -r p0 _ <<<"$(col none $k 4)"
			for cfg in $CONFIGS; do
				read -r m a x <<<"$(col "$cfg" $k 4)"
				read -r qm qa qx <<<"$(col "$cfg" $k 5)"
				r="" g="" res=""
				[ "$cfg" != none ] && r=$(ratio "$m" "$p0") && g="≤ 1.05" && res=$(met "$r" "<=" 1.05)
				echo "| ${k#rr} request/response p50 µs | $(label "$cfg") | $(fmt_cell "$m" "$a" "$x" 1) |" \
					"$r | $g | $res |"
				echo "| ${k#rr} request/response p99 µs | $(label "$cfg") | $(fmt_cell "$qm" "$qa" "$qx" 1) |" \
					"$( [ "$cfg" != none ] && ratio "$qm" "$(col none $k 5 | cut -d' ' -f1)") | | |"
			done
		done
		echo
		echo "Reproduce: \`sudo QUICK=$QUICK ./tools/bench/part_b.sh\` (RULES, IPERF_T or" \
			"IPERF_BYTES, RR_COUNT override)."
		echo
		[ -e "$BENCH_OUT/b.notes" ] && awk '!seen[$0]++ {print "- " $0}' "$BENCH_OUT/b.notes" && echo
	} >"$BENCH_OUT/b.md"
}

trap 'report; harness_cleanup' EXIT
measure
exit 0
