// SPDX-License-Identifier: Apache-2.0
/* Label sets and the Kubernetes naming rules for keys, values and names. */
#include "policy/labels.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/macro.h"

/* Index of key if present (*found), else the index where it would be inserted. */
static size_t labels_find(const struct mseg_labels *l, const char *key, bool *found)
{
	size_t lo = 0, hi = l->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(l->items[mid].key, key);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

const char *mseg_labels_get(const struct mseg_labels *l, const char *key)
{
	bool found;
	size_t i;

	if (!l || !key)
		return NULL;
	i = labels_find(l, key, &found);
	return found ? l->items[i].value : NULL;
}

int mseg_labels_set(struct mseg_labels *l, const char *key, const char *value)
{
	_cleanup_free_ char *k = NULL;
	_cleanup_free_ char *v = NULL;
	struct mseg_label *items;
	bool found;
	size_t i;

	if (!l || !key || !value)
		return -EINVAL;
	v = strdup(value);
	if (!v)
		return -ENOMEM;
	i = labels_find(l, key, &found);
	if (found) {
		free(l->items[i].value);
		l->items[i].value = TAKE_PTR(v);
		return 0;
	}
	k = strdup(key);
	if (!k)
		return -ENOMEM;
	items = realloc(l->items, (l->n + 1) * sizeof(*items));
	if (!items)
		return -ENOMEM;
	l->items = items;
	memmove(&items[i + 1], &items[i], (l->n - i) * sizeof(*items));
	items[i].key = TAKE_PTR(k);
	items[i].value = TAKE_PTR(v);
	l->n++;
	return 0;
}

int mseg_labels_unset(struct mseg_labels *l, const char *key)
{
	bool found;
	size_t i;

	if (!l || !key)
		return -EINVAL;
	i = labels_find(l, key, &found);
	if (!found)
		return -ENOENT;
	free(l->items[i].key);
	free(l->items[i].value);
	memmove(&l->items[i], &l->items[i + 1], (l->n - i - 1) * sizeof(*l->items));
	l->n--;
	if (l->n == 0) {
		free(l->items);
		l->items = NULL;
	}
	return 0;
}

int mseg_labels_copy(struct mseg_labels *dst, const struct mseg_labels *src)
{
	struct mseg_labels out = {0};

	if (!dst || !src)
		return -EINVAL;
	if (src->n == 0) {
		*dst = out;
		return 0;
	}
	out.items = calloc(src->n, sizeof(*out.items));
	if (!out.items)
		return -ENOMEM;
	for (size_t i = 0; i < src->n; i++) {
		out.items[i].key = strdup(src->items[i].key);
		out.items[i].value = strdup(src->items[i].value);
		out.n = i + 1;
		if (!out.items[i].key || !out.items[i].value) {
			mseg_labels_free(&out);
			return -ENOMEM;
		}
	}
	*dst = out;
	return 0;
}

int mseg_labels_cmp(const struct mseg_labels *a, const struct mseg_labels *b)
{
	size_t n = a->n < b->n ? a->n : b->n;

	for (size_t i = 0; i < n; i++) {
		int c = strcmp(a->items[i].key, b->items[i].key);

		if (c)
			return c < 0 ? -1 : 1;
		c = strcmp(a->items[i].value, b->items[i].value);
		if (c)
			return c < 0 ? -1 : 1;
	}
	if (a->n != b->n)
		return a->n < b->n ? -1 : 1;
	return 0;
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/*
 * The "name" part of a qualified name (and a label value): [A-Za-z0-9._-], alnum at both ends.
 * part says which message set to use, so a key with a prefix names the part that is wrong.
 */
static int qualified_name_part_check(const char *s, size_t len, bool part, const char **why)
{
	if (len == 0) {
		*why = part ? "name part must not be empty" : "must not be empty";
		return -EINVAL;
	}
	if (len > 63) {
		*why = part ? "name part must be no more than 63 characters"
			    : "must be no more than 63 characters";
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!is_alnum(c) && c != '-' && c != '_' && c != '.') {
			*why = part ? "name part must consist of alphanumeric characters, '-', '_' "
				      "or '.'"
				    : "must consist of alphanumeric characters, '-', '_' or '.'";
			return -EINVAL;
		}
	}
	if (!is_alnum(s[0]) || !is_alnum(s[len - 1])) {
		*why = part ? "name part must start and end with an alphanumeric character"
			    : "must start and end with an alphanumeric character";
		return -EINVAL;
	}
	return 0;
}

/* One DNS-1123 label of len bytes: [a-z0-9-], alnum at both ends, 1..max. */
static int dns_label_check(const char *s, size_t len, size_t max, const char **why)
{
	if (len == 0) {
		*why = "must not be empty";
		return -EINVAL;
	}
	if (len > max) {
		*why = "must be no more than 63 characters";
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		if (!is_lower_alnum(s[i]) && s[i] != '-') {
			*why = "must consist of lower case alphanumeric characters or '-'";
			return -EINVAL;
		}
	}
	if (!is_lower_alnum(s[0]) || !is_lower_alnum(s[len - 1])) {
		*why = "must start and end with a lower case alphanumeric character";
		return -EINVAL;
	}
	return 0;
}

/* A DNS-1123 subdomain: dot-separated DNS-1123 labels, at most 253 in total. */
static int dns_subdomain_check(const char *s, size_t len, const char **why)
{
	size_t start = 0;

	if (len == 0) {
		*why = "prefix must not be empty";
		return -EINVAL;
	}
	if (len > 253) {
		*why = "prefix must be no more than 253 characters";
		return -EINVAL;
	}
	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != '.')
			continue;
		/* Kubernetes bounds only the whole subdomain, not each of its labels. */
		if (dns_label_check(s + start, i - start, len, why) < 0) {
			*why = "prefix must be a DNS-1123 subdomain (lower case alphanumeric "
			       "characters, '-' or '.', starting and ending alphanumeric)";
			return -EINVAL;
		}
		start = i + 1;
	}
	return 0;
}

int mseg_label_key_check(const char *key, const char **why)
{
	const char *dummy, *slash;
	int r;

	if (!why)
		why = &dummy;
	if (!key) {
		*why = "must not be empty";
		return -EINVAL;
	}
	slash = strchr(key, '/');
	if (slash) {
		if (strchr(slash + 1, '/')) {
			*why = "must be a name with an optional DNS subdomain prefix and '/' "
			       "(at most one '/')";
			return -EINVAL;
		}
		r = dns_subdomain_check(key, (size_t)(slash - key), why);
		if (r < 0)
			return r;
		key = slash + 1;
	}
	return qualified_name_part_check(key, strlen(key), slash != NULL, why);
}

int mseg_label_value_check(const char *value, const char **why)
{
	const char *dummy;

	if (!why)
		why = &dummy;
	if (!value) {
		*why = "must be a string";
		return -EINVAL;
	}
	if (value[0] == '\0')
		return 0;
	return qualified_name_part_check(value, strlen(value), false, why);
}

int mseg_name_check(const char *name, const char **why)
{
	const char *dummy;

	if (!why)
		why = &dummy;
	if (!name) {
		*why = "must not be empty";
		return -EINVAL;
	}
	return dns_label_check(name, strlen(name), 63, why);
}

int mseg_labels_parse_arg(const char *arg, char **key, char **value)
{
	_cleanup_free_ char *k = NULL;
	_cleanup_free_ char *v = NULL;
	const char *eq;

	if (!arg || !key || !value)
		return -EINVAL;
	eq = strchr(arg, '=');
	if (!eq)
		return -EINVAL;
	k = strndup(arg, (size_t)(eq - arg));
	v = strdup(eq + 1);
	if (!k || !v)
		return -ENOMEM;
	if (mseg_label_key_check(k, NULL) < 0 || mseg_label_value_check(v, NULL) < 0)
		return -EINVAL;
	*key = TAKE_PTR(k);
	*value = TAKE_PTR(v);
	return 0;
}

char *mseg_labels_format(const struct mseg_labels *l)
{
	size_t len = 1, off = 0;
	char *s;

	for (size_t i = 0; i < l->n; i++)
		len += strlen(l->items[i].key) + strlen(l->items[i].value) + 2;
	s = malloc(len);
	if (!s)
		return NULL;
	for (size_t i = 0; i < l->n; i++) {
		size_t kl = strlen(l->items[i].key), vl = strlen(l->items[i].value);

		if (i > 0)
			s[off++] = ',';
		memcpy(s + off, l->items[i].key, kl);
		off += kl;
		s[off++] = '=';
		memcpy(s + off, l->items[i].value, vl);
		off += vl;
	}
	s[off] = '\0';
	return s;
}
