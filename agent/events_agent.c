// SPDX-License-Identifier: Apache-2.0
/*
 * The pipeline inside msegd: the context enrichment reads, built from the agent's state for
 * each batch (a shallow view: nothing is copied but the arrays of structs), and the one call
 * the main loop makes when the datapath's event fd is readable.
 */
#include "agent/events.h"

#include <errno.h>
#include <stdlib.h>

#include "agent/agent.h"
#include "agent/policies.h"
#include "lib/macro.h"

int mseg_agent_events_ingest(struct mseg_agent *a)
{
	struct mseg_compile_opts opts = {.default_deny = a->cfg.default_deny};
	struct mseg_policy_set set = {0};
	struct mseg_topology topo = {0};
	struct mseg_events_context ctx = {.topo = &topo, .opts = &opts, .state = a->state};
	_cleanup_free_ struct mseg_namespace *nss = NULL;
	_cleanup_free_ struct mseg_endpoint *eps = NULL;
	size_t n = 0;
	int r;

	if (!a->events || !a->dp || !a->dp_ops)
		return 0;
	nss = calloc(a->state->n_namespaces + 1, sizeof(*nss));
	eps = calloc(a->state->n_endpoints + 1, sizeof(*eps));
	if (!nss || !eps)
		return -ENOMEM;
	for (size_t i = 0; i < a->state->n_namespaces; i++)
		nss[i] = a->state->namespaces[i];
	for (size_t i = 0; i < a->state->n_endpoints; i++)
		if (a->state->endpoints[i]->state == MSEG_EP_READY)
			eps[n++] = a->state->endpoints[i]->ep;
	topo = (struct mseg_topology){.namespaces = nss,
				      .n_namespaces = a->state->n_namespaces,
				      .endpoints = eps,
				      .n_endpoints = n};
	if (mseg_agent_policies_view(&a->policies, &set) == 0)
		ctx.policies = &set;
	r = mseg_events_ingest(a->events, &ctx, a->dp_ops, a->dp);
	free(set.policies); /* the view's array; the policies are the store's */
	return r;
}
