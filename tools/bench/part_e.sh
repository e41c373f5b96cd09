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
	# The CLI talks to msegd's socket and needs no namespace of its own: no `ip netns exec`
	# per call (15-30 ms each here, growing with every namespace mounted).
	export MSEG_SOCKET
	MSEG_SOCKET=$(node_socket n1)
	cli() { "$MSEG" "$@"; }

	# rss: "VmRSS_kB VmHWM_kB" of msegd.
	rss() { awk '/^VmRSS/ {r = $2} /^VmHWM/ {h = $2} END {print r, h}' "/proc/$pid/status"; }
	# maps: "count memlock_bytes" of the maps pinned under the agent's bpffs directory (one
	# bpftool listing with the pinned paths, not one bpftool and jq per map: 30 commands took
	# seconds of a loaded machine, out of QUICK's 15 s budget).
	maps() {
		bpftool -j -f map show 2>/dev/null | jq -r --arg d "$MT_DIR/n1/bpf/" \
			'[.[] | select(any(.pinned[]?; startswith($d)))] |
			"\(length) \(map(.bytes_memlock // 0) | add // 0)"'
	}

	sleep 0.5
	read -r r0 h0 <<<"$(rss)"
	read -r mn0 mm0 <<<"$(maps)"
	NSS=$((ENDPOINTS / 5 < 20 ? ENDPOINTS / 5 : 20))
	for k in $(seq 0 $((NSS - 1))); do
		# one retry: the first request right after the agent's start has been seen to fail
		cli namespace create "ns$k" -l team=t$((k % 4)) >/dev/null 2>&1 ||
			cli namespace create "ns$k" -l team=t$((k % 4)) >"$MT_DIR/ns.err" 2>&1 ||
			bench_note "mseg namespace create ns$k failed: $(head -c 200 "$MT_DIR/ns.err")"
	done
	bench_log "e: creating $ENDPOINTS containers"
	t0=${EPOCHREALTIME/./}
	made=0
	# The containers may take 85% of what is left of the budget: the rules' row needs the rest.
	fill_end=
	[ -n "${BENCH_DEADLINE:-}" ] &&
		fill_end=$((EPOCHSECONDS + (BENCH_DEADLINE - EPOCHSECONDS) * 85 / 100))
	for i in $(seq 1 "$ENDPOINTS"); do
		{ bench_time_ok && { [ -z "$fill_end" ] || [ "$EPOCHSECONDS" -lt "$fill_end" ]; }; } ||
			{ bench_note "stopped at $made containers (time budget)"; break; }
		cli run -d --name "e$i" --namespace "ns$((i % NSS))" -l app=a$((i % 50)) \
			-l tier=t$((i % 3)) >/dev/null 2>"$MT_DIR/run.err" ||
			{ bench_note "mseg run e$i failed: $(head -c 200 "$MT_DIR/run.err" | tr '\n' ' ')"; break; }
		made=$i
	done
	t1=${EPOCHREALTIME/./}
	sleep 0.5
	read -r r1 h1 <<<"$(rss)"
	read -r mn1 mm1 <<<"$(maps)"
	listed=$(cli ps -o json | jq length)

	# RULES rules through `mseg apply`: one NetworkPolicy per namespace selecting its tier=t0
	# pods (a third), RULES / NSS ingress rules each: distinct /32 peers on UDP 5001 and, last,
	# the namespace's own app=a0 pods on TCP 80.
	RULES=${RULES:-10000}
	if ! "$MSEG" --help 2>&1 | grep -qw apply; then
		bench_note "$RULES rules: needs mseg apply (not yet integrated)"
		return 0
	fi
	bench_time_ok || { bench_note "$RULES rules: not applied (time budget)"; return 0; }
	mkdir -p "$MT_DIR/epol"
	per=$((RULES / NSS))
	for k in $(seq 0 $((NSS - 1))); do
		awk -v k="$k" -v per="$per" 'BEGIN {
			printf "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
			printf "metadata: {name: fp, namespace: ns%d}\n", k
			printf "spec:\n  podSelector: {matchLabels: {tier: t0}}\n  ingress:\n"
			for (i = 0; i < per - 1; i++) {
				a = k * per + i
				printf "    - from: [{ipBlock: {cidr: 10.%d.%d.%d/32}}]\n", 64 + int(a / 65536), \
					int(a / 256) % 256, a % 256
				printf "      ports: [{protocol: UDP, port: 5001}]\n"
			}
			printf "    - from: [{podSelector: {matchLabels: {app: a0}}}]\n"
			printf "      ports: [{protocol: TCP, port: 80}]\n"
		}' >"$MT_DIR/epol/ns$k.yaml"
	done
	bench_log "e: applying $RULES rules"
	ta=${EPOCHREALTIME/./}
	if out=$(cli apply -f "$MT_DIR/epol" 2>&1); then
		tb=${EPOCHREALTIME/./}
		apply_ms=$(awk -v us=$((tb - ta)) 'BEGIN {printf "%.0f", us / 1000}')
		sleep 0.5
		read -r r2 h2 <<<"$(rss)"
		read -r mn2 mm2 <<<"$(maps)"
	else
		bench_note "mseg apply of $RULES rules failed: $(echo "$out" | head -c 240 | tr '\n' ' ')"
	fi
}

# Written on every exit path, from whatever was measured.
report() {
	[ -n "${r1:-}" ] || return 0
	{
		echo "## e. Footprint"
		echo
		echo "msegd (bpf backend, the default) in node n1, one measurement per row (not a median); containers created with \`mseg run -d\`" \
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
		if [ -n "${r2:-}" ]; then
			echo "| $made | $RULES | $(awk -v k="$r2" 'BEGIN {printf "%.1f MB", k / 1024}') |" \
				"$(awk -v k="$h2" 'BEGIN {printf "%.1f MB", k / 1024}') | $mn2 |" \
				"$(awk -v b="$mm2" 'BEGIN {printf "%.1f MB", b / 1048576}') | < 30 MB RSS |" \
				"$(met "$(awk -v k="$r2" 'BEGIN {print k / 1024}')" "<=" 30) |"
			echo
			echo "The $RULES rules: one NetworkPolicy per namespace ($NSS) selecting its tier=t0" \
				"pods, $per ingress rules each (distinct /32 peers, then the namespace's app=a0" \
				"pods); \`mseg apply\` of the directory took $apply_ms ms at $made endpoints."
		else
			echo "| $made | ${RULES:-10000} | not measured (see below) | | | | < 30 MB RSS | n/a |"
		fi
		echo
		echo "For comparison, the compiler alone (c.2): peak RSS 16.4 MB for 1,000 endpoints and" \
			"10,004 rules, input included."
		echo
		echo "Reproduce: \`sudo QUICK=$QUICK ENDPOINTS=$ENDPOINTS ./tools/bench/part_e.sh\`."
		echo
		[ -e "$BENCH_OUT/e.notes" ] && awk '!seen[$0]++ {print "- " $0}' "$BENCH_OUT/e.notes" && echo
	} >"$BENCH_OUT/e.md"
}

# netns_purge: removes this run's container namespaces with one umount and one rm in all
# (after stopping msegd), where the harness spends two commands per namespace: with 1,000 of
# them, its cleanup alone took over a minute and ran past the part's time budget. Their veths
# go with them, in the kernel's own cleanup work.
netns_purge() {
	local pid
	pid=$(cat "$MT_DIR/n1/msegd.pid" 2>/dev/null) && kill -KILL "$pid" 2>/dev/null
	find /run/netns -maxdepth 1 \( -name "$MT-n1-*" -o -name "$MT-k-*" \) -print0 2>/dev/null |
		xargs -0 -r umount -l 2>/dev/null
	find /run/netns -maxdepth 1 \( -name "$MT-n1-*" -o -name "$MT-k-*" \) -print0 2>/dev/null |
		xargs -0 -r rm -f
}

trap 'report; netns_purge; harness_cleanup' EXIT
measure
exit 0
