// SPDX-License-Identifier: Apache-2.0
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>

#include "policy/cidr.h"

static struct mseg_cidr parse_ok(const char *s, bool host_bits)
{
	struct mseg_cidr c;
	const char *why = NULL;

	assert_int_equal(mseg_cidr_parse(s, host_bits, &c, &why), 0);
	return c;
}

static void test_parse_and_format_round_trip(void **state)
{
	char buf[MSEG_CIDR_STRLEN];
	struct mseg_cidr c = parse_ok("10.200.0.0/24", false);

	assert_string_equal(mseg_cidr_format(&c, true, buf), "10.200.0.0/24");
	c = parse_ok("10.200.0.7", false);
	assert_int_equal(c.prefixlen, 32);
	assert_string_equal(mseg_cidr_format(&c, true, buf), "10.200.0.7");
	assert_string_equal(mseg_cidr_format(&c, false, buf), "10.200.0.7/32");
	c = parse_ok("0.0.0.0/0", false);
	assert_string_equal(mseg_cidr_format(&c, true, buf), "0.0.0.0/0");
}

static void test_host_bits_rejected_or_cleared(void **state)
{
	char buf[MSEG_CIDR_STRLEN];
	struct mseg_cidr c;
	const char *why = NULL;

	assert_int_equal(mseg_cidr_parse("10.0.0.1/24", false, &c, &why), -EINVAL);
	assert_non_null(why);
	c = parse_ok("10.0.0.1/24", true);
	assert_string_equal(mseg_cidr_format(&c, true, buf), "10.0.0.0/24");
}

static void test_garbage_rejected(void **state)
{
	static const char *const bad[] = {"", "/", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1",
					  "10.0.0/8", "300.0.0.0/8", "10.0.0.0/8x", "abc",
					  "10.0.0.0/ 8", "10.0.0.0.0/8"};
	struct mseg_cidr c;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *why = NULL;

		assert_int_equal(mseg_cidr_parse(bad[i], true, &c, &why), -EINVAL);
		assert_non_null(why);
	}
}

static void test_contains_and_order(void **state)
{
	struct mseg_cidr net = parse_ok("10.200.0.0/16", false);
	struct mseg_cidr sub = parse_ok("10.200.3.0/24", false);
	struct mseg_cidr host = parse_ok("10.201.0.1", false);

	assert_true(mseg_cidr_contains(&net, &sub));
	assert_true(mseg_cidr_contains(&net, &net));
	assert_false(mseg_cidr_contains(&sub, &net));
	assert_false(mseg_cidr_contains(&net, &host));
	assert_true(mseg_cidr_cmp(&net, &sub) < 0);
	assert_true(mseg_cidr_cmp(&sub, &host) < 0);
	assert_int_equal(mseg_cidr_cmp(&sub, &sub), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_and_format_round_trip),
		cmocka_unit_test(test_host_bits_rejected_or_cleared),
		cmocka_unit_test(test_garbage_rejected),
		cmocka_unit_test(test_contains_and_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
