#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The benchmark suite (`make bench`, `make bench QUICK=1`): parts a–e of issue 8, each a script
# beside this one, run one after the other inside namespaces they create, each bounded in time.
# Writes the generated sections of docs/benchmarks.md (between <!-- bench:X --> markers, so the
# hand-written sections around them stay) and the plots in docs/plots/.
#
#   tools/bench/run.sh [PART...]      PART: a b c d e (default: all)
#   QUICK=1   shorter trials and smaller counts (whole suite under 3 minutes)
#   BENCH_DOC=FILE   write there instead of docs/benchmarks.md
#   PLOT_ONLY=1      only redraw docs/plots/ from the data already in $BENCH_OUT
set -u
cd "$(dirname "$0")/../.."
export MSEG_TOP=$PWD
export BUILD=${BUILD:-build}
export QUICK=${QUICK:-}
[ "$QUICK" = 0 ] && QUICK=
export MT=mb$$
export MT_DIR=/run/mseg-bench/$MT
export BENCH_OUT=${BENCH_OUT:-$MSEG_TOP/$BUILD/bench-out}
BENCH_DOC=${BENCH_DOC:-docs/benchmarks.md}
PARTS=${*:-a b c d e}

[ "$(id -u)" = 0 ] || { echo "bench: needs root (namespaces, nftables, BPF)" >&2; exit 1; }
for t in jq gnuplot iperf3 nft iptables-nft bpftool taskset; do
	command -v $t >/dev/null || echo "bench: $t is missing (make deps); parts needing it skip" >&2
done
[ -n "${PLOT_ONLY:-}" ] || rm -rf "$BENCH_OUT"
mkdir -p "$BENCH_OUT" docs/plots
source tools/bench/lib.sh
trap harness_cleanup EXIT
trap 'exit 143' INT TERM

# Time budgets per part, seconds (QUICK: the whole suite stays under 3 minutes).
if [ -n "$QUICK" ]; then
	declare -A BUDGET=([a]=45 [b]=18 [c]=22 [d]=20 [e]=15)
else
	declare -A BUDGET=([a]=300 [b]=80 [c]=220 [d]=180 [e]=80)
fi

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
start=$SECONDS
[ -n "${PLOT_ONLY:-}" ] && PARTS_RUN= || PARTS_RUN=$PARTS
for p in $PARTS_RUN; do
	[ -x "tools/bench/part_$p.sh" ] || { echo "bench: no part '$p' (a b c d e)" >&2; exit 2; }
	echo "bench: part $p (budget ${BUDGET[$p]}s)" >&2
	t0=$SECONDS
	load=$(cut -d' ' -f1 /proc/loadavg)
	# Loops stop themselves at 75% of the budget (the rest is for the report and the cleanup,
	# slow on a loaded machine); timeout is the backstop for a stuck command.
	export BENCH_DEADLINE=$((EPOCHSECONDS + BUDGET[$p] * 75 / 100))
	timeout --kill-after=30 $((BUDGET[$p] + 20)) "tools/bench/part_$p.sh"
	rc=$?
	harness_cleanup # whatever a killed part left behind
	case $rc in
	0) msg= ;;
	124 | 137) msg="- **part $p hit its time budget (${BUDGET[$p]}s)**: figures incomplete" ;;
	*) msg="- **part $p failed (exit $rc)**" ;;
	esac
	if [ ! -s "$BENCH_OUT/$p.md" ]; then
		{
			echo "## $p. (no results)"
			echo
			awk '!seen[$0]++ {print "- " $0}' "$BENCH_OUT/$p.notes" 2>/dev/null
		} >"$BENCH_OUT/$p.md"
	fi
	[ -n "$msg" ] && printf '%s\n\n' "$msg" >>"$BENCH_OUT/$p.md"
	printf '_Measured %s (%s, %ss of a %ss budget), load average %s at its start._\n\n' \
		"$(date -u '+%Y-%m-%d %H:%M UTC')" "$([ -n "$QUICK" ] && echo "quick mode" || echo "full mode")" \
		"$((SECONDS - t0))" "${BUDGET[$p]}" "$load" >>"$BENCH_OUT/$p.md"
	echo "bench: part $p took $((SECONDS - t0))s" >&2
done
elapsed=$((SECONDS - start))

# ---- plots ----------------------------------------------------------------------------------
plot() { # plot FILE TITLE YLABEL LOGY PLOTSPEC...
	local file=$1 title=$2 ylabel=$3 logy=$4
	shift 4
	gnuplot <<-EOF 2>>"$BENCH_OUT/gnuplot.err" || echo "bench: plot $file failed" >&2
		set terminal pngcairo size 900,520 noenhanced font ',10'
		set output '$file'
		set title '$title'
		set logscale x 10
		$([ "$logy" = logy ] && echo "set logscale y 10")
		set xlabel 'rules'
		set ylabel '$ylabel'
		set key outside right
		set grid
		plot $*
	EOF
}
if command -v gnuplot >/dev/null; then
	if [ -s "$BENCH_OUT/a_verdict.dat" ]; then
		f=$BENCH_OUT/a_verdict.dat
		plot docs/plots/verdict-cost.png \
			'eBPF verdict cost, BPF_PROG_TEST_RUN (median, min-max)' 'ns per packet' liny \
			"'$f' u 1:2:3:4 w yerrorlines t 'allowed', '$f' u 1:5:6:7 w yerrorlines t 'denied'," \
			"'$f' u 1:8:9:10 w yerrorlines t 'reply'"
	fi
	if [ -s "$BENCH_OUT/a_cost.dat" ]; then
		spec=""
		for c in none msegbpf msegnft nftset nftlin iptnft iptleg; do
			awk -v c=$c '$2 == c' "$BENCH_OUT/a_cost.dat" >"$BENCH_OUT/a_cost_$c.dat"
			[ -s "$BENCH_OUT/a_cost_$c.dat" ] || continue
			spec="$spec${spec:+, }'$BENCH_OUT/a_cost_$c.dat' u 1:3:4:5 w yerrorlines t '$c'"
		done
		plot docs/plots/packet-cost.png \
			'UDP stream c1 -> c2 through the node: CPU per packet (median, min-max)' \
			'sender CPU ns per packet (log)' logy "$spec"
	fi
	spec=""
	for s in applybpf applynft msegbpf msegnft nftset iptnft iptleg; do
		f=$BENCH_OUT/c_plot_$s.dat
		[ -s "$f" ] && awk '$3 != "nan"' "$f" | grep -q . || continue
		spec="$spec${spec:+, }'$f' u 1:3:4:5 w yerrorlines t '$s'"
	done
	[ -n "$spec" ] && plot docs/plots/apply-time.png \
		'Control plane: load N rules until enforced (median, min-max)' 'ms (log)' logy \
		"$spec"
fi

[ -n "${PLOT_ONLY:-}" ] && { echo "bench: redrew docs/plots/ from $BENCH_OUT" >&2; exit 0; }

# ---- the document ---------------------------------------------------------------------------
{
	echo "Generated by \`make bench$([ -n "$QUICK" ] && echo " QUICK=1")\` on $(date -u '+%Y-%m-%d %H:%M UTC')" \
		"($([ -n "$QUICK" ] && echo "quick mode: short trials, smaller counts" || echo "full run"),"\
		"${elapsed}s, parts: $PARTS) at commit $(git rev-parse --short HEAD 2>/dev/null)."
	echo
	echo "- Machine: $(machine_line | sed 's/, load average.*//'); load average $load_before" \
		"before the run, $(cut -d' ' -f1-3 /proc/loadavg) after. The machine is shared with" \
		"other engineers' builds and tests: absolute figures drift with their load; the ratios" \
		"compare configurations measured interleaved in the same run and are what to read."
	echo "- Versions: $(uname -sr); $(nft --version 2>/dev/null | head -n1);" \
		"$(iptables-nft --version 2>/dev/null); $(iptables-legacy --version 2>/dev/null);" \
		"$(iperf3 --version 2>/dev/null | head -n1 | cut -d' ' -f1-2);" \
		"CNI plugins $(dpkg-query -W -f='${Version}' containernetworking-plugins 2>/dev/null);" \
		"$(bpftool version 2>/dev/null | head -n1);" \
		"libbpf $(pkg-config --modversion libbpf 2>/dev/null); $(cc --version | head -n1)."
	echo "- Every figure is the median of $(bench_trials) interleaved trials (5 in a full run, 3 in" \
		"quick mode) with [min–max], unless its table says otherwise; raw" \
		"per-trial data is left in \`${BENCH_OUT#"$MSEG_TOP"/}/\`."
	echo
	echo "Plots: [eBPF verdict cost](plots/verdict-cost.png) ·" \
		"[per-packet cost with real packets](plots/packet-cost.png) ·" \
		"[time to apply](plots/apply-time.png)"
	echo
} >"$BENCH_OUT/head.md"

# replace_section X FILE: the lines between <!-- bench:X --> and <!-- /bench:X --> become FILE.
replace_section() {
	local x=$1 f=$2 tmp
	grep -q "^<!-- bench:$x -->\$" "$BENCH_DOC" || {
		printf '<!-- bench:%s -->\n<!-- /bench:%s -->\n' "$x" "$x" >>"$BENCH_DOC"
	}
	tmp=$(mktemp)
	awk -v x="$x" -v f="$f" '
		$0 == "<!-- bench:" x " -->" { print; while ((getline l < f) > 0) print l; skip = 1; next }
		$0 == "<!-- /bench:" x " -->" { skip = 0 }
		!skip' "$BENCH_DOC" >"$tmp" && cat "$tmp" >"$BENCH_DOC"
	rm -f "$tmp"
}
[ -e "$BENCH_DOC" ] || echo "# Benchmarks" >"$BENCH_DOC"
# The head describes a whole run; a run of some parts only updates their sections.
[ "$PARTS" = "a b c d e" ] && replace_section head "$BENCH_OUT/head.md"
for p in $PARTS; do replace_section "$p" "$BENCH_OUT/$p.md"; done
echo "bench: wrote $BENCH_DOC and docs/plots/ in ${elapsed}s (raw data: $BENCH_OUT)" >&2
