// SPDX-License-Identifier: Apache-2.0
/* Kubernetes LabelSelector semantics: matchLabels AND matchExpressions, empty selects all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "policy/selector.h"

/* labels sorted by key, as the model requires */
static struct mseg_label web_items[] = {{"app", "web"}, {"env", "prod"}, {"tier", "front"}};
static const struct mseg_labels web = {web_items, 3};
static struct mseg_label db_items[] = {{"app", "db"}, {"env", "dev"}};
static const struct mseg_labels db = {db_items, 2};
static const struct mseg_labels none = {NULL, 0};

static struct mseg_selector expr_sel(const char *key, enum mseg_selector_op op, char **values,
				     size_t n_values, struct mseg_selector_expr *storage)
{
	storage->key = (char *)key;
	storage->op = op;
	storage->values = values;
	storage->n_values = n_values;
	return (struct mseg_selector){.exprs = storage, .n_exprs = 1};
}

static void test_empty_selects_everything(void **state)
{
	struct mseg_selector empty = {0};

	(void)state;
	assert_true(mseg_selector_is_empty(&empty));
	assert_true(mseg_selector_matches(&empty, &web));
	assert_true(mseg_selector_matches(&empty, &none));
}

static void test_match_labels_all_pairs_must_match(void **state)
{
	struct mseg_label one[] = {{"app", "web"}};
	struct mseg_label two[] = {{"app", "web"}, {"env", "dev"}};
	struct mseg_selector s1 = {.match_labels = {one, 1}};
	struct mseg_selector s2 = {.match_labels = {two, 2}};

	(void)state;
	assert_false(mseg_selector_is_empty(&s1));
	assert_true(mseg_selector_matches(&s1, &web));
	assert_false(mseg_selector_matches(&s1, &db));
	assert_false(mseg_selector_matches(&s1, &none));
	/* app matches but env does not: AND, not OR */
	assert_false(mseg_selector_matches(&s2, &web));
	assert_false(mseg_selector_matches(&s2, &db));
}

static void test_value_must_be_equal_not_prefix(void **state)
{
	struct mseg_label pre[] = {{"app", "we"}};
	struct mseg_selector s = {.match_labels = {pre, 1}};

	(void)state;
	assert_false(mseg_selector_matches(&s, &web));
}

static void test_in(void **state)
{
	char *vals[] = {"web", "api"};
	struct mseg_selector_expr e;
	struct mseg_selector s = expr_sel("app", MSEG_SEL_IN, vals, 2, &e);

	(void)state;
	assert_false(mseg_selector_is_empty(&s));
	assert_true(mseg_selector_matches(&s, &web));
	assert_false(mseg_selector_matches(&s, &db));
	/* In needs the key */
	assert_false(mseg_selector_matches(&s, &none));
}

static void test_not_in_matches_absent_key(void **state)
{
	char *vals[] = {"web"};
	struct mseg_selector_expr e;
	struct mseg_selector s = expr_sel("app", MSEG_SEL_NOT_IN, vals, 1, &e);

	(void)state;
	assert_false(mseg_selector_matches(&s, &web));
	assert_true(mseg_selector_matches(&s, &db));
	assert_true(mseg_selector_matches(&s, &none));
}

static void test_exists_and_does_not_exist(void **state)
{
	struct mseg_selector_expr e1, e2;
	struct mseg_selector ex = expr_sel("tier", MSEG_SEL_EXISTS, NULL, 0, &e1);
	struct mseg_selector dne = expr_sel("tier", MSEG_SEL_DOES_NOT_EXIST, NULL, 0, &e2);

	(void)state;
	assert_true(mseg_selector_matches(&ex, &web));
	assert_false(mseg_selector_matches(&ex, &db));
	assert_false(mseg_selector_matches(&dne, &web));
	assert_true(mseg_selector_matches(&dne, &db));
	assert_true(mseg_selector_matches(&dne, &none));
}

static void test_labels_and_expressions_combine_with_and(void **state)
{
	struct mseg_label env[] = {{"env", "prod"}};
	char *vals[] = {"db"};
	struct mseg_selector_expr e = {"app", MSEG_SEL_NOT_IN, vals, 1};
	struct mseg_selector s = {.match_labels = {env, 1}, .exprs = &e, .n_exprs = 1};
	struct mseg_label prod_db_items[] = {{"app", "db"}, {"env", "prod"}};
	struct mseg_labels prod_db = {prod_db_items, 2};

	(void)state;
	assert_true(mseg_selector_matches(&s, &web));	   /* env=prod, app=web */
	assert_false(mseg_selector_matches(&s, &db));	   /* env=dev */
	assert_false(mseg_selector_matches(&s, &prod_db)); /* app=db excluded */
}

static void test_empty_value_label(void **state)
{
	struct mseg_label want[] = {{"flag", ""}};
	struct mseg_selector s = {.match_labels = {want, 1}};
	struct mseg_label has_items[] = {{"flag", ""}};
	struct mseg_labels has = {has_items, 1};

	(void)state;
	assert_true(mseg_selector_matches(&s, &has));
	assert_false(mseg_selector_matches(&s, &none));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty_selects_everything),
	    cmocka_unit_test(test_match_labels_all_pairs_must_match),
	    cmocka_unit_test(test_value_must_be_equal_not_prefix),
	    cmocka_unit_test(test_in),
	    cmocka_unit_test(test_not_in_matches_absent_key),
	    cmocka_unit_test(test_exists_and_does_not_exist),
	    cmocka_unit_test(test_labels_and_expressions_combine_with_and),
	    cmocka_unit_test(test_empty_value_label),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
