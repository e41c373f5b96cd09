#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Runs a suite of shell tests: every function named test_* in DIR/test_*.sh, each in its own
# subshell with its own per-run prefix ($MT) and an EXIT trap that removes all it made.
# Usage: shell-suite.sh DIR [FILTER]   (FILTER: a substring of the test names to run)
# The harness (tests/netns/lib.sh) is sourced for every suite: CLI-only suites simply do not
# create nodes.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
export MSEG_TOP=${MSEG_TOP:-$top}
dir=$(cd "$1" && pwd)
suite=$(basename "$dir")
filter=${2:-}
lib=$top/tests/netns/lib.sh

for file in "$dir"/test_*.sh; do
	[ -e "$file" ] || continue
	tests=$(bash -c "source '$lib'; source '$file'; declare -F" |
		awk '{print $3}' | grep '^test_')
	for t in $tests; do
		case $t in *"$filter"*) ;; *) continue ;; esac
		export MT="mt$(printf '%04x' $((RANDOM % 65536)))"
		export MT_DIR=/run/mseg-test/$MT
		started=$(date +%s.%N)
		out=$(
			set +e
			# shellcheck source=netns/lib.sh
			source "$lib"
			source "$file"
			trap harness_cleanup EXIT
			mkdir -p "$MT_DIR"
			"$t" 2>&1
		)
		rc=$?
		secs=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
		name="$suite/$(basename "$file" .sh)/$t"
		if [ $rc -eq 0 ]; then
			echo "PASS $name (${secs}s)"
		elif [ $rc -eq 77 ]; then
			echo "SKIP $name: $(cat "/run/mseg-test/$MT.skip" 2>/dev/null || echo 'skipped')"
		else
			echo "FAIL $name (${secs}s)"
			printf '%s\n' "$out" | tail -n 40 | sed 's/^/    /'
		fi
		rm -f "/run/mseg-test/$MT.skip"
	done
done
rmdir /run/mseg-test 2>/dev/null
exit 0
