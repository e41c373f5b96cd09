// SPDX-License-Identifier: Apache-2.0
/*
 * events.list, events.follow, events.stats: the event pipeline (agent/events.h) over the
 * control socket. events.follow answers with the stored matches (like events.list) and then
 * keeps the connection: every later matching record follows as one JSON line until the
 * client closes.
 */
#include "agent/agent.h"
#include "agent/datapath_bpf.h"
#include "agent/datapath_nft.h"
#include "agent/events.h"
#include "agent/policies.h"

#include <errno.h>
#include <stdlib.h>

#include "lib/macro.h"

static struct mseg_events *events_of(void *ctx, struct mseg_op_error *e)
{
	struct mseg_agent *a = ctx;

	if (!a->events)
		mseg_op_error_set(e, -ENOTSUP, MSEG_ERR_INTERNAL,
				  "the event pipeline is not running");
	return a->events;
}

int mseg_op_events_list(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e)
{
	struct mseg_events *ev = events_of(ctx, e);
	struct mseg_events_filter *f = NULL;
	struct mseg_events_stats st;
	json_t *list = NULL;
	int r;

	if (!ev)
		return -ENOTSUP;
	r = mseg_events_filter_parse(args, &f, e);
	if (r < 0)
		return r;
	r = mseg_events_list(ev, f, &list);
	mseg_events_filter_free(f);
	if (r < 0)
		return r;
	mseg_events_stats_get(ev, &st);
	*result = json_pack("{s:o,s:o}", "events", list, "stats", mseg_events_stats_to_json(&st));
	return *result ? 0 : -ENOMEM;
}

int mseg_op_events_follow(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e)
{
	struct mseg_events *ev = events_of(ctx, e);
	struct mseg_events_filter *f = NULL;
	json_t *list = NULL;
	int r;

	if (!ev)
		return -ENOTSUP;
	r = mseg_events_filter_parse(args, &f, e);
	if (r < 0)
		return r;
	r = mseg_events_list(ev, f, &list);
	if (r == 0)
		r = mseg_events_follow(ev, f);
	if (r < 0) {
		json_decref(list);
		mseg_events_filter_free(f);
		return mseg_op_error_set(e, r, NULL, "cannot follow events");
	}
	*result = json_pack("{s:o,s:b}", "events", list, "following", 1);
	return *result ? 0 : -ENOMEM;
}

int mseg_op_events_stats(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e)
{
	struct mseg_events *ev = events_of(ctx, e);
	struct mseg_events_stats st;

	if (!ev)
		return -ENOTSUP;
	mseg_events_stats_get(ev, &st);
	*result = mseg_events_stats_to_json(&st);
	json_object_set_new(*result, "followers",
			    json_integer((json_int_t)mseg_events_followers(ev)));
	return *result ? 0 : -ENOMEM;
}

/*
 * policy.hits: packets and bytes each rule of each policy decided (and each policy's
 * isolation), from the bpf datapath's per-rule counters or the nft decision chains' named
 * counters; "counted": false when the datapath could not say.
 */
int mseg_op_policy_hits(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e)
{
	static const char *const dirs[2] = {"ingress", "egress"};
	struct mseg_agent *a = ctx;
	bool bpf = a->dp && a->dp_ops == &mseg_datapath_bpf;
	_cleanup_free_ struct mseg_nft_hit *hits = NULL;
	size_t n_hits = 0;
	json_t *list;

	/* nft: the decision chains' named counters, read once for all policies */
	if (a->dp && a->dp_ops == &mseg_datapath_nft &&
	    mseg_datapath_nft_hits_read(a->dp, &hits, &n_hits) == 0)
		bpf = true; /* counted */
	list = json_array();
	if (!list)
		return -ENOMEM;
	for (size_t i = 0; i < a->policies.n; i++) {
		const struct mseg_policy *p = &a->policies.v[i]->pol;
		size_t nrules[2] = {p->n_ingress_rules, p->n_egress_rules};
		json_t *rules = json_array();
		json_int_t total = 0;

		for (int d = 0; d < 2 && bpf; d++)
			for (size_t k = 0; k <= nrules[d]; k++) {
				struct mseg_decider dec = {
				    .kind =
					k < nrules[d] ? MSEG_DECIDED_RULE : MSEG_DECIDED_ISOLATION,
				    .policy = p->id,
				    .rule = (uint16_t)(k < nrules[d] ? k : 0),
				    .dir = (uint8_t)d};
				struct mseg_rule_ref ref;
				struct mseg_counter c = {0};

				mseg_bpf_rule_ref(&dec, &ref);
				if (a->dp_ops == &mseg_datapath_nft) {
					uint64_t pk, by;

					if (mseg_nft_hits_find(hits, n_hits, &dec, &pk, &by))
						c = (struct mseg_counter){.packets = pk,
									  .bytes = by};
				} else if (mseg_datapath_bpf_rule_hits(a->dp, &ref, &c) < 0)
					c = (struct mseg_counter){0}; /* never hit */
				if (k == nrules[d] && !c.packets)
					continue; /* isolation shown only when it dropped something
						   */
				json_array_append_new(
				    rules,
				    json_pack("{s:s,s:o,s:I,s:I}", "direction", dirs[d], "rule",
					      k < nrules[d] ? json_integer((json_int_t)k)
							    : json_string("isolation"),
					      "packets", (json_int_t)c.packets, "bytes",
					      (json_int_t)c.bytes));
				total += (json_int_t)c.packets;
			}
		json_array_append_new(list, json_pack("{s:I,s:s,s:s?,s:s,s:o,s:I}", "id",
						      (json_int_t)p->id, "kind",
						      mseg_policy_kind_name(p->kind), "namespace",
						      p->namespace, "name", p->name ? p->name : "",
						      "rules", rules, "packets", total));
	}
	*result = json_pack("{s:b,s:o}", "counted", bpf, "policies", list);
	(void)args;
	(void)e;
	return *result ? 0 : -ENOMEM;
}
