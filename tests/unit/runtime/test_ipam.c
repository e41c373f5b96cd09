// SPDX-License-Identifier: Apache-2.0
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy/cidr.h"
#include "runtime/ipam.h"

static struct mseg_cidr cidr(const char *s)
{
	struct mseg_cidr c;
	const char *why;

	assert_int_equal(mseg_cidr_parse(s, false, &c, &why), 0);
	return c;
}

static struct mseg_ipam *pool(const char *s)
{
	struct mseg_cidr p = cidr(s);
	struct mseg_ipam *ipam = NULL;

	assert_int_equal(mseg_ipam_new(&p, &ipam), 0);
	assert_non_null(ipam);
	return ipam;
}

static const char *alloc_str(struct mseg_ipam *ipam, char buf[MSEG_CIDR_STRLEN])
{
	struct mseg_cidr c;

	assert_int_equal(mseg_ipam_allocate(ipam, &c), 0);
	assert_int_equal(c.prefixlen, 32);
	return mseg_cidr_format(&c, true, buf);
}

static void test_slash24_hands_out_each_usable_address_once(void **state)
{
	struct mseg_ipam *ipam = pool("10.200.0.0/24");
	static bool seen[256];
	struct mseg_cidr c;
	char buf[MSEG_CIDR_STRLEN];

	assert_int_equal(mseg_ipam_available(ipam), 254);
	assert_string_equal(alloc_str(ipam, buf), "10.200.0.1");
	assert_string_equal(alloc_str(ipam, buf), "10.200.0.2");
	seen[1] = seen[2] = true;
	for (int i = 3; i <= 254; i++) {
		assert_int_equal(mseg_ipam_allocate(ipam, &c), 0);
		unsigned last = mseg_cidr_v4(&c) & 0xff;
		/* never the network or broadcast address, never twice */
		assert_true(last >= 1 && last <= 254);
		assert_false(seen[last]);
		seen[last] = true;
		assert_true(mseg_ipam_in_use(ipam, &c));
	}
	assert_int_equal(mseg_ipam_available(ipam), 0);
	/* Exhausted: a clear errno, and nothing changes. */
	assert_int_equal(mseg_ipam_allocate(ipam, &c), -ENOSPC);
	assert_int_equal(mseg_ipam_allocate(ipam, &c), -ENOSPC);
	assert_int_equal(mseg_ipam_available(ipam), 0);
	mseg_ipam_free(ipam);
}

static void test_slash30_has_two(void **state)
{
	struct mseg_ipam *ipam = pool("192.168.5.4/30");
	struct mseg_cidr c;
	char buf[MSEG_CIDR_STRLEN];

	assert_int_equal(mseg_ipam_available(ipam), 2);
	assert_string_equal(alloc_str(ipam, buf), "192.168.5.5");
	assert_string_equal(alloc_str(ipam, buf), "192.168.5.6");
	assert_int_equal(mseg_ipam_allocate(ipam, &c), -ENOSPC);
	c = cidr("192.168.5.5");
	assert_int_equal(mseg_ipam_release(ipam, &c), 0);
	assert_string_equal(alloc_str(ipam, buf), "192.168.5.5");
	mseg_ipam_free(ipam);
}

static void test_released_address_not_reused_at_once_and_wraps(void **state)
{
	struct mseg_ipam *ipam = pool("10.1.0.0/29"); /* .1 .. .6 */
	struct mseg_cidr c;
	char buf[MSEG_CIDR_STRLEN];

	assert_string_equal(alloc_str(ipam, buf), "10.1.0.1");
	assert_string_equal(alloc_str(ipam, buf), "10.1.0.2");
	c = cidr("10.1.0.1");
	assert_int_equal(mseg_ipam_release(ipam, &c), 0);
	assert_false(mseg_ipam_in_use(ipam, &c));
	/* .1 is free again but the cursor moves on. */
	assert_string_equal(alloc_str(ipam, buf), "10.1.0.3");
	assert_string_equal(alloc_str(ipam, buf), "10.1.0.4");
	assert_string_equal(alloc_str(ipam, buf), "10.1.0.5");
	assert_string_equal(alloc_str(ipam, buf), "10.1.0.6");
	/* Wrap round past the end (skipping the broadcast) to the freed .1. */
	assert_string_equal(alloc_str(ipam, buf), "10.1.0.1");
	assert_int_equal(mseg_ipam_allocate(ipam, &c), -ENOSPC);
	/* Free one in the middle: it is the only one left, so it comes back. */
	c = cidr("10.1.0.4");
	assert_int_equal(mseg_ipam_release(ipam, &c), 0);
	assert_string_equal(alloc_str(ipam, buf), "10.1.0.4");
	mseg_ipam_free(ipam);
}

static void test_reserve_after_restart(void **state)
{
	struct mseg_ipam *ipam = pool("10.200.0.0/24");
	struct mseg_cidr got[3], c;
	char buf[MSEG_CIDR_STRLEN];

	for (int i = 0; i < 3; i++)
		assert_int_equal(mseg_ipam_allocate(ipam, &got[i]), 0);
	mseg_ipam_free(ipam);

	/* A new instance (the agent restarted) learns the persisted allocations first. */
	ipam = pool("10.200.0.0/24");
	for (int i = 0; i < 3; i++)
		assert_int_equal(mseg_ipam_reserve(ipam, &got[i]), 0);
	assert_int_equal(mseg_ipam_available(ipam), 251);
	for (int i = 0; i < 3; i++)
		assert_int_equal(mseg_ipam_reserve(ipam, &got[i]), -EEXIST);
	/* None of them is handed out again. */
	assert_string_equal(alloc_str(ipam, buf), "10.200.0.4");
	for (int i = 0; i < 250; i++) {
		assert_int_equal(mseg_ipam_allocate(ipam, &c), 0);
		for (int j = 0; j < 3; j++)
			assert_int_not_equal(mseg_cidr_cmp(&c, &got[j]), 0);
	}
	assert_int_equal(mseg_ipam_allocate(ipam, &c), -ENOSPC);
	mseg_ipam_free(ipam);
}

static void test_reserve_and_release_errors(void **state)
{
	struct mseg_ipam *ipam = pool("10.200.0.0/24");
	struct mseg_cidr c;

	c = cidr("10.200.0.0"); /* network */
	assert_int_equal(mseg_ipam_reserve(ipam, &c), -ERANGE);
	c = cidr("10.200.0.255"); /* broadcast */
	assert_int_equal(mseg_ipam_reserve(ipam, &c), -ERANGE);
	c = cidr("10.201.0.5"); /* outside */
	assert_int_equal(mseg_ipam_reserve(ipam, &c), -ERANGE);
	assert_int_equal(mseg_ipam_release(ipam, &c), -ERANGE);
	c = cidr("10.200.0.0/25"); /* not a single address */
	assert_int_equal(mseg_ipam_reserve(ipam, &c), -ERANGE);
	c = cidr("10.200.0.9");
	assert_int_equal(mseg_ipam_release(ipam, &c), -ENOENT);
	assert_int_equal(mseg_ipam_reserve(ipam, &c), 0);
	assert_int_equal(mseg_ipam_available(ipam), 253);
	assert_int_equal(mseg_ipam_release(ipam, &c), 0);
	assert_int_equal(mseg_ipam_release(ipam, &c), -ENOENT);
	assert_int_equal(mseg_ipam_available(ipam), 254);
	mseg_ipam_free(ipam);
}

static void test_bad_pools(void **state)
{
	struct mseg_ipam *ipam = (struct mseg_ipam *)0x1;
	struct mseg_cidr c;

	c = cidr("10.0.0.0/31");
	assert_int_equal(mseg_ipam_new(&c, &ipam), -EINVAL);
	c = cidr("10.0.0.1/32");
	assert_int_equal(mseg_ipam_new(&c, &ipam), -EINVAL);
	c = cidr("0.0.0.0/0");
	assert_int_equal(mseg_ipam_new(&c, &ipam), -EINVAL);
	c = cidr("10.0.0.0/24");
	c.addr[3] = 7; /* host bits */
	assert_int_equal(mseg_ipam_new(&c, &ipam), -EINVAL);
	c.addr[3] = 0;
	c.family = MSEG_AF_INET6;
	assert_int_equal(mseg_ipam_new(&c, &ipam), -EINVAL);
	assert_int_equal(mseg_ipam_new(NULL, &ipam), -EINVAL);
	/* left untouched on failure */
	assert_ptr_equal(ipam, (struct mseg_ipam *)0x1);
	mseg_ipam_free(NULL);
}

static void test_large_pool_full_words_skipped(void **state)
{
	struct mseg_ipam *ipam = pool("10.128.0.0/16");
	struct mseg_cidr c;
	char buf[MSEG_CIDR_STRLEN];

	assert_int_equal(mseg_ipam_available(ipam), 65534);
	for (int i = 0; i < 65534; i++)
		assert_int_equal(mseg_ipam_allocate(ipam, &c), 0);
	assert_string_equal(mseg_cidr_format(&c, true, buf), "10.128.255.254");
	assert_int_equal(mseg_ipam_allocate(ipam, &c), -ENOSPC);
	/* One hole far behind the cursor is found by wrapping over full words. */
	c = cidr("10.128.3.77");
	assert_int_equal(mseg_ipam_release(ipam, &c), 0);
	assert_string_equal(alloc_str(ipam, buf), "10.128.3.77");
	c = cidr("10.128.255.254");
	assert_int_equal(mseg_ipam_release(ipam, &c), 0);
	assert_string_equal(alloc_str(ipam, buf), "10.128.255.254");
	mseg_ipam_free(ipam);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_slash24_hands_out_each_usable_address_once),
	    cmocka_unit_test(test_slash30_has_two),
	    cmocka_unit_test(test_released_address_not_reused_at_once_and_wraps),
	    cmocka_unit_test(test_reserve_after_restart),
	    cmocka_unit_test(test_reserve_and_release_errors),
	    cmocka_unit_test(test_bad_pools),
	    cmocka_unit_test(test_large_pool_full_words_skipped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
