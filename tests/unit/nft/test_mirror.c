// SPDX-License-Identifier: Apache-2.0
/*
 * The nft backend's mirror: the next state after a diff, made by merges, must equal the state
 * rebuilt from scratch (everything sorted again), over seeded random diffs; and the classes it
 * says changed are exactly those whose intervals differ.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "agent/datapath_nft.h"
#include "policy/cidr.h"

static uint32_t rnd(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

static int entry_qcmp(const void *a, const void *b)
{
	return mseg_nft_entry_cmp(a, b);
}

static int ipc_qcmp(const void *pa, const void *pb)
{
	const struct mseg_ipcache_entry *a = pa, *b = pb;

	return mseg_cidr_cmp(&a->prefix, &b->prefix);
}

static int iv_qcmp(const void *pa, const void *pb)
{
	const struct mseg_nft_interval *a = pa, *b = pb;

	if (a->class != b->class)
		return a->class < b->class ? -1 : 1;
	return a->lo < b->lo ? -1 : a->lo > b->lo;
}

/* Distinct entries: (endpoint, dir, remote, port) from a small space, so diffs collide. */
static struct mseg_table_entry entry(uint32_t *s)
{
	struct mseg_table_entry t = {
	    .endpoint = 1 + rnd(s) % 4,
	    .dir = (uint8_t)(rnd(s) % 2),
	    .proto = 6,
	    .remote = 300 + rnd(s) % 8,
	    .verdict = 1,
	};

	t.port_lo = t.port_hi = (uint16_t)(rnd(s) % 64);
	return t;
}

/* Nested or disjoint prefixes inside 10.0.0.0/16: /16 to /32 at random, class by prefix. */
static struct mseg_ipcache_entry ipc(uint32_t *s)
{
	struct mseg_ipcache_entry e = {0};
	uint8_t len = (uint8_t)(16 + rnd(s) % 17);
	uint32_t addr = 0x0a000000u | (rnd(s) & 0xffffu);

	addr &= len ? 0xffffffffu << (32 - len) : 0;
	e.prefix.family = MSEG_AF_INET;
	e.prefix.prefixlen = len;
	memcpy(e.prefix.addr, &(uint32_t[]){__builtin_bswap32(addr)}, 4);
	e.class = e.identity = 300 + rnd(s) % 8;
	return e;
}

static bool has_entry(const struct mseg_table_entry *v, size_t n, const struct mseg_table_entry *t)
{
	for (size_t i = 0; i < n; i++)
		if (mseg_nft_entry_cmp(&v[i], t) == 0)
			return true;
	return false;
}

static bool has_prefix(const struct mseg_ipcache_entry *v, size_t n,
		       const struct mseg_ipcache_entry *e)
{
	for (size_t i = 0; i < n; i++)
		if (mseg_cidr_cmp(&v[i].prefix, &e->prefix) == 0)
			return true;
	return false;
}

static void check_against_scratch(const struct mseg_nft_mirror *m)
{
	struct mseg_nft_interval *iv;
	size_t n_iv;

	for (size_t i = 1; i < m->n_entries; i++)
		assert_true(mseg_nft_entry_cmp(&m->entries[i - 1], &m->entries[i]) < 0);
	for (size_t i = 1; i < m->n_ipcache; i++)
		assert_true(mseg_cidr_cmp(&m->ipcache[i - 1].prefix, &m->ipcache[i].prefix) < 0);
	assert_int_equal(mseg_nft_intervals_compute(m->ipcache, m->n_ipcache, &iv, &n_iv), 0);
	qsort(iv, n_iv, sizeof(*iv), iv_qcmp);
	assert_int_equal(n_iv, m->n_iv);
	assert_memory_equal(iv, m->iv, n_iv * sizeof(*iv));
	free(iv);
}

static void test_merges_equal_a_rebuild(void **state)
{
	struct mseg_nft_mirror cur = {0};
	uint32_t seed = 42;

	for (int round = 0; round < 300; round++) {
		struct mseg_table_entry add[16], rm[16];
		struct mseg_ipcache_entry ipa[6], ipr[6];
		struct mseg_endpoint_default def[2][2];
		struct mseg_table_diff diff = {
		    .added = add, .removed = rm, .ipcache_added = ipa, .ipcache_removed = ipr};
		struct mseg_nft_mirror next;
		size_t want;

		/* removals: existing entries (and, now and then, one that is not there) */
		for (size_t k = 0; k < rnd(&seed) % 6 && cur.n_entries; k++)
			rm[diff.n_removed++] = cur.entries[rnd(&seed) % cur.n_entries];
		for (size_t k = 0; k < rnd(&seed) % 16; k++) {
			struct mseg_table_entry t = entry(&seed);

			if ((!has_entry(cur.entries, cur.n_entries, &t) ||
			     has_entry(rm, diff.n_removed, &t)) &&
			    !has_entry(add, diff.n_added, &t))
				add[diff.n_added++] = t;
		}
		for (size_t k = 0; k < rnd(&seed) % 3 && cur.n_ipcache; k++) {
			struct mseg_ipcache_entry e = cur.ipcache[rnd(&seed) % cur.n_ipcache];

			if (!has_prefix(ipr, diff.n_ipcache_removed, &e))
				ipr[diff.n_ipcache_removed++] = e;
		}
		for (size_t k = 0; k < rnd(&seed) % 6; k++) {
			struct mseg_ipcache_entry e = ipc(&seed);

			if ((!has_prefix(cur.ipcache, cur.n_ipcache, &e) ||
			     has_prefix(ipr, diff.n_ipcache_removed, &e)) &&
			    !has_prefix(ipa, diff.n_ipcache_added, &e))
				ipa[diff.n_ipcache_added++] = e;
		}
		for (int d = 0; d < 2; d++) {
			diff.defaults_changed[d] = def[d];
			diff.n_defaults_changed[d] = rnd(&seed) % 3;
			for (size_t k = 0; k < diff.n_defaults_changed[d]; k++)
				def[d][k] = (struct mseg_endpoint_default){
				    .endpoint = 1 + (uint32_t)(k * 2 + rnd(&seed) % 2),
				    .verdict = (uint8_t)(rnd(&seed) % 2)};
		}
		/* what the result must hold: old minus removed plus added */
		want = 0;
		for (size_t i = 0; i < cur.n_entries; i++)
			want += !has_entry(rm, diff.n_removed, &cur.entries[i]);
		want += diff.n_added;

		assert_int_equal(mseg_nft_mirror_next(&cur, &diff, &next), 0);
		assert_int_equal(next.n_entries, want);
		for (size_t i = 0; i < diff.n_added; i++)
			assert_true(has_entry(next.entries, next.n_entries, &add[i]));
		check_against_scratch(&next);
		for (int d = 0; d < 2; d++)
			for (size_t k = 0; k < diff.n_defaults_changed[d]; k++) {
				const struct mseg_endpoint_default *x =
				    mseg_nft_mirror_default(&next, (uint8_t)d, def[d][k].endpoint);

				assert_non_null(x);
				assert_int_equal(x->verdict, def[d][k].verdict);
			}

		/* the changed classes: exactly those whose runs differ */
		uint32_t *ch;
		size_t n_ch;
		assert_int_equal(mseg_nft_classes_changed(&cur, &next, &ch, &n_ch), 0);
		for (uint32_t c = 0; c < 320; c++) {
			size_t na, nb;
			const struct mseg_nft_interval *a = mseg_nft_class_intervals(&cur, c, &na);
			const struct mseg_nft_interval *b = mseg_nft_class_intervals(&next, c, &nb);
			bool differ = na != nb;
			bool listed = false;

			for (size_t k = 0; k < na && !differ; k++)
				differ = a[k].lo != b[k].lo || a[k].hi != b[k].hi;
			for (size_t k = 0; k < n_ch; k++)
				listed = listed || ch[k] == c;
			assert_int_equal(differ, listed);
		}
		for (size_t k = 1; k < n_ch; k++)
			assert_true(ch[k - 1] < ch[k]);
		free(ch);

		/* the entries of one (endpoint, dir) are one run */
		for (uint32_t ep = 0; ep <= 5; ep++) {
			size_t n, first = mseg_nft_mirror_entries_of(&next, ep, 1, &n), count = 0;

			for (size_t i = 0; i < next.n_entries; i++)
				count += next.entries[i].endpoint == ep && next.entries[i].dir == 1;
			assert_int_equal(n, count);
			for (size_t i = first; i < first + n; i++)
				assert_true(next.entries[i].endpoint == ep &&
					    next.entries[i].dir == 1);
		}
		/* what the diff left alone is shared, not copied */
		if (diff.n_added == 0 && diff.n_removed == 0)
			assert_ptr_equal(next.entries, cur.entries);
		if (diff.n_ipcache_added == 0 && diff.n_ipcache_removed == 0) {
			assert_ptr_equal(next.ipcache, cur.ipcache);
			assert_ptr_equal(next.iv, cur.iv);
		}
		mseg_nft_mirror_replace(&cur, &next);
		assert_false(cur.entries_borrowed || cur.ipcache_borrowed);
		assert_null(next.entries);
	}
	assert_true(cur.n_entries > 0);
	assert_true(cur.n_ipcache > 0);
	mseg_nft_mirror_free(&cur);
}

/* The compiler's arrays come in any order: unsorted input gives the same mirror. */
static void test_unsorted_input(void **state)
{
	struct mseg_table_entry add[64];
	struct mseg_ipcache_entry ipa[32];
	struct mseg_nft_mirror empty = {0}, a, b;
	struct mseg_table_diff diff = {.added = add, .ipcache_added = ipa};
	uint32_t seed = 7;

	for (size_t k = 0; k < 64; k++) {
		struct mseg_table_entry t = entry(&seed);

		if (!has_entry(add, diff.n_added, &t))
			add[diff.n_added++] = t;
	}
	for (size_t k = 0; k < 32; k++) {
		struct mseg_ipcache_entry e = ipc(&seed);

		if (!has_prefix(ipa, diff.n_ipcache_added, &e))
			ipa[diff.n_ipcache_added++] = e;
	}
	assert_int_equal(mseg_nft_mirror_next(&empty, &diff, &a), 0);
	qsort(add, diff.n_added, sizeof(*add), entry_qcmp);
	qsort(ipa, diff.n_ipcache_added, sizeof(*ipa), ipc_qcmp);
	assert_int_equal(mseg_nft_mirror_next(&empty, &diff, &b), 0);
	assert_int_equal(a.n_entries, b.n_entries);
	assert_memory_equal(a.entries, b.entries, a.n_entries * sizeof(*a.entries));
	assert_int_equal(a.n_iv, b.n_iv);
	assert_memory_equal(a.iv, b.iv, a.n_iv * sizeof(*a.iv));
	check_against_scratch(&a);
	mseg_nft_mirror_free(&a);
	mseg_nft_mirror_free(&b);
	mseg_nft_mirror_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_merges_equal_a_rebuild),
	    cmocka_unit_test(test_unsorted_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
