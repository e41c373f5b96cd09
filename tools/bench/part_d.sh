#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Part d: container network setup. `mseg run -d` / `mseg rm` against the CNI reference bridge
# plugin (bridge + host-local, CNI_COMMAND=ADD/DEL). Both are called from one shell inside
# node n1; the CNI side creates its network namespace with `ip netns add` inside the timed
# setup and deletes it inside the timed teardown, as msegd does for its containers.
# Iterations alternate between the two, so load on the shared machine hits both alike.
set -u
BENCH_PART=d
source "$(dirname "$0")/lib.sh"
trap 'exit 143' INT TERM

# The measurements; globals they set (counts, configurations) feed the report.
measure() {
	if [ -n "$QUICK" ]; then
		ITER=${ITER:-10} PRESENT=${PRESENT:-30} PAR=${PAR:-5}
	else
		ITER=${ITER:-200} PRESENT=${PRESENT:-500} PAR=${PAR:-10}
	fi
	CNI_BIN=/usr/lib/cni
	[ -x "$CNI_BIN/bridge" ] && [ -x "$CNI_BIN/host-local" ] || {
		bench_note "skipped: $CNI_BIN/bridge or host-local is missing (containernetworking-plugins)"
		exit 0
	}

	node_create n1 || exit 1
	agent_start n1 --pod-cidr 10.200.0.0/16 || { bench_note "msegd did not start"; exit 1; }
	mkdir -p "$MT_DIR/cni"
	cat >"$MT_DIR/cni/bridge.conf" <<-EOF
	{
	  "cniVersion": "1.0.0",
	  "name": "${MT}net",
	  "type": "bridge",
	  "bridge": "${MT}br",
	  "isGateway": true,
	  "ipMasq": false,
	  "ipam": {
	    "type": "host-local",
	    "ranges": [[{"subnet": "10.220.0.0/16"}]],
	    "dataDir": "$MT_DIR/cni/ipam"
	  }
	}
	EOF

	# cni CMD NAME: one CNI call for container NAME (netns $MT-k-NAME), from the node.
	cni() {
		CNI_COMMAND=$1 CNI_CONTAINERID="$MT-$2" CNI_NETNS="/run/netns/$MT-k-$2" CNI_IFNAME=eth0 \
			CNI_PATH=$CNI_BIN "$CNI_BIN/bridge" <"$MT_DIR/cni/bridge.conf" >/dev/null
	}
	cni_up() { ip netns add "$MT-k-$1" && cni ADD "$1"; }
	cni_down() { cni DEL "$1" && ip netns del "$MT-k-$1"; }
	# The CLI needs no namespace of its own: it talks to msegd's socket.
	mseg_up() { "$MSEG" run -d --name "$1" --namespace default >/dev/null; }
	mseg_down() { "$MSEG" rm "default/$1" >/dev/null; }
	export MSEG_SOCKET MT MT_DIR BENCH_OUT BENCH_PART CNI_BIN MSEG ITER PAR PRESENT PHASE_END
	MSEG_SOCKET=$(node_socket n1)

	# timed CMD ARGS...: runs CMD, prints its wall time in ms (or "fail").
	timed() {
		local t0=${EPOCHREALTIME/./} t1
		"$@" || { echo fail; return 1; }
		t1=${EPOCHREALTIME/./}
		echo "$(((t1 - t0) / 1000)).$(printf '%03d' $(((t1 - t0) % 1000)))"
	}

	# round LABEL: ITER alternating setup+teardown pairs of each system.
	round() {
		local label=$1 i s
		for i in $(seq 1 "$ITER"); do
			phase_ok || { bench_note "$label: stopped after $((i - 1)) iterations: time budget"; break; }
			for s in mseg cni; do
				echo "$label $s setup $(timed "${s}_up" "r$i")" >>"$BENCH_OUT/d_times.dat"
				echo "$label $s teardown $(timed "${s}_down" "r$i")" >>"$BENCH_OUT/d_times.dat"
			done
		done
	}

	# The time budget is shared out between the phases (each gets a share of what is left),
	# so that a loaded machine shortens every phase instead of starving the last ones.
	PHASE_END=
	export BENCH_DEADLINE
	# in_node CMD...: runs CMD (these functions) in a shell that is in n1's network namespace
	# already, as a container runtime on a real host calls its CNI plugin or CLI: no namespace
	# switch per timed call. (Each `ip netns exec` also unshares a mount namespace and remounts
	# /sys: 15-30 ms here, growing with every namespace mounted under /run/netns, so with the
	# endpoints present; it made both sides 2-3x slower at 30 present.)
	in_node() {
		nsenter --net="/run/netns/$MT-n1" bash -c "$(declare -f cni cni_up cni_down mseg_up \
			mseg_down timed round par present phase_ok bench_time_ok bench_note bench_log); $*"
	}
	phase() {
		[ -n "${BENCH_DEADLINE:-}" ] &&
			PHASE_END=$((EPOCHSECONDS + (BENCH_DEADLINE - EPOCHSECONDS) * $1 / 100))
	}
	phase_ok() { bench_time_ok && { [ -z "$PHASE_END" ] || [ "$EPOCHSECONDS" -lt "$PHASE_END" ]; }; }

	# 2 parallel workers, PAR setups each, then the same teardowns (setups/s from the wall time).
	par() {
		local s=$1 w t0 t1
		t0=${EPOCHREALTIME/./}
		for w in 1 2; do
			(for i in $(seq 1 "$PAR"); do "${s}_up" "w$w-$i" || echo "fail" >>"$MT_DIR/par.fail"; done) &
		done
		wait
		t1=${EPOCHREALTIME/./}
		awk -v n=$((2 * PAR)) -v us=$((t1 - t0)) 'BEGIN {printf "%.2f\n", n / (us / 1e6)}'
		for w in 1 2; do
			for i in $(seq 1 "$PAR"); do "${s}_down" "w$w-$i"; done
		done >/dev/null 2>&1
	}
	# present S: PRESENT endpoints of system S; prints how many were made.
	present() {
		local s=$1 i made=0
		for i in $(seq 1 "$PRESENT"); do
			phase_ok || { bench_note "only $((i - 1)) of $PRESENT $s endpoints present: time budget"; break; }
			"${s}_up" "p$i" 2>"$MT_DIR/present-$s.err" ||
				{ bench_note "$s setup p$i failed: $(head -c 200 "$MT_DIR/present-$s.err" | tr '\n' ' ')"; break; }
			made=$i
		done
		echo "$made"
	}

	: >"$BENCH_OUT/d_times.dat"
	bench_log "d: $ITER sequential setups+teardowns each, no other endpoints"
	phase 30
	in_node round empty
	phase 20
	: >"$BENCH_OUT/d_par.dat"
	rm -f "$MT_DIR/par.fail"
	for t in $(seq 1 "$(bench_trials)"); do
		phase_ok || { bench_note "parallel: stopped after $((t - 1)) trials: time budget"; break; }
		for s in mseg cni; do
			echo "$s $(in_node par "$s")" >>"$BENCH_OUT/d_par.dat"
		done
	done
	phase 45
	bench_log "d: $PRESENT endpoints present on each side"
	# Both systems fill up at the same time (untimed; the machine has 2 cores), so the
	# present phase leaves most of its share to the timed round.
	in_node present mseg >"$MT_DIR/made-mseg" &
	local filler=$!
	in_node present cni >"$MT_DIR/made-cni"
	wait "$filler" # (a bare wait would wait for msegd too)
	MADE=$(sort -n "$MT_DIR/made-mseg" "$MT_DIR/made-cni" | head -n1)
	MADE=${MADE:-0}
	phase 100
	in_node round present
	# (the present endpoints go with the namespaces at cleanup: tearing 2 x N down one by one
	# would only spend the time budget)

	[ -e "$MT_DIR/par.fail" ] && bench_note "$(wc -l <"$MT_DIR/par.fail") parallel setups failed"
	fails=$(grep -c ' fail$' "$BENCH_OUT/d_times.dat")
	[ "$fails" -gt 0 ] && bench_note "$fails timed operations failed (left out of the figures)"
}

# ---- the report -----------------------------------------------------------------------------
# Written on every exit path, from whatever was measured (a part stopped by its time budget
# still reports its complete trials).
report() {
	st() {
		# shellcheck disable=SC2046
		stats $(awk -v l="$1" -v s="$2" -v o="$3" '$1 == l && $2 == s && $3 == o && $4 != "fail" \
			{print $4}' "$BENCH_OUT/d_times.dat")
	}
	{
		echo "## d. Container network setup"
		echo
		echo "Up to $ITER sequential setups and teardowns per system (the count reached is below)," \
			"alternating mseg and CNI; then setups per second with 2 parallel workers ($PAR" \
			"setups each, up to $(bench_trials) trials); then the sequential round again with" \
			"${MADE:-0} (of $PRESENT asked) endpoints of each already present. The time budget is" \
			"shared between the phases. mseg: \`mseg run -d" \
			"--name N\` / \`mseg rm default/N\` to msegd in node n1 (routed veth, DESIGN.md §5)." \
			"CNI: \`ip netns add\` + \`bridge\` ADD (host-local IPAM, isGateway, no masquerade) /" \
			"DEL + \`ip netns del\`. Both are called from one shell already in node n1's network" \
			"namespace (no \`ip netns exec\` per call, whose cost grows with the namespaces" \
			"mounted). Milliseconds of wall time, median [min–max]."
		echo
		echo "| case (iterations) | mseg | CNI bridge | ratio mseg ÷ CNI | goal | result |"
		echo "| --- | --- | --- | ---: | --- | --- |"
		for l in empty present; do
			for o in setup teardown; do
				read -r mm mn mx <<<"$(st $l mseg $o)"
				read -r cm cn cx <<<"$(st $l cni $o)"
				r=$(ratio "$mm" "$cm")
				g="" res=""
				[ $o = setup ] && g="≤ 0.25" && res=$(met "$r" "<=" 0.25)
				cnt=$(awk -v l=$l -v o=$o '$1 == l && $2 == "mseg" && $3 == o' "$BENCH_OUT/d_times.dat" | wc -l)
				lab="$o, no other endpoints ($cnt)"
				[ $l = present ] && lab="$o, ${MADE:-0} present ($cnt)"
				echo "| $lab | $(fmt_cell "$mm" "$mn" "$mx" 2) | $(fmt_cell "$cm" "$cn" "$cx" 2) |" \
					"$r | $g | $res |"
			done
		done
		read -r m0 _ <<<"$(st empty mseg setup)"
		read -r m1 _ <<<"$(st present mseg setup)"
		r=$(ratio "$m1" "$m0")
		echo "| mseg setup: ${MADE:-0} present ÷ none | | | $r | ≤ 1.10 (no slowdown) | $(met "$r" "<=" 1.10) |"
		# shellcheck disable=SC2046
		read -r pm pn px <<<"$(stats $(awk '$1 == "mseg" {print $2}' "$BENCH_OUT/d_par.dat"))"
		# shellcheck disable=SC2046
		read -r qm qn qx <<<"$(stats $(awk '$1 == "cni" {print $2}' "$BENCH_OUT/d_par.dat"))"
		echo "| setups/s, 2 workers | $(fmt_cell "$pm" "$pn" "$px") | $(fmt_cell "$qm" "$qn" "$qx") |" \
			"$(ratio "$pm" "$qm") (higher is better) | | |"
		echo
		echo "Reproduce: \`sudo QUICK=$QUICK ./tools/bench/part_d.sh\` (ITER, PRESENT, PAR override" \
			"the counts)."
		echo
		[ -e "$BENCH_OUT/d.notes" ] && awk '!seen[$0]++ {print "- " $0}' "$BENCH_OUT/d.notes" && echo
	} >"$BENCH_OUT/d.md"
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
