// SPDX-License-Identifier: Apache-2.0
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy/diag.h"
#include "policy/labels.h"

static void test_set_keeps_sorted_and_replaces(void **state)
{
	struct mseg_labels l = {0};
	char *s;

	assert_int_equal(mseg_labels_set(&l, "pod", "a"), 0);
	assert_int_equal(mseg_labels_set(&l, "app", "web"), 0);
	assert_int_equal(mseg_labels_set(&l, "zone", "1"), 0);
	assert_int_equal(mseg_labels_set(&l, "app", "api"), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.items[0].key, "app");
	assert_string_equal(l.items[1].key, "pod");
	assert_string_equal(l.items[2].key, "zone");
	assert_string_equal(mseg_labels_get(&l, "app"), "api");
	assert_null(mseg_labels_get(&l, "missing"));
	s = mseg_labels_format(&l);
	assert_string_equal(s, "app=api,pod=a,zone=1");
	free(s);
	mseg_labels_free(&l);
	mseg_labels_free(&l); /* idempotent */
}

static void test_unset(void **state)
{
	struct mseg_labels l = {0};
	char *s;

	assert_int_equal(mseg_labels_set(&l, "a", "1"), 0);
	assert_int_equal(mseg_labels_set(&l, "b", "2"), 0);
	assert_int_equal(mseg_labels_unset(&l, "c"), -ENOENT);
	assert_int_equal(mseg_labels_unset(&l, "a"), 0);
	assert_null(mseg_labels_get(&l, "a"));
	assert_string_equal(mseg_labels_get(&l, "b"), "2");
	assert_int_equal(mseg_labels_unset(&l, "b"), 0);
	assert_int_equal(l.n, 0);
	s = mseg_labels_format(&l);
	assert_string_equal(s, "");
	free(s);
	mseg_labels_free(&l);
}

static void test_copy_and_cmp(void **state)
{
	struct mseg_labels a = {0}, b = {0}, c = {0}, empty = {0};

	assert_int_equal(mseg_labels_set(&a, "x", "1"), 0);
	assert_int_equal(mseg_labels_set(&a, "y", "2"), 0);
	assert_int_equal(mseg_labels_copy(&b, &a), 0);
	assert_int_equal(mseg_labels_cmp(&a, &b), 0);
	assert_ptr_not_equal(a.items[0].key, b.items[0].key);
	assert_int_equal(mseg_labels_set(&b, "y", "3"), 0);
	assert_true(mseg_labels_cmp(&a, &b) < 0);
	assert_true(mseg_labels_cmp(&b, &a) > 0);
	/* a prefix orders first */
	assert_int_equal(mseg_labels_set(&c, "x", "1"), 0);
	assert_true(mseg_labels_cmp(&c, &a) < 0);
	assert_true(mseg_labels_cmp(&empty, &c) < 0);
	assert_int_equal(mseg_labels_cmp(&empty, &empty), 0);
	mseg_labels_free(&a);
	mseg_labels_free(&b);
	mseg_labels_free(&c);
}

static void test_key_rules(void **state)
{
	static const char *const good[] = {
	    "app",
	    "a",
	    "A9",
	    "app.kubernetes.io/name",
	    "kubernetes.io/metadata.name",
	    "example.com/a_b-c.d",
	    "x/y",
	    "a1-b.c_D",
	};
	static const char *const bad[] = {
	    "",
	    "-app",
	    "app-",
	    "a b",
	    "a/b/c",
	    "/name",
	    "Example.com/name",
	    "prefix/",
	    "pre_fix.com/name",
	    "app!",
	    /* 64 characters */
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	char prefix[300];
	const char *why;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(mseg_label_key_check(good[i], &why), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		assert_int_equal(mseg_label_key_check(bad[i], &why), -EINVAL);
		assert_non_null(why);
	}
	/* 63-character name part is the limit */
	assert_int_equal(
	    mseg_label_key_check("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
				 &why),
	    0);
	/* prefix up to 253 */
	memset(prefix, 'a', 253);
	for (int i = 60; i < 253; i += 61)
		prefix[i] = '.';
	strcpy(prefix + 253, "/n");
	assert_int_equal(mseg_label_key_check(prefix, &why), 0);
	memset(prefix, 'a', 254);
	for (int i = 60; i < 254; i += 61)
		prefix[i] = '.';
	strcpy(prefix + 254, "/n");
	assert_int_equal(mseg_label_key_check(prefix, &why), -EINVAL);
	assert_non_null(strstr(why, "253"));
	/* only the whole prefix is bounded, not each of its labels (as in Kubernetes) */
	memset(prefix, 'b', 70);
	strcpy(prefix + 70, ".example.com/n");
	assert_int_equal(mseg_label_key_check(prefix, &why), 0);
	/* the message says which part is wrong */
	assert_int_equal(mseg_label_key_check("example.com/-x", &why), -EINVAL);
	assert_non_null(strstr(why, "name part"));
}

static void test_value_and_name_rules(void **state)
{
	const char *why;

	assert_int_equal(mseg_label_value_check("", &why), 0);
	assert_int_equal(mseg_label_value_check("v1.2_x-Y", &why), 0);
	assert_int_equal(mseg_label_value_check("a/b", &why), -EINVAL);
	assert_int_equal(mseg_label_value_check("-a", &why), -EINVAL);
	assert_int_equal(
	    mseg_label_value_check(
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", &why),
	    -EINVAL);
	assert_int_equal(mseg_name_check("web-1", &why), 0);
	assert_int_equal(mseg_name_check("Web", &why), -EINVAL);
	assert_int_equal(mseg_name_check("web.1", &why), -EINVAL);
	assert_int_equal(mseg_name_check("-web", &why), -EINVAL);
	assert_int_equal(mseg_name_check("", &why), -EINVAL);
	assert_int_equal(mseg_name_check(NULL, &why), -EINVAL);
}

static void test_parse_arg(void **state)
{
	char *k = NULL, *v = NULL;

	assert_int_equal(mseg_labels_parse_arg("app=web", &k, &v), 0);
	assert_string_equal(k, "app");
	assert_string_equal(v, "web");
	free(k);
	free(v);
	assert_int_equal(mseg_labels_parse_arg("example.com/tier=", &k, &v), 0);
	assert_string_equal(k, "example.com/tier");
	assert_string_equal(v, "");
	free(k);
	free(v);
	k = v = NULL;
	assert_int_equal(mseg_labels_parse_arg("novalue", &k, &v), -EINVAL);
	assert_int_equal(mseg_labels_parse_arg("=x", &k, &v), -EINVAL);
	assert_int_equal(mseg_labels_parse_arg("a=b=c", &k, &v), -EINVAL);
	assert_null(k);
	assert_null(v);
}

static void test_diag_format(void **state)
{
	struct mseg_diag d = {0};
	char *s;

	assert_int_equal(mseg_diag_add(&d, "web.yaml", 14, 11, "spec.ingress[0].ports[1].endPort",
				       "%d is out of range %d-%d", 70000, 1, 65535),
			 0);
	assert_int_equal(mseg_diag_add(&d, "x.yaml", 0, 0, NULL, "cannot read: %s", "nope"), 0);
	assert_int_equal(d.n, 2);
	s = mseg_diag_entry_format(&d.items[0]);
	assert_string_equal(s, "web.yaml:14:11: spec.ingress[0].ports[1].endPort: 70000 is out of "
			       "range 1-65535");
	free(s);
	s = mseg_diag_entry_format(&d.items[1]);
	assert_string_equal(s, "x.yaml: cannot read: nope");
	free(s);
	mseg_diag_free(&d);
	assert_int_equal(d.n, 0);
	mseg_diag_free(&d);
	mseg_diag_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_set_keeps_sorted_and_replaces),
	    cmocka_unit_test(test_unset),
	    cmocka_unit_test(test_copy_and_cmp),
	    cmocka_unit_test(test_key_rules),
	    cmocka_unit_test(test_value_and_name_rules),
	    cmocka_unit_test(test_parse_arg),
	    cmocka_unit_test(test_diag_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
