/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The reference evaluator: decides one flow directly from the policy documents, following the
 * decision procedure of DESIGN.md §4 step by step (admin tier, namespace tier with deny-wins
 * and isolation, baseline tier, default; audit mode). It never looks at the compiled table, so
 * it is the oracle the compiler and both datapath backends are tested against. Clarity over
 * speed.
 */
#ifndef MSEG_POLICY_EVALUATE_H
#define MSEG_POLICY_EVALUATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/compile.h"
#include "policy/model.h"

/* One end of a flow: an endpoint of the topology, or a bare address (ep == NULL). When ep is
 * set, ip is ignored and the endpoint's own address is used. */
struct mseg_flow_end {
	const struct mseg_endpoint *ep; /* NULL: bare address */
	struct mseg_cidr ip;
};

/* port: the L4 destination port for TCP/UDP/SCTP, (type << 8 | code) for ICMP. */
struct mseg_flow {
	struct mseg_flow_end src, dst;
	uint8_t proto;
	uint16_t port;
};

/* The decision at one end: egress at the source endpoint, ingress at the destination. */
struct mseg_side {
	bool applies;		/* false: that end is not a managed endpoint */
	uint8_t verdict, audit; /* enum mseg_verdict; audit as in compile.h */
	struct mseg_decider decided_by, audit_by;
	/* ids of every namespace-tier policy selecting the endpoint for this direction (the
	 * set S of the procedure), ascending; owned by the result */
	uint32_t *isolated_by;
	size_t n_isolated_by;
};

/* verdict: ALLOW iff every applicable side allows; audit: set when any side is audit. */
struct mseg_eval_result {
	uint8_t verdict, audit;
	struct mseg_side egress, ingress;
};

/*
 * Decides flow under set on topo. opts may be NULL (default allow). Fills *ret, which the
 * caller releases with mseg_eval_result_free(). Returns 0, -EINVAL on a malformed flow, or
 * -ENOMEM.
 */
int mseg_evaluate(const struct mseg_topology *topo, const struct mseg_policy_set *set,
		  const struct mseg_compile_opts *opts, const struct mseg_flow *flow,
		  struct mseg_eval_result *ret);
void mseg_eval_result_free(struct mseg_eval_result *r);

/* helper for tools: the namespace struct of that name (NULL if unknown) */
const struct mseg_namespace *mseg_topology_namespace(const struct mseg_topology *t,
						     const char *name);

#endif
