/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The policies in force on this node, kept as their source documents so that what people
 * applied is what the agent (and `mseg policy trace` on live state) parses:
 *
 *   policies.json  {"version": 1, "next_id": N,
 *                   "policies": [{"id", "file", "text", "index"}]}
 *
 * text is the YAML document of that one policy (blank lines in front keep the line numbers
 * of the applied file), or, when a file could not be cut into documents (a JSON list), the
 * whole file with index naming which of its policies this is. Ids are stable, persisted and
 * never reused: a policy keeps its id when reconfigured.
 */
#ifndef MSEG_AGENT_POLICIES_H
#define MSEG_AGENT_POLICIES_H

#include <jansson.h>
#include <stdint.h>

#include "policy/diag.h"
#include "policy/model.h"

/*
 * A record is immutable once it is in a set, and shared: the copy that
 * mseg_agent_policies_apply() builds holds references to the unchanged records instead of
 * parsing their text again (10,000 rules of YAML cost far more than a pointer). refs counts the
 * sets holding it; mseg_agent_policies_free()/_remove() drop one reference each. serial is
 * unique per parsed record in this process: the reconciler compares serials to know which
 * policies changed without digesting them.
 */
struct mseg_agent_policy {
	uint32_t id;
	char *file;
	char *text;
	unsigned index;
	struct mseg_policy pol; /* parsed from text; pol.id == id */
	unsigned refs;
	uint64_t serial;
};

struct mseg_agent_policies {
	struct mseg_agent_policy **v;
	size_t n;
	uint32_t next_id;
};

/* One document of an apply request. */
struct mseg_policy_doc {
	const char *name;
	const char *text;
	size_t len;
};

enum mseg_apply_action {
	MSEG_APPLY_CREATED,
	MSEG_APPLY_CONFIGURED,
	MSEG_APPLY_UNCHANGED,
};

struct mseg_apply_result {
	enum mseg_policy_kind kind;
	char *namespace; /* NULL for ClusterPolicy */
	char *name;
	uint32_t id;
	enum mseg_apply_action action;
};

int mseg_agent_policies_load(const char *dir, struct mseg_agent_policies *ps, char *why);
int mseg_agent_policies_save(const char *dir, const struct mseg_agent_policies *ps);
void mseg_agent_policies_free(struct mseg_agent_policies *ps);

/*
 * Parses every document; only if all are valid (and no (kind, namespace, name) appears
 * twice) builds in *next a copy of ps with the policies added or replaced. On error diag holds
 * every located error and -EINVAL is returned. results[] says what happened to each policy.
 */
int mseg_agent_policies_apply(const struct mseg_agent_policies *ps,
			      const struct mseg_policy_doc *docs, size_t n_docs,
			      struct mseg_agent_policies *next, struct mseg_apply_result **results,
			      size_t *n_results, struct mseg_diag *diag);
void mseg_apply_results_free(struct mseg_apply_result *r, size_t n);
/* Removes (and frees) the policy at index i. */
void mseg_agent_policies_remove(struct mseg_agent_policies *ps, size_t i);

/* A shallow view for the compiler/evaluator: the array is malloc'd, the policies borrowed. */
int mseg_agent_policies_view(const struct mseg_agent_policies *ps, struct mseg_policy_set *ret);

const char *mseg_policy_kind_name(enum mseg_policy_kind kind);
/* "networkpolicy", "policy", "clusterpolicy" (case-insensitive, kubectl style) */
int mseg_policy_kind_parse(const char *s, enum mseg_policy_kind *ret);

#endif
