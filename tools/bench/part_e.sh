#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Part e: footprint. msegd's resident memory (VmRSS and its peak VmHWM from /proc) and the
# memory of the BPF maps pinned in its bpffs directory (bpftool: memlock), with no endpoints
# and with ENDPOINTS containers created through `mseg run -d`.
set -u
BENCH_PART=e
source "$(dirname "$0")/lib.sh"
trap 'exit 143' INT TERM

# The measurements; globals they set feed the report.
measure() {
	if [ -n "$QUICK" ]; then
		ENDPOINTS=${ENDPOINTS:-100}
	else
		ENDPOINTS=${ENDPOINTS:-1000}
	fi
	node_create n1 || exit 1
	agent_start n1 --pod-cidr 10.200.0.0/16 || { bench_note "msegd did not start"; exit 1; }
	pid=$(cat "$MT_DIR/n1/msegd.pid")

	# rss: "VmRSS_kB VmHWM_kB" of msegd.
	rss() { awk '/^VmRSS/ {r = $2} /^VmHWM/ {h = $2} END {print r, h}' "/proc/$pid/status"; }
	# maps: "count memlock_bytes" of the maps pinned under the agent's bpffs directory.
	maps() {
		local f n=0 m=0 b
		while IFS= read -r f; do
			b=$(bpftool -j map show pinned "$f" 2>/dev/null | jq -r '.bytes_memlock // 0') || continue
			n=$((n + 1))
			m=$((m + b))
		done < <(find "$MT_DIR/n1/bpf" -type f 2>/dev/null)
		echo "$n $m"
	}

	sleep 0.5
	read -r r0 h0 <<<"$(rss)"
	read -r mn0 mm0 <<<"$(maps)"
	NSS=$((ENDPOINTS / 5 < 20 ? ENDPOINTS / 5 : 20))
	for k in $(seq 0 $((NSS - 1))); do
		mseg_on n1 namespace create "ns$k" -l team=t$((k % 4)) >/dev/null 2>&1 ||
			bench_note "mseg namespace create ns$k failed"
	done
	bench_log "e: creating $ENDPOINTS containers"
	t0=${EPOCHREALTIME/./}
	made=0
	for i in $(seq 1 "$ENDPOINTS"); do
		bench_time_ok || { bench_note "stopped at $made containers (time budget)"; break; }
		mseg_on n1 run -d --name "e$i" --namespace "ns$((i % NSS))" -l app=a$((i % 50)) \
			-l tier=t$((i % 3)) >/dev/null 2>&1 || { bench_note "mseg run e$i failed"; break; }
		made=$i
	done
	t1=${EPOCHREALTIME/./}
	sleep 0.5
	read -r r1 h1 <<<"$(rss)"
	read -r mn1 mm1 <<<"$(maps)"
	listed=$(mseg_on n1 ps -o json | jq length)
}

# Written on every exit path, from whatever was measured.
report() {
	[ -n "${r1:-}" ] || return 0
	{
		echo "## e. Footprint"
		echo
		echo "msegd (bpf backend, the default) in node n1; containers created with \`mseg run -d\`" \
			"in $NSS namespaces with 50 label sets ($listed listed by \`mseg ps\` afterwards," \
			"$(awk -v us=$((t1 - t0)) -v n="$made" 'BEGIN {printf "%.1f", n / (us / 1e6)}')" \
			"created per second). BPF map memory: \`bpftool map show pinned\` (bytes_memlock) of" \
			"every map pinned in the agent's bpffs directory."
		echo
		echo "| endpoints | rules | msegd VmRSS | msegd VmHWM (peak) | pinned BPF maps | BPF map memory | goal | result |"
		echo "| ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |"
		echo "| 0 | 0 | $(awk -v k="$r0" 'BEGIN {printf "%.1f MB", k / 1024}') |" \
			"$(awk -v k="$h0" 'BEGIN {printf "%.1f MB", k / 1024}') | $mn0 |" \
			"$(awk -v b="$mm0" 'BEGIN {printf "%.1f MB", b / 1048576}') | | |"
		echo "| $made | 0 | $(awk -v k="$r1" 'BEGIN {printf "%.1f MB", k / 1024}') |" \
			"$(awk -v k="$h1" 'BEGIN {printf "%.1f MB", k / 1024}') | $mn1 |" \
			"$(awk -v b="$mm1" 'BEGIN {printf "%.1f MB", b / 1048576}') | < 30 MB RSS |" \
			"$(met "$(awk -v k="$r1" 'BEGIN {print k / 1024}')" "<=" 30) |"
		echo "| 1000 | 10,000 | needs mseg apply (not yet integrated) | | | | < 30 MB RSS | n/a |"
		echo
		echo "Until the agent programs policy, the compiler's share can be read from its own" \
			"benchmark (c.2): peak RSS 16.4 MB for 1,000 endpoints and 10,004 rules, input" \
			"included, and 165,155 policy entries of 44 bytes (7.3 MB) in the eBPF policy map."
		echo
		echo "Reproduce: \`sudo QUICK=$QUICK ENDPOINTS=$ENDPOINTS ./tools/bench/part_e.sh\`."
		echo
		[ -e "$BENCH_OUT/e.notes" ] && awk '!seen[$0]++ {print "- " $0}' "$BENCH_OUT/e.notes" && echo
	} >"$BENCH_OUT/e.md"
}

trap 'report; harness_cleanup' EXIT
measure
exit 0
