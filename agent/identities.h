/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Stable identities across agent restarts: every (label set -> identity) pair the compiler
 * hands out is recorded in <state-dir>/identities.json and pinned again with
 * mseg_identities_put() on start, so an endpoint keeps its number and pinned maps / the nft
 * table stay valid while the agent restarts.
 *
 *   identities.json  {"version": 1, "identities": [{"id": 256, "labels": {...}}]}
 *
 * The label set of an endpoint's identity is composed exactly as policy/compile_classes.c
 * does (endpoint labels, io.mseg.namespace, io.mseg.namespace.labels.*, io.mseg.port.*);
 * tests/unit/agent/test_reconcile_identities.c fails if the two ever disagree.
 */
#ifndef MSEG_AGENT_IDENTITIES_H
#define MSEG_AGENT_IDENTITIES_H

#include <jansson.h>
#include <stdint.h>

#include "policy/compile.h"

/* The identity label set of ep in a namespace with ns_labels, into ret (must start empty). */
int mseg_agent_identity_labels(const struct mseg_endpoint *ep, const struct mseg_labels *ns_labels,
			       struct mseg_labels *ret);

/* The records as loaded from / written to identities.json. */
struct mseg_agent_identities {
	struct mseg_agent_identity {
		uint32_t id;
		struct mseg_labels labels;
	} * items;
	size_t n;
};

/*
 * Loads DIR/identities.json (absent: empty) and pins every pair into ids. A corrupt file or a
 * pair that conflicts is -EBADMSG with why (MSEG_STORE_WHY_LEN bytes) saying which.
 */
int mseg_agent_identities_load(const char *dir, struct mseg_agent_identities *rec,
			       struct mseg_identities *ids, char *why);
/*
 * Records (labels, id) unless already known; *added tells whether the caller must save.
 */
int mseg_agent_identities_record(struct mseg_agent_identities *rec, const struct mseg_labels *l,
				 uint32_t id, bool *added);
int mseg_agent_identities_save(const char *dir, const struct mseg_agent_identities *rec);
const struct mseg_agent_identity *
mseg_agent_identities_find(const struct mseg_agent_identities *rec, uint32_t id);
void mseg_agent_identities_free(struct mseg_agent_identities *rec);

#endif
