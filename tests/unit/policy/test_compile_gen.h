/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A seeded generator of random topologies, policy sets and flows for the compiler tests (the
 * property test and the incremental-update test). Everything is built with malloc'd members
 * so the model destructors free it. Small vocabularies make collisions (equal identities,
 * overlapping selectors, nested prefixes) frequent, which is where bugs live.
 */
#ifndef MSEG_TEST_COMPILE_GEN_H
#define MSEG_TEST_COMPILE_GEN_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/cidr.h"
#include "policy/evaluate.h"
#include "policy/labels.h"
#include "policy/model.h"

struct gen {
	uint64_t s;
};

static inline uint32_t gen_u32(struct gen *g)
{
	g->s ^= g->s << 13;
	g->s ^= g->s >> 7;
	g->s ^= g->s << 17;
	return (uint32_t)(g->s >> 11);
}

static inline uint32_t gen_below(struct gen *g, uint32_t n)
{
	return gen_u32(g) % n;
}

static inline bool gen_chance(struct gen *g, uint32_t pct)
{
	return gen_below(g, 100) < pct;
}

static inline char *gen_strdup(const char *s)
{
	char *d = strdup(s);

	if (!d)
		abort();
	return d;
}

static const char *const gen_keys[] = {"app", "tier", "team"};
static const char *const gen_vals[] = {"a", "b", "c"};
static const char *const gen_port_names[] = {"http", "dns", "web"};

static inline void gen_labels(struct gen *g, struct mseg_labels *l, unsigned pct)
{
	for (size_t k = 0; k < 3; k++)
		if (gen_chance(g, pct))
			mseg_labels_set(l, gen_keys[k], gen_vals[gen_below(g, 3)]);
}

static inline void gen_selector(struct gen *g, struct mseg_selector *s, bool ns)
{
	if (gen_chance(g, 50)) {
		if (ns && gen_chance(g, 30)) {
			char name[8];

			snprintf(name, sizeof(name), "n%u", gen_below(g, 4));
			mseg_labels_set(&s->match_labels, "kubernetes.io/metadata.name", name);
		} else {
			mseg_labels_set(&s->match_labels, gen_keys[gen_below(g, 3)],
					gen_vals[gen_below(g, 3)]);
		}
	}
	if (gen_chance(g, 40)) {
		struct mseg_selector_expr *e;

		s->exprs = calloc(1, sizeof(*s->exprs));
		e = &s->exprs[0];
		s->n_exprs = 1;
		e->key = gen_strdup(gen_keys[gen_below(g, 3)]);
		e->op = (enum mseg_selector_op)gen_below(g, 4);
		if (e->op == MSEG_SEL_IN || e->op == MSEG_SEL_NOT_IN) {
			e->n_values = 1 + gen_below(g, 2);
			e->values = calloc(e->n_values, sizeof(char *));
			for (size_t i = 0; i < e->n_values; i++)
				e->values[i] = gen_strdup(gen_vals[gen_below(g, 3)]);
		}
	}
}

static inline struct mseg_cidr gen_v4(unsigned a, unsigned b, unsigned c, unsigned d, unsigned len)
{
	return mseg_cidr_from_v4(a << 24 | b << 16 | c << 8 | d, len);
}

/* An ipBlock over the pod range 10.200.0.0/24, excepts nested inside it. */
static inline void gen_ipblock(struct gen *g, const struct mseg_topology *t, struct mseg_ipblock *b)
{
	static const unsigned lens[] = {0, 16, 24, 25, 26, 28, 32};
	unsigned len = lens[gen_below(g, 7)];
	unsigned host = gen_below(g, 256);

	if (len == 32 && t->n_endpoints && gen_chance(g, 60))
		host = mseg_cidr_v4(&t->endpoints[gen_below(g, t->n_endpoints)].ip) & 0xff;
	b->cidr =
	    mseg_cidr_from_v4((10u << 24 | 200u << 16 | host) & (len ? ~0u << (32 - len) : 0), len);
	if (len < 32 && gen_chance(g, 50)) {
		b->n_except = 1 + gen_below(g, 2);
		b->except = calloc(b->n_except, sizeof(*b->except));
		for (size_t i = 0; i < b->n_except; i++) {
			unsigned el = len + 1 + gen_below(g, 32 - len);
			unsigned eh = gen_below(g, 256);

			if (el == 32 && t->n_endpoints && gen_chance(g, 60))
				eh = mseg_cidr_v4(&t->endpoints[gen_below(g, t->n_endpoints)].ip) &
				     0xff;
			if (el < 24)
				el = 24;
			b->except[i] =
			    mseg_cidr_from_v4((10u << 24 | 200u << 16 | eh) & ~0u << (32 - el), el);
			if (!mseg_cidr_contains(&b->cidr, &b->except[i]))
				b->except[i] = b->cidr; /* keep it nested, as validation demands */
		}
	}
}

static inline void gen_port(struct gen *g, struct mseg_port *q, bool icmp_ok)
{
	static const uint8_t protos[] = {MSEG_PROTO_TCP, MSEG_PROTO_UDP, MSEG_PROTO_SCTP};
	static const uint16_t nums[] = {53, 80, 81, 8080};
	uint32_t k = gen_below(g, icmp_ok ? 5 : 4);

	q->icmp_type = q->icmp_code = -1;
	q->proto = protos[gen_below(g, 3)];
	if (gen_chance(g, 70))
		q->proto = MSEG_PROTO_TCP;
	if (k == 0) {
		q->has_port = true;
		q->port = q->end_port = nums[gen_below(g, 4)];
	} else if (k == 1) {
		q->has_port = true;
		q->port = nums[gen_below(g, 4)];
		q->end_port = (uint16_t)(q->port + gen_below(g, 30));
	} else if (k == 2) {
		q->named_port = gen_strdup(gen_port_names[gen_below(g, 3)]);
	} else if (k == 4) {
		q->proto = MSEG_PROTO_ICMP;
		if (gen_chance(g, 70))
			q->icmp_type = gen_chance(g, 50) ? 8 : 0;
		if (gen_chance(g, 40))
			q->icmp_code = (int)gen_below(g, 2);
	}
}

static inline void gen_rules(struct gen *g, const struct mseg_topology *t,
			     const struct mseg_policy *p, struct mseg_rule **ret, size_t *n_ret)
{
	size_t n = gen_below(g, 4);
	struct mseg_rule *rules = calloc(n + 1, sizeof(*rules));

	for (size_t i = 0; i < n; i++) {
		struct mseg_rule *r = &rules[i];

		if (p->kind == MSEG_KIND_POLICY)
			r->action = gen_chance(g, 40) ? MSEG_ACTION_DENY : MSEG_ACTION_ALLOW;
		else if (p->kind == MSEG_KIND_CLUSTER_POLICY)
			r->action =
			    (enum mseg_action)gen_below(g, p->tier == MSEG_TIER_ADMIN ? 3 : 2);
		r->n_peers = gen_chance(g, 25) ? 0 : 1 + gen_below(g, 2);
		r->peers = calloc(r->n_peers + 1, sizeof(*r->peers));
		for (size_t k = 0; k < r->n_peers; k++) {
			struct mseg_peer *q = &r->peers[k];

			if (gen_chance(g, 30)) {
				q->kind = MSEG_PEER_IPBLOCK;
				gen_ipblock(g, t, &q->ipblock);
				continue;
			}
			q->kind = MSEG_PEER_ENDPOINTS;
			q->has_ns_sel = gen_chance(g, 50);
			q->has_ep_sel = !q->has_ns_sel || gen_chance(g, 50);
			if (p->kind == MSEG_KIND_CLUSTER_POLICY && gen_chance(g, 30))
				q->has_ns_sel = q->has_ep_sel = false;
			if (q->has_ns_sel)
				gen_selector(g, &q->ns_sel, true);
			if (q->has_ep_sel)
				gen_selector(g, &q->ep_sel, false);
		}
		r->n_ports = gen_chance(g, 35) ? 0 : 1 + gen_below(g, 2);
		/* now and then a long list, so the compiler's port index (>= 16 ports) is
		 * compared with the evaluator too: overlapping ranges, names and ICMP mixed */
		if (gen_chance(g, 5))
			r->n_ports = 16 + gen_below(g, 8);
		r->ports = calloc(r->n_ports + 1, sizeof(*r->ports));
		for (size_t k = 0; k < r->n_ports; k++)
			gen_port(g, &r->ports[k], p->kind != MSEG_KIND_NETWORK_POLICY);
	}
	*ret = rules;
	*n_ret = n;
}

static inline void gen_topology(struct gen *g, struct mseg_topology *t)
{
	size_t n_ns = 2 + gen_below(g, 3), n_ep = 3 + gen_below(g, 8);
	bool used[256] = {false};

	t->namespaces = calloc(n_ns, sizeof(*t->namespaces));
	t->n_namespaces = n_ns;
	for (size_t i = 0; i < n_ns; i++) {
		char name[8];

		snprintf(name, sizeof(name), "n%zu", i);
		t->namespaces[i].name = gen_strdup(name);
		mseg_labels_set(&t->namespaces[i].labels, "kubernetes.io/metadata.name", name);
		if (gen_chance(g, 60))
			mseg_labels_set(&t->namespaces[i].labels, "team",
					gen_vals[gen_below(g, 2)]);
	}
	t->endpoints = calloc(n_ep, sizeof(*t->endpoints));
	t->n_endpoints = n_ep;
	for (size_t i = 0; i < n_ep; i++) {
		struct mseg_endpoint *e = &t->endpoints[i];
		char name[8];
		unsigned host;

		snprintf(name, sizeof(name), "e%zu", i);
		e->id = (uint32_t)(i + 1);
		e->namespace = gen_strdup(t->namespaces[gen_below(g, n_ns)].name);
		e->name = gen_strdup(name);
		gen_labels(g, &e->labels, 50);
		do
			host = 1 + gen_below(g, 254);
		while (used[host]);
		used[host] = true;
		e->ip = gen_v4(10, 200, 0, host, 32);
		e->n_ports = gen_below(g, 4);
		e->ports = calloc(e->n_ports + 1, sizeof(*e->ports));
		for (size_t k = 0; k < e->n_ports; k++) {
			static const uint16_t pn[] = {80, 81, 53, 8080};

			/* sometimes one name twice (other protocol, or a shadowed port) */
			e->ports[k].name = gen_strdup(
			    gen_port_names[gen_chance(g, 20) ? gen_below(g, 3) : k]);
			e->ports[k].port = pn[gen_below(g, 4)];
			e->ports[k].proto = gen_chance(g, 70) ? MSEG_PROTO_TCP : MSEG_PROTO_UDP;
		}
	}
}

static inline void gen_policies(struct gen *g, const struct mseg_topology *t,
				struct mseg_policy_set *set)
{
	size_t n = 1 + gen_below(g, 6);

	set->policies = calloc(n, sizeof(*set->policies));
	set->n_policies = n;
	for (size_t i = 0; i < n; i++) {
		struct mseg_policy *p = &set->policies[i];
		char name[8];

		snprintf(name, sizeof(name), "p%zu", i);
		p->id = (uint32_t)(i + 1);
		p->name = gen_strdup(name);
		p->kind = (enum mseg_policy_kind)gen_below(g, 3);
		p->mode = p->kind != MSEG_KIND_NETWORK_POLICY && gen_chance(g, 20)
			      ? MSEG_MODE_AUDIT
			      : MSEG_MODE_ENFORCE;
		if (p->kind == MSEG_KIND_CLUSTER_POLICY) {
			p->tier = gen_chance(g, 50) ? MSEG_TIER_ADMIN : MSEG_TIER_BASELINE;
			p->priority = (int)gen_below(g, 3);
			p->has_subject_ns = gen_chance(g, 40);
			p->has_subject_ep = gen_chance(g, 50);
			if (p->has_subject_ns)
				gen_selector(g, &p->subject_ns, true);
			if (p->has_subject_ep)
				gen_selector(g, &p->subject_ep, false);
		} else {
			p->tier = MSEG_TIER_NAMESPACE;
			p->namespace =
			    gen_strdup(t->namespaces[gen_below(g, t->n_namespaces)].name);
			p->has_subject_ep = true;
			gen_selector(g, &p->subject_ep, false);
		}
		p->ingress = gen_chance(g, 75);
		p->egress = gen_chance(g, 50);
		if (p->ingress)
			gen_rules(g, t, p, &p->ingress_rules, &p->n_ingress_rules);
		if (p->egress)
			gen_rules(g, t, p, &p->egress_rules, &p->n_egress_rules);
		if (p->kind == MSEG_KIND_CLUSTER_POLICY) {
			p->ingress = p->n_ingress_rules > 0;
			p->egress = p->n_egress_rules > 0;
		}
	}
}

/* A flow end: an endpoint, or a bare address (in the pod range but no endpoint's, or outside
 * every prefix). */
static inline void gen_end(struct gen *g, const struct mseg_topology *t, struct mseg_flow_end *e)
{
	*e = (struct mseg_flow_end){0};
	if (gen_chance(g, 80)) {
		e->ep = &t->endpoints[gen_below(g, t->n_endpoints)];
		e->ip = e->ep->ip;
		return;
	}
	for (;;) {
		bool taken = false;

		e->ip = gen_chance(g, 70) ? gen_v4(10, 200, 0, gen_below(g, 256), 32)
					  : gen_v4(192, 0, 2, 1 + gen_below(g, 3), 32);
		for (size_t i = 0; i < t->n_endpoints; i++)
			taken |= !mseg_cidr_cmp(&t->endpoints[i].ip, &e->ip);
		if (!taken)
			return;
	}
}

static inline void gen_flow(struct gen *g, const struct mseg_topology *t, struct mseg_flow *f)
{
	static const uint8_t protos[] = {MSEG_PROTO_TCP,  MSEG_PROTO_TCP,  MSEG_PROTO_UDP,
					 MSEG_PROTO_SCTP, MSEG_PROTO_ICMP, 47};
	static const uint16_t ports[] = {53, 80, 81, 90, 8080, 8100, 1, 65535};

	gen_end(g, t, &f->src);
	gen_end(g, t, &f->dst);
	f->proto = protos[gen_below(g, 6)];
	if (f->proto == MSEG_PROTO_ICMP)
		f->port =
		    (uint16_t)((gen_chance(g, 50) ? 8 : gen_below(g, 4)) << 8 | gen_below(g, 3));
	else
		f->port = gen_chance(g, 80) ? ports[gen_below(g, 8)] : (uint16_t)gen_u32(g);
}

#endif
