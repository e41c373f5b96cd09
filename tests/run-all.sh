#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Runs every test (or the suites named: unit cli netns) and ends with one line:
#   N passed, N failed, N skipped
# Each suite prints one line per test: "PASS name", "FAIL name: why", "SKIP name: why".
set -u
cd "$(dirname "$0")/.."
export BUILD=${BUILD:-build}
suites=${*:-unit cli netns}
log=$(mktemp -t mseg-tests.XXXXXX)
trap 'rm -f "$log"' EXIT

for s in $suites; do
	case $s in
	unit) ./tests/run-unit.sh ;;
	cli) ./tests/cli/run.sh ;;
	netns) ./tests/netns/run.sh ;;
	*) echo "FAIL suite $s: unknown suite" ;;
	esac
done 2>&1 | tee "$log"

passed=$(grep -c '^PASS ' "$log")
failed=$(grep -c '^FAIL ' "$log")
skipped=$(grep -c '^SKIP ' "$log")
if [ "$failed" -gt 0 ]; then
	echo
	echo "Failed tests:"
	grep '^FAIL ' "$log" | sed 's/^/  /'
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
