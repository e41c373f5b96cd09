# SPDX-License-Identifier: Apache-2.0
# `mseg --version` and `msegd --version`: the same release, exit 0, no agent needed.

VERSION_TOP=${MSEG_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}

test_version_of_both_programs() {
	local want out
	want=$(sed -n 's/^#define MSEG_VERSION "\(.*\)"$/\1/p' "$VERSION_TOP/lib/version.h")
	[ -n "$want" ] || fail "no MSEG_VERSION in lib/version.h" || return 1
	out=$("$MSEG" --version) || fail "mseg --version failed" || return 1
	[ "$out" = "mseg $want" ] || fail "mseg --version printed '$out', want 'mseg $want'" ||
		return 1
	out=$("$MSEGD" --version) || fail "msegd --version failed" || return 1
	[ "$out" = "msegd $want" ] || fail "msegd --version printed '$out', want 'msegd $want'" ||
		return 1
	# a command group has no version of its own: its usage says what it takes
	expect_fail "mseg node --version" "$MSEG" node --version 2>/dev/null || return 1
}
