#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Runs every cmocka unit test program under $BUILD/tests/unit and reports each test case as
# PASS/FAIL lines for run-all.sh. Programs are found by name (test_*), so adding a file under
# tests/unit/<module>/ is all it takes to add a test.
set -u
BUILD=${BUILD:-build}
status=0
while IFS= read -r prog; do
	name=${prog#"$BUILD"/tests/unit/}
	out=$(CMOCKA_MESSAGE_OUTPUT=stdout "$prog" 2>&1)
	rc=$?
	# cmocka prints "[       OK ] case" and "[  FAILED  ] case" per test case.
	ok=$(printf '%s\n' "$out" | sed -n 's/^\[       OK \] \(.*\)$/\1/p')
	bad=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([^ ]*\)$/\1/p')
	skip=$(printf '%s\n' "$out" | sed -n 's/^\[  SKIPPED \] \([^ ]*\)$/\1/p')
	for t in $ok; do echo "PASS $name/$t"; done
	for t in $skip; do echo "SKIP $name/$t: skipped by the test"; done
	for t in $bad; do echo "FAIL $name/$t"; done
	if [ $rc -ne 0 ] && [ -z "$bad" ]; then
		echo "FAIL $name: exited with $rc"
		printf '%s\n' "$out" | tail -n 20 | sed 's/^/    /'
	elif [ -n "$bad" ]; then
		printf '%s\n' "$out" | grep -v '^\[' | tail -n 30 | sed 's/^/    /'
	fi
	[ $rc -ne 0 ] && status=1
done < <(find "$BUILD/tests/unit" -type f -name 'test_*' -perm -u+x 2>/dev/null | sort)
exit $status
