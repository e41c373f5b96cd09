/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Label sets (struct mseg_labels, policy/model.h) and the Kubernetes rules for label keys,
 * label values and object names. A label set is kept sorted by key with unique keys, so two
 * equal sets are equal item by item and mseg_labels_cmp() is a total order.
 */
#ifndef MSEG_POLICY_LABELS_H
#define MSEG_POLICY_LABELS_H

#include "policy/model.h"

/* The value of key, or NULL if absent. */
const char *mseg_labels_get(const struct mseg_labels *l, const char *key);
/* Copies key and value; keeps the set sorted; replaces the value of an existing key. */
int mseg_labels_set(struct mseg_labels *l, const char *key, const char *value);
/* -ENOENT if key is absent. */
int mseg_labels_unset(struct mseg_labels *l, const char *key);
/* dst must start empty; on failure dst stays empty. */
int mseg_labels_copy(struct mseg_labels *dst, const struct mseg_labels *src);
/* A total order: by keys and values item by item, then by size. 0 iff equal. */
int mseg_labels_cmp(const struct mseg_labels *a, const struct mseg_labels *b);

/*
 * Kubernetes rules. A key is an optional DNS-1123 subdomain prefix (<= 253) plus "/", then a
 * name of at most 63 characters of [A-Za-z0-9._-] starting and ending alphanumeric. A value is
 * empty or a name by the same rule. On failure: -EINVAL and *why (a static string) says what
 * is expected.
 */
int mseg_label_key_check(const char *key, const char **why);
int mseg_label_value_check(const char *value, const char **why);
/* A DNS-1123 label: [a-z0-9-], at most 63, starting and ending alphanumeric. */
int mseg_name_check(const char *name, const char **why);

/* Splits a CLI "key=value" into two malloc'd strings (both checked); -EINVAL if malformed. */
int mseg_labels_parse_arg(const char *arg, char **key, char **value);
/* "a=b,c=d" (sorted by key), "" for an empty set; malloc'd, NULL on allocation failure. */
char *mseg_labels_format(const struct mseg_labels *l);

#endif
