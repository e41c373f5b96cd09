# SPDX-License-Identifier: Apache-2.0
# The harness's own assertions, so a broken harness cannot pass every test silently.

test_expect_fail_catches_success() {
	! expect_fail "true must be reported" true 2>/dev/null || return 1
	expect_fail "false fails" false || return 1
}

test_expect_output_contains() {
	expect_output_contains "echo" "needle" echo "hay needle hay" || return 1
	! expect_output_contains "echo" "absent" echo "hay" 2>/dev/null || return 1
}
