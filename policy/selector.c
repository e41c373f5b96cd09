// SPDX-License-Identifier: Apache-2.0
/* Kubernetes LabelSelector matching; see policy/selector.h. */
#include "policy/selector.h"

#include <string.h>

/* The value of key in l, or NULL. Label sets are small, so a linear scan is clearest and does
 * not depend on the set being sorted. */
static const char *labels_value(const struct mseg_labels *l, const char *key)
{
	if (!l)
		return NULL;
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->items[i].key, key) == 0)
			return l->items[i].value;
	return NULL;
}

static bool value_in(const struct mseg_selector_expr *e, const char *value)
{
	for (size_t i = 0; i < e->n_values; i++)
		if (strcmp(e->values[i], value) == 0)
			return true;
	return false;
}

static bool expr_matches(const struct mseg_selector_expr *e, const struct mseg_labels *labels)
{
	const char *v = labels_value(labels, e->key);

	switch (e->op) {
	case MSEG_SEL_IN:
		return v && value_in(e, v);
	case MSEG_SEL_NOT_IN:
		/* Kubernetes: NotIn also matches when the key is absent */
		return !v || !value_in(e, v);
	case MSEG_SEL_EXISTS:
		return v != NULL;
	case MSEG_SEL_DOES_NOT_EXIST:
		return v == NULL;
	}
	/* an operator we do not know selects nothing rather than everything (fail closed) */
	return false;
}

bool mseg_selector_matches(const struct mseg_selector *sel, const struct mseg_labels *labels)
{
	if (!sel)
		return true;
	for (size_t i = 0; i < sel->match_labels.n; i++) {
		const struct mseg_label *want = &sel->match_labels.items[i];
		const char *v = labels_value(labels, want->key);

		if (!v || strcmp(v, want->value) != 0)
			return false;
	}
	for (size_t i = 0; i < sel->n_exprs; i++)
		if (!expr_matches(&sel->exprs[i], labels))
			return false;
	return true;
}

bool mseg_selector_is_empty(const struct mseg_selector *sel)
{
	return !sel || (sel->match_labels.n == 0 && sel->n_exprs == 0);
}
