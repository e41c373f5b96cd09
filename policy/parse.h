/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Policy documents (YAML or JSON, several per file) into struct mseg_policy_set: the three
 * kinds of DESIGN.md §4 (NetworkPolicy, Policy, ClusterPolicy), fully validated. Errors name
 * file:line:col and the field path; every error of the input is reported, not just the first.
 */
#ifndef MSEG_POLICY_PARSE_H
#define MSEG_POLICY_PARSE_H

#include <stddef.h>

#include "policy/diag.h"
#include "policy/model.h"

/*
 * All-or-nothing: on any error returns -EINVAL, fills diag with every error found, and leaves
 * set unchanged. On success appends the policies, ids = position in set + 1. name is the file
 * name used in messages.
 */
int mseg_policy_parse_buffer(const char *name, const char *buf, size_t len,
			     struct mseg_policy_set *set, struct mseg_diag *diag);

/*
 * paths: files, directories (their *.yaml *.yml *.json, sorted) or "-" (stdin); all-or-nothing
 * across every path; duplicate (kind, namespace, name) is an error.
 */
int mseg_policy_load(char *const *paths, size_t n_paths, struct mseg_policy_set *set,
		     struct mseg_diag *diag);

#endif
