/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal to policy/: the decoding context shared by the policy documents (parse*.c) and the
 * endpoints file (topology.c). Decoders walk a node tree (parse_tree.h) and fill the model
 * structs; every problem becomes one diagnostic naming the field path and pointing at the
 * node, and decoding carries on so one pass reports every error. What a decoder allocates is
 * always owned by the struct it fills, so the caller frees that struct on any error.
 */
#ifndef MSEG_POLICY_PARSE_INTERNAL_H
#define MSEG_POLICY_PARSE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "policy/diag.h"
#include "policy/model.h"
#include "policy/parse_tree.h"

struct mseg_pctx {
	const char *file;
	struct mseg_diag *diag;
	char path[1024]; /* the field path of the node being decoded: "spec.ingress[0]" */
	size_t path_len;
	unsigned errors; /* diagnostics added through this context */
	int fatal;	 /* -ENOMEM once an allocation failed: stop and return it */
};

/* The flavour of document a rule, peer or port belongs to: which fields it may use. */
enum mseg_pflavor {
	MSEG_PFLAVOR_NETWORK_POLICY,
	MSEG_PFLAVOR_POLICY,
	MSEG_PFLAVOR_CLUSTER_POLICY,
};

void mseg_pctx_init(struct mseg_pctx *c, const char *file, struct mseg_diag *diag);
/* Appends ".field" (or "[i]") to the path; returns the old length for mseg_pctx_pop(). */
size_t mseg_pctx_push(struct mseg_pctx *c, const char *field);
size_t mseg_pctx_push_index(struct mseg_pctx *c, size_t i);
void mseg_pctx_pop(struct mseg_pctx *c, size_t old_len);

/* One diagnostic at node at (NULL: no position) for the current path. */
void mseg_pctx_error(struct mseg_pctx *c, const struct mseg_ynode *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Records an allocation failure (r < 0) and returns whether decoding must stop. */
bool mseg_pctx_fail(struct mseg_pctx *c, int r);

/*
 * node must be a map whose keys are strings, unique and among fields (a NULL-terminated list,
 * including fields that are accepted and ignored); unknown keys get a "did you mean" when a
 * valid name is within edit distance 2. Returns false (after reporting) when node is not a
 * map; unknown or duplicate keys are reported but the map is still decoded.
 */
bool mseg_pctx_check_map(struct mseg_pctx *c, const struct mseg_ynode *node,
			 const char *const *fields);
/* Reports "required field is missing" for map.key, pointing at the map. */
void mseg_pctx_missing(struct mseg_pctx *c, const struct mseg_ynode *map, const char *key,
		       const char *expected);
bool mseg_pctx_expect_seq(struct mseg_pctx *c, const struct mseg_ynode *node);
/* The string value of a scalar, or NULL after reporting that it is not a string. */
const char *mseg_pctx_string(struct mseg_pctx *c, const struct mseg_ynode *node);
/* An integer in [min, max]; false after reporting a non-number or an out-of-range value. */
bool mseg_pctx_int(struct mseg_pctx *c, const struct mseg_ynode *node, long long min, long long max,
		   long long *ret);
/* Index of the string value in names (NULL-terminated), or -1 after reporting. */
int mseg_pctx_enum(struct mseg_pctx *c, const struct mseg_ynode *node, const char *const *names);
/* strdup of a string node's value, NULL after reporting (type) or on ENOMEM (c->fatal). */
char *mseg_pctx_strdup(struct mseg_pctx *c, const struct mseg_ynode *node);

/* A map of label key -> value (matchLabels, metadata labels), validated. */
void mseg_pctx_labels(struct mseg_pctx *c, const struct mseg_ynode *node, struct mseg_labels *out);
/* A Kubernetes LabelSelector {matchLabels, matchExpressions}. */
void mseg_pctx_selector(struct mseg_pctx *c, const struct mseg_ynode *node,
			struct mseg_selector *out);
/* Kubernetes IANA_SVC_NAME: 1-15 of [a-z0-9-], a letter, no "--", no '-' at either end. */
bool mseg_port_name_valid(const char *name, const char **why);
/* Protocol names TCP, UDP, SCTP (and ICMP when allow_icmp) to MSEG_PROTO_*; -1 after reporting. */
int mseg_pctx_protocol(struct mseg_pctx *c, const struct mseg_ynode *node, bool allow_icmp);

/* The rules of one direction: spec.ingress (peers under "from") or spec.egress ("to"). */
void mseg_pctx_rules(struct mseg_pctx *c, const struct mseg_ynode *list, enum mseg_pflavor fl,
		     bool ingress, bool admin_tier, struct mseg_rule **rules, size_t *n_rules);

/* Orders the entries from start on by position, so a file's errors read top to bottom. */
void mseg_diag_sort_from(struct mseg_diag *d, size_t start);

/*
 * Reads a whole file ("-": standard input) into a malloc'd buffer (NUL-terminated, len
 * without it). Files above MSEG_PARSE_MAX_FILE are refused with -EFBIG.
 */
#define MSEG_PARSE_MAX_FILE (64u << 20)
int mseg_parse_read_file(const char *path, char **buf, size_t *len);

/* Edit distance, capped: returns cap + 1 once it is known to exceed cap. */
unsigned mseg_edit_distance(const char *a, const char *b, unsigned cap);

#endif
