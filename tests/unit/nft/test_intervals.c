// SPDX-License-Identifier: Apache-2.0
/* Remote classes as disjoint intervals: the longest-prefix ipcache flattened for nft sets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>

#include "agent/datapath_nft.h"
#include "policy/cidr.h"

static struct mseg_ipcache_entry ipc(const char *prefix, uint32_t class)
{
	struct mseg_ipcache_entry e = {.identity = class, .class = class};
	const char *why;

	assert_int_equal(mseg_cidr_parse(prefix, false, &e.prefix, &why), 0);
	return e;
}

static uint32_t a(const char *s)
{
	struct mseg_cidr c;
	const char *why;

	assert_int_equal(mseg_cidr_parse(s, false, &c, &why), 0);
	return mseg_cidr_v4(&c);
}

/* The class of addr by the intervals, and by longest-prefix match: they must agree. */
static uint32_t by_intervals(const struct mseg_nft_interval *iv, size_t n, uint32_t addr)
{
	for (size_t i = 0; i < n; i++)
		if (iv[i].lo <= addr && addr <= iv[i].hi)
			return iv[i].class;
	fail_msg("address %u not covered", addr);
	return 0;
}

static uint32_t by_lpm(const struct mseg_ipcache_entry *e, size_t n, uint32_t addr)
{
	const struct mseg_ipcache_entry *best = NULL;
	struct mseg_cidr c = mseg_cidr_from_v4(addr, 32);

	for (size_t i = 0; i < n; i++)
		if (mseg_cidr_contains(&e[i].prefix, &c) &&
		    (!best || e[i].prefix.prefixlen > best->prefix.prefixlen))
			best = &e[i];
	return best ? best->class : MSEG_ID_WORLD;
}

static void check_cover(const struct mseg_nft_interval *iv, size_t n)
{
	/* sorted, disjoint, adjacent, from 0 to the last address, neighbours differ */
	assert_true(n > 0);
	assert_int_equal(iv[0].lo, 0);
	assert_int_equal(iv[n - 1].hi, UINT32_MAX);
	for (size_t i = 1; i < n; i++) {
		assert_int_equal((uint64_t)iv[i - 1].hi + 1, iv[i].lo);
		assert_int_not_equal(iv[i - 1].class, iv[i].class);
	}
}

static void test_empty_is_world(void **state)
{
	struct mseg_nft_interval *iv = NULL;
	size_t n = 0;

	assert_int_equal(mseg_nft_intervals_compute(NULL, 0, &iv, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(iv[0].lo, 0);
	assert_int_equal(iv[0].hi, UINT32_MAX);
	assert_int_equal(iv[0].class, MSEG_ID_WORLD);
	free(iv);
}

static void test_prefix_minus_more_specific(void **state)
{
	/* 10.0.0.0/8 class 300 with a hole 10.1.0.0/16 class 301 holding a pod /32 (256) */
	struct mseg_ipcache_entry e[] = {
	    ipc("10.0.0.0/8", 300),
	    ipc("10.1.0.0/16", 301),
	    ipc("10.1.2.3", 256),
	};
	struct mseg_nft_interval *iv = NULL;
	size_t n = 0;

	assert_int_equal(mseg_nft_intervals_compute(e, 3, &iv, &n), 0);
	check_cover(iv, n);
	assert_int_equal(n, 7);
	assert_int_equal(iv[1].lo, a("10.0.0.0"));
	assert_int_equal(iv[1].hi, a("10.0.255.255"));
	assert_int_equal(iv[1].class, 300);
	assert_int_equal(iv[2].class, 301);
	assert_int_equal(iv[2].hi, a("10.1.2.2"));
	assert_int_equal(iv[3].lo, a("10.1.2.3"));
	assert_int_equal(iv[3].hi, a("10.1.2.3"));
	assert_int_equal(iv[3].class, 256);
	assert_int_equal(iv[4].class, 301);
	assert_int_equal(iv[5].lo, a("10.2.0.0"));
	assert_int_equal(iv[5].class, 300);
	assert_int_equal(iv[6].class, MSEG_ID_WORLD);
	free(iv);
}

static void test_adjacent_same_class_merge(void **state)
{
	/* two pods with one identity side by side become one interval */
	struct mseg_ipcache_entry e[] = {ipc("10.200.1.11", 257), ipc("10.200.1.10", 257)};
	struct mseg_nft_interval *iv = NULL;
	size_t n = 0;

	assert_int_equal(mseg_nft_intervals_compute(e, 2, &iv, &n), 0);
	check_cover(iv, n);
	assert_int_equal(n, 3);
	assert_int_equal(iv[1].lo, a("10.200.1.10"));
	assert_int_equal(iv[1].hi, a("10.200.1.11"));
	free(iv);
}

static void test_slash_zero_and_edges(void **state)
{
	/* a /0 replaces WORLD everywhere; prefixes at both ends of the space */
	struct mseg_ipcache_entry e[] = {
	    ipc("0.0.0.0/0", 400),
	    ipc("0.0.0.0/8", 401),
	    ipc("255.255.255.255", 402),
	};
	struct mseg_nft_interval *iv = NULL;
	size_t n = 0;

	assert_int_equal(mseg_nft_intervals_compute(e, 3, &iv, &n), 0);
	check_cover(iv, n);
	assert_int_equal(n, 3);
	assert_int_equal(iv[0].class, 401);
	assert_int_equal(iv[1].class, 400);
	assert_int_equal(iv[2].class, 402);
	assert_int_equal(iv[2].lo, UINT32_MAX);
	free(iv);
}

static void test_random_against_lpm(void **state)
{
	/* nested random prefixes: every probe address gets the LPM class */
	srand(42);
	for (int round = 0; round < 200; round++) {
		struct mseg_ipcache_entry e[24];
		struct mseg_nft_interval *iv = NULL;
		size_t n_e = (size_t)(rand() % 24), n = 0;

		for (size_t i = 0; i < n_e; i++) {
			/* addresses in a small space so that prefixes nest often */
			unsigned plen = 20 + (unsigned)(rand() % 13);
			uint32_t addr = 0x0a000000u | ((uint32_t)rand() & 0xfff);
			uint32_t mask = plen ? 0xffffffffu << (32 - plen) : 0;

			e[i] = (struct mseg_ipcache_entry){
			    .prefix = mseg_cidr_from_v4(addr & mask, plen),
			    .class = 256 + (uint32_t)(rand() % 5),
			};
			/* the ipcache holds each prefix once */
			for (size_t k = 0; k < i; k++)
				if (mseg_cidr_cmp(&e[k].prefix, &e[i].prefix) == 0)
					e[i].prefix =
					    mseg_cidr_from_v4(0x0b000000u + (uint32_t)i, 32);
		}
		assert_int_equal(mseg_nft_intervals_compute(e, n_e, &iv, &n), 0);
		check_cover(iv, n);
		for (int p = 0; p < 300; p++) {
			uint32_t addr = 0x0a000000u | ((uint32_t)rand() & 0x1fff);

			assert_int_equal(by_intervals(iv, n, addr), by_lpm(e, n_e, addr));
		}
		for (size_t i = 0; i < n; i++) {
			assert_int_equal(by_intervals(iv, n, iv[i].lo), by_lpm(e, n_e, iv[i].lo));
			assert_int_equal(by_intervals(iv, n, iv[i].hi), by_lpm(e, n_e, iv[i].hi));
		}
		free(iv);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty_is_world),
	    cmocka_unit_test(test_prefix_minus_more_specific),
	    cmocka_unit_test(test_adjacent_same_class_merge),
	    cmocka_unit_test(test_slash_zero_and_edges),
	    cmocka_unit_test(test_random_against_lpm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
