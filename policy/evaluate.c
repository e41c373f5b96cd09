// SPDX-License-Identifier: Apache-2.0
/*
 * The reference evaluator (policy/evaluate.h): the decision procedure of DESIGN.md §4 written
 * out literally, one function per step, so that a reader can check it against the text. It
 * deliberately shares nothing with the compiler beyond the data model and the selector
 * matcher: it is the oracle the compiler and the datapath backends are compared with.
 */
#include "policy/evaluate.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy/cidr.h"
#include "policy/selector.h"

#define NS_NAME_LABEL "kubernetes.io/metadata.name"

/* Everything one side's decision looks at. */
struct side_ctx {
	const struct mseg_topology *topo;
	const struct mseg_policy_set *set;
	const struct mseg_compile_opts *opts;
	const struct mseg_flow *flow;
	enum mseg_dir dir;
	const struct mseg_endpoint *ep;	    /* E: where the side is decided */
	const struct mseg_flow_end *remote; /* R */
	bool count_audit;		    /* V_all: audit-mode policies count as enforcing */
};

/* One side's outcome under one of the two audit views. */
struct side_outcome {
	uint8_t verdict;
	struct mseg_decider by;
	uint32_t *s_ids; /* the set S of the namespace tier, ascending by id */
	size_t n_s;
};

const struct mseg_namespace *mseg_topology_namespace(const struct mseg_topology *t,
						     const char *name)
{
	if (!t || !name)
		return NULL;
	for (size_t i = 0; i < t->n_namespaces; i++)
		if (strcmp(t->namespaces[i].name, name) == 0)
			return &t->namespaces[i];
	return NULL;
}

/*
 * The labels of an endpoint's namespace. A namespace the topology does not list still exists
 * with only its automatic label (DESIGN.md §3), which the caller's scratch space provides.
 */
static const struct mseg_labels *namespace_labels(const struct mseg_topology *t, const char *name,
						  struct mseg_label *scratch_item,
						  struct mseg_labels *scratch)
{
	const struct mseg_namespace *ns = mseg_topology_namespace(t, name);

	if (ns)
		return &ns->labels;
	scratch_item->key = (char *)NS_NAME_LABEL;
	scratch_item->value = (char *)name;
	scratch->items = scratch_item;
	scratch->n = 1;
	return scratch;
}

static bool policy_counts(const struct side_ctx *c, const struct mseg_policy *p)
{
	return c->count_audit || p->mode != MSEG_MODE_AUDIT;
}

static const struct mseg_rule *policy_rules(const struct mseg_policy *p, enum mseg_dir dir,
					    size_t *n)
{
	if (dir == MSEG_DIR_INGRESS) {
		*n = p->n_ingress_rules;
		return p->ingress_rules;
	}
	*n = p->n_egress_rules;
	return p->egress_rules;
}

static bool policy_has_dir(const struct mseg_policy *p, enum mseg_dir dir)
{
	return dir == MSEG_DIR_INGRESS ? p->ingress : p->egress;
}

/* ---- rule matching ------------------------------------------------------------------- */

static struct mseg_cidr end_address(const struct mseg_flow_end *end)
{
	return end->ep ? end->ep->ip : end->ip;
}

static bool ipblock_matches(const struct mseg_ipblock *b, const struct mseg_flow_end *r)
{
	struct mseg_cidr addr = end_address(r);

	if (addr.family != b->cidr.family || !mseg_cidr_contains(&b->cidr, &addr))
		return false;
	for (size_t i = 0; i < b->n_except; i++)
		if (b->except[i].family == addr.family && mseg_cidr_contains(&b->except[i], &addr))
			return false;
	return true;
}

static bool peer_matches(const struct side_ctx *c, const struct mseg_policy *p,
			 const struct mseg_peer *peer)
{
	const struct mseg_endpoint *r = c->remote->ep;

	if (peer->kind == MSEG_PEER_IPBLOCK)
		return ipblock_matches(&peer->ipblock, c->remote);

	/* an endpoints peer never selects a bare address */
	if (!r)
		return false;
	if (peer->has_ns_sel) {
		struct mseg_label item;
		struct mseg_labels scratch;
		const struct mseg_labels *nsl =
		    namespace_labels(c->topo, r->namespace, &item, &scratch);

		if (!mseg_selector_matches(&peer->ns_sel, nsl))
			return false;
	} else if (p->kind != MSEG_KIND_CLUSTER_POLICY) {
		/* a namespaced policy's podSelector-only peer stays in its own namespace */
		if (!p->namespace || strcmp(p->namespace, r->namespace) != 0)
			return false;
	}
	if (peer->has_ep_sel && !mseg_selector_matches(&peer->ep_sel, &r->labels))
		return false;
	return true;
}

/* The endpoint a named port is resolved against: the flow's destination, which is E on
 * ingress and R on egress (NULL when R is a bare address: a named port cannot match it). */
static const struct mseg_endpoint *named_port_owner(const struct side_ctx *c)
{
	return c->dir == MSEG_DIR_INGRESS ? c->ep : c->remote->ep;
}

static bool port_matches(const struct side_ctx *c, const struct mseg_port *q)
{
	uint8_t proto = c->flow->proto;
	uint16_t n = c->flow->port;

	if (q->proto != proto)
		return false;
	if (proto == MSEG_PROTO_ICMP) {
		int type = n >> 8, code = n & 0xff;

		return (q->icmp_type < 0 || q->icmp_type == type) &&
		       (q->icmp_code < 0 || q->icmp_code == code);
	}
	if (q->has_port)
		return q->port <= n && n <= q->end_port;
	if (q->named_port) {
		const struct mseg_endpoint *owner = named_port_owner(c);

		if (!owner)
			return false;
		for (size_t i = 0; i < owner->n_ports; i++) {
			const struct mseg_named_port *np = &owner->ports[i];

			if (np->proto == proto && strcmp(np->name, q->named_port) == 0)
				return np->port == n;
		}
		return false;
	}
	return true; /* only a protocol: every port of it */
}

static bool rule_matches(const struct side_ctx *c, const struct mseg_policy *p,
			 const struct mseg_rule *rule)
{
	bool peer_ok = rule->n_peers == 0, port_ok = rule->n_ports == 0;

	for (size_t i = 0; !peer_ok && i < rule->n_peers; i++)
		peer_ok = peer_matches(c, p, &rule->peers[i]);
	if (!peer_ok)
		return false;
	for (size_t i = 0; !port_ok && i < rule->n_ports; i++)
		port_ok = port_matches(c, &rule->ports[i]);
	return port_ok;
}

static struct mseg_decider rule_decider(const struct side_ctx *c, const struct mseg_policy *p,
					size_t rule_index)
{
	return (struct mseg_decider){
	    .kind = MSEG_DECIDED_RULE,
	    .policy = p->id,
	    .rule = (uint16_t)rule_index,
	    .dir = (uint8_t)c->dir,
	};
}

/* ---- the tiers ----------------------------------------------------------------------- */

enum tier_result {
	TIER_NO_MATCH, /* go on to the next step */
	TIER_DECIDED,
	TIER_PASS, /* admin "pass": skip the rest of the admin tier */
};

static bool cluster_subject_selects(const struct side_ctx *c, const struct mseg_policy *p)
{
	if (p->has_subject_ns) {
		struct mseg_label item;
		struct mseg_labels scratch;
		const struct mseg_labels *nsl =
		    namespace_labels(c->topo, c->ep->namespace, &item, &scratch);

		if (!mseg_selector_matches(&p->subject_ns, nsl))
			return false;
	}
	if (p->has_subject_ep && !mseg_selector_matches(&p->subject_ep, &c->ep->labels))
		return false;
	return true;
}

static int cmp_priority_id(const void *a, const void *b)
{
	const struct mseg_policy *pa = *(const struct mseg_policy *const *)a;
	const struct mseg_policy *pb = *(const struct mseg_policy *const *)b;

	if (pa->priority != pb->priority)
		return pa->priority < pb->priority ? -1 : 1;
	return pa->id < pb->id ? -1 : pa->id > pb->id;
}

/*
 * Steps 1 and 3: the ClusterPolicies of one tier selecting E with rules for the direction, by
 * (priority, id); the first matching rule decides. A "pass" ends the tier (in the baseline
 * tier there is nothing below but the default, so it falls through to it).
 */
static int cluster_tier(const struct side_ctx *c, enum mseg_tier tier, struct side_outcome *out,
			enum tier_result *res)
{
	const struct mseg_policy **sel;
	size_t n = 0;

	*res = TIER_NO_MATCH;
	sel = calloc(c->set->n_policies ? c->set->n_policies : 1, sizeof(*sel));
	if (!sel)
		return -ENOMEM;
	for (size_t i = 0; i < c->set->n_policies; i++) {
		const struct mseg_policy *p = &c->set->policies[i];

		if (p->kind != MSEG_KIND_CLUSTER_POLICY || p->tier != tier ||
		    !policy_has_dir(p, c->dir) || !policy_counts(c, p) ||
		    !cluster_subject_selects(c, p))
			continue;
		sel[n++] = p;
	}
	qsort(sel, n, sizeof(*sel), cmp_priority_id);

	for (size_t i = 0; i < n && *res == TIER_NO_MATCH; i++) {
		size_t n_rules;
		const struct mseg_rule *rules = policy_rules(sel[i], c->dir, &n_rules);

		for (size_t j = 0; j < n_rules; j++) {
			if (!rule_matches(c, sel[i], &rules[j]))
				continue;
			if (rules[j].action == MSEG_ACTION_PASS) {
				*res = TIER_PASS;
			} else {
				*res = TIER_DECIDED;
				out->verdict = rules[j].action == MSEG_ACTION_ALLOW
						   ? MSEG_VERDICT_ALLOW
						   : MSEG_VERDICT_DENY;
				out->by = rule_decider(c, sel[i], j);
			}
			break;
		}
	}
	free(sel);
	return 0;
}

static bool namespace_selects(const struct side_ctx *c, const struct mseg_policy *p)
{
	if (p->kind != MSEG_KIND_NETWORK_POLICY && p->kind != MSEG_KIND_POLICY)
		return false;
	if (!p->namespace || strcmp(p->namespace, c->ep->namespace) != 0)
		return false;
	if (!policy_has_dir(p, c->dir) || !policy_counts(c, p))
		return false;
	return !p->has_subject_ep || mseg_selector_matches(&p->subject_ep, &c->ep->labels);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static const struct mseg_policy *policy_by_id(const struct mseg_policy_set *set, uint32_t id)
{
	for (size_t i = 0; i < set->n_policies; i++)
		if (set->policies[i].id == id)
			return &set->policies[i];
	return NULL;
}

/*
 * The first rule with the given action matching the flow, among the policies of S taken by
 * (policy id, rule index).
 */
static bool first_in_s(const struct side_ctx *c, const struct side_outcome *out,
		       enum mseg_action action, struct mseg_decider *by)
{
	for (size_t i = 0; i < out->n_s; i++) {
		const struct mseg_policy *p = policy_by_id(c->set, out->s_ids[i]);
		size_t n_rules;
		const struct mseg_rule *rules = policy_rules(p, c->dir, &n_rules);

		for (size_t j = 0; j < n_rules; j++)
			if (rules[j].action == action && rule_matches(c, p, &rules[j])) {
				*by = rule_decider(c, p, j);
				return true;
			}
	}
	return false;
}

/* Step 2: NetworkPolicies and Policies of E's namespace selecting E for the direction. */
static int namespace_tier(const struct side_ctx *c, struct side_outcome *out, enum tier_result *res)
{
	*res = TIER_NO_MATCH;
	out->s_ids = calloc(c->set->n_policies ? c->set->n_policies : 1, sizeof(uint32_t));
	if (!out->s_ids)
		return -ENOMEM;
	for (size_t i = 0; i < c->set->n_policies; i++)
		if (namespace_selects(c, &c->set->policies[i]))
			out->s_ids[out->n_s++] = c->set->policies[i].id;
	if (out->n_s == 0)
		return 0;
	qsort(out->s_ids, out->n_s, sizeof(uint32_t), cmp_u32);

	*res = TIER_DECIDED;
	if (first_in_s(c, out, MSEG_ACTION_DENY, &out->by)) {
		out->verdict = MSEG_VERDICT_DENY;
	} else if (first_in_s(c, out, MSEG_ACTION_ALLOW, &out->by)) {
		out->verdict = MSEG_VERDICT_ALLOW;
	} else {
		out->verdict = MSEG_VERDICT_DENY;
		out->by = (struct mseg_decider){
		    .kind = MSEG_DECIDED_ISOLATION,
		    .policy = out->s_ids[0],
		    .dir = (uint8_t)c->dir,
		};
	}
	return 0;
}

/* The whole procedure for one side under one audit view. */
static int decide_side(const struct side_ctx *c, struct side_outcome *out)
{
	enum tier_result res;
	int r;

	*out = (struct side_outcome){0};

	r = cluster_tier(c, MSEG_TIER_ADMIN, out, &res);
	if (r < 0 || res == TIER_DECIDED)
		return r;

	r = namespace_tier(c, out, &res);
	if (r < 0 || res == TIER_DECIDED)
		return r;

	r = cluster_tier(c, MSEG_TIER_BASELINE, out, &res);
	if (r < 0 || res == TIER_DECIDED)
		return r;

	out->verdict = c->opts && c->opts->default_deny ? MSEG_VERDICT_DENY : MSEG_VERDICT_ALLOW;
	out->by = (struct mseg_decider){.kind = MSEG_DECIDED_DEFAULT, .dir = (uint8_t)c->dir};
	return 0;
}

/* V_real (audit policies removed) decides; V_all (audit counted) only raises the audit flag. */
static int evaluate_side(struct side_ctx *c, struct mseg_side *side)
{
	struct side_outcome real, all;
	int r;

	*side = (struct mseg_side){0};
	if (!c->ep) {
		side->applies = false;
		side->verdict = MSEG_VERDICT_ALLOW;
		side->decided_by =
		    (struct mseg_decider){.kind = MSEG_DECIDED_DEFAULT, .dir = (uint8_t)c->dir};
		side->audit_by = side->decided_by;
		return 0;
	}

	c->count_audit = false;
	r = decide_side(c, &real);
	if (r < 0) {
		free(real.s_ids);
		return r;
	}
	c->count_audit = true;
	r = decide_side(c, &all);
	free(all.s_ids);
	if (r < 0) {
		free(real.s_ids);
		return r;
	}

	side->applies = true;
	side->verdict = real.verdict;
	side->decided_by = real.by;
	side->audit = real.verdict == MSEG_VERDICT_ALLOW && all.verdict == MSEG_VERDICT_DENY;
	side->audit_by = all.by;
	if (real.n_s > 0) {
		side->isolated_by = real.s_ids;
		side->n_isolated_by = real.n_s;
	} else {
		free(real.s_ids);
	}
	return 0;
}

static bool end_valid(const struct mseg_flow_end *e)
{
	return e->ep || e->ip.family == MSEG_AF_INET;
}

int mseg_evaluate(const struct mseg_topology *topo, const struct mseg_policy_set *set,
		  const struct mseg_compile_opts *opts, const struct mseg_flow *flow,
		  struct mseg_eval_result *ret)
{
	static const struct mseg_policy_set no_policies;
	struct mseg_eval_result res = {0};
	struct side_ctx c;
	int r;

	if (!topo || !flow || !ret || flow->proto == MSEG_PROTO_ANY || !end_valid(&flow->src) ||
	    !end_valid(&flow->dst))
		return -EINVAL;
	if (!set)
		set = &no_policies;

	c = (struct side_ctx){.topo = topo, .set = set, .opts = opts, .flow = flow};

	c.dir = MSEG_DIR_EGRESS;
	c.ep = flow->src.ep;
	c.remote = &flow->dst;
	r = evaluate_side(&c, &res.egress);
	if (r < 0)
		return r;

	c.dir = MSEG_DIR_INGRESS;
	c.ep = flow->dst.ep;
	c.remote = &flow->src;
	r = evaluate_side(&c, &res.ingress);
	if (r < 0) {
		mseg_eval_result_free(&res);
		return r;
	}

	res.verdict =
	    res.egress.verdict == MSEG_VERDICT_ALLOW && res.ingress.verdict == MSEG_VERDICT_ALLOW
		? MSEG_VERDICT_ALLOW
		: MSEG_VERDICT_DENY;
	/* the flow passes but would be dropped if the audit policies were enforced */
	res.audit = res.verdict == MSEG_VERDICT_ALLOW && (res.egress.audit || res.ingress.audit);
	*ret = res;
	return 0;
}

void mseg_eval_result_free(struct mseg_eval_result *r)
{
	if (!r)
		return;
	free(r->egress.isolated_by);
	free(r->ingress.isolated_by);
	r->egress.isolated_by = r->ingress.isolated_by = NULL;
	r->egress.n_isolated_by = r->ingress.n_isolated_by = 0;
}
