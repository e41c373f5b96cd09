// SPDX-License-Identifier: Apache-2.0
/* Identities: label set -> id from 256, equal sets share an id, put() pins ids for restarts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "policy/compile.h"
#include "policy/labels.h"

static struct mseg_labels make(const char *app, const char *ns)
{
	struct mseg_labels l = {0};

	assert_int_equal(mseg_labels_set(&l, "app", app), 0);
	assert_int_equal(mseg_labels_set(&l, "io.mseg.namespace", ns), 0);
	return l;
}

static void test_get_allocates_from_256_and_is_stable(void **state)
{
	struct mseg_identities *ids = NULL;
	struct mseg_labels a = make("web", "x"), b = make("db", "x"), a2 = make("web", "x");
	struct mseg_labels empty = {0};
	uint32_t ia, ib, ia2, ie;

	assert_int_equal(mseg_identities_new(&ids), 0);
	assert_int_equal(mseg_identities_get(ids, &a, &ia), 0);
	assert_int_equal(ia, MSEG_ID_FIRST_ALLOCATED);
	assert_int_equal(mseg_identities_get(ids, &b, &ib), 0);
	assert_int_equal(ib, 257);
	/* an equal set (a different copy) gets the same id */
	assert_int_equal(mseg_identities_get(ids, &a2, &ia2), 0);
	assert_int_equal(ia2, ia);
	assert_int_equal(mseg_identities_get(ids, &empty, &ie), 0);
	assert_int_equal(ie, 258);
	/* a value or a key differing is another set */
	assert_int_equal(mseg_labels_set(&a2, "app", "we"), 0);
	assert_int_equal(mseg_identities_get(ids, &a2, &ia2), 0);
	assert_int_equal(ia2, 259);
	assert_int_equal(mseg_identities_get(ids, NULL, &ia2), -EINVAL);
	mseg_identities_free(ids);
	mseg_identities_free(NULL);
	mseg_labels_free(&a);
	mseg_labels_free(&a2);
	mseg_labels_free(&b);
}

static void test_put_pins_and_allocation_skips_pinned(void **state)
{
	struct mseg_identities *ids = NULL;
	struct mseg_labels a = make("web", "x"), b = make("db", "x"), c = make("c", "y");
	uint32_t id;

	assert_int_equal(mseg_identities_new(&ids), 0);
	assert_int_equal(mseg_identities_put(ids, &a, 257), 0);
	assert_int_equal(mseg_identities_put(ids, &a, 257), 0); /* idempotent */
	assert_int_equal(mseg_identities_put(ids, &a, 300), -EEXIST);
	assert_int_equal(mseg_identities_put(ids, &b, 257), -EEXIST);
	assert_int_equal(mseg_identities_put(ids, &b, 3), -EINVAL); /* reserved */
	assert_int_equal(mseg_identities_put(ids, &b, MSEG_CLASS_CIDR_BASE), -EINVAL);
	assert_int_equal(mseg_identities_get(ids, &a, &id), 0);
	assert_int_equal(id, 257);
	assert_int_equal(mseg_identities_get(ids, &b, &id), 0);
	assert_int_equal(id, 256);
	assert_int_equal(mseg_identities_get(ids, &c, &id), 0);
	assert_int_equal(id, 258); /* 257 is pinned */
	mseg_identities_free(ids);
	mseg_labels_free(&a);
	mseg_labels_free(&b);
	mseg_labels_free(&c);
}

/* Many sets: the hash table grows and every set keeps its id. */
static void test_many_sets(void **state)
{
	struct mseg_identities *ids = NULL;
	char v[16];

	assert_int_equal(mseg_identities_new(&ids), 0);
	for (int round = 0; round < 2; round++)
		for (uint32_t i = 0; i < 5000; i++) {
			struct mseg_labels l = {0};
			uint32_t id;

			snprintf(v, sizeof(v), "v%u", i);
			assert_int_equal(mseg_labels_set(&l, "k", v), 0);
			assert_int_equal(mseg_identities_get(ids, &l, &id), 0);
			assert_int_equal(id, 256 + i);
			mseg_labels_free(&l);
		}
	mseg_identities_free(ids);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_get_allocates_from_256_and_is_stable),
	    cmocka_unit_test(test_put_pins_and_allocation_skips_pinned),
	    cmocka_unit_test(test_many_sets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
