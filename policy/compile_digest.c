// SPDX-License-Identifier: Apache-2.0
/*
 * Digests of the compiler's inputs: one per policy and one per endpoint's identity inputs,
 * compared between updates to find what changed without keeping a copy of the inputs. They
 * are read for every policy and endpoint on every update, hence one multiply per word.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/macro.h"
#include "policy/cidr.h"
#include "policy/compile_internal.h"
#include "policy/labels.h"

/* One multiply per word: the digest is read for every policy on every update. */
static uint64_t h_u64(uint64_t h, uint64_t v)
{
	h = (h ^ v) * 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 31);
}

static uint64_t h_str(uint64_t h, const char *s)
{
	size_t n;
	uint64_t w;

	if (!s)
		return h_u64(h, 0x5a5a5a5a);
	/* a word at a time, then the tail and the length (so "ab"+"c" differs from "a"+"bc") */
	n = strlen(s);
	for (; n >= 8; s += 8, n -= 8) {
		memcpy(&w, s, 8);
		h = h_u64(h, w);
	}
	w = 0;
	memcpy(&w, s, n);
	return h_u64(h_u64(h, w), 0xff00 | n);
}

static uint64_t h_labels(uint64_t h, const struct mseg_labels *l)
{
	h = h_u64(h, l->n);
	for (size_t i = 0; i < l->n; i++)
		h = h_str(h_str(h, l->items[i].key), l->items[i].value);
	return h;
}

static uint64_t h_sel(uint64_t h, const struct mseg_selector *s)
{
	h = h_labels(h, &s->match_labels);
	h = h_u64(h, s->n_exprs);
	for (size_t i = 0; i < s->n_exprs; i++) {
		h = h_str(h_u64(h, s->exprs[i].op), s->exprs[i].key);
		h = h_u64(h, s->exprs[i].n_values);
		for (size_t k = 0; k < s->exprs[i].n_values; k++)
			h = h_str(h, s->exprs[i].values[k]);
	}
	return h;
}

static uint64_t h_cidr(uint64_t h, const struct mseg_cidr *c)
{
	uint64_t w[2];

	memcpy(w, c->addr, sizeof(w));
	h = h_u64(h, (uint64_t)c->family << 8 | c->prefixlen);
	return h_u64(h_u64(h, w[0]), w[1]);
}

/* A digest of everything in a policy that the compiled table depends on. */
uint64_t mseg_compile_policy_digest(const struct mseg_policy *p)
{
	uint64_t h = 0xcbf29ce484222325ull;

	h = h_u64(h, (uint64_t)p->kind << 32 | (uint64_t)p->tier << 16 | p->mode);
	h = h_u64(h, (uint64_t)(uint32_t)p->priority << 8 | p->has_subject_ns << 3 |
			 p->has_subject_ep << 2 | p->ingress << 1 | p->egress);
	h = h_str(h, p->namespace);
	h = h_sel(h_sel(h, &p->subject_ns), &p->subject_ep);
	for (int d = 0; d < 2; d++) {
		const struct mseg_rule *rules = d ? p->egress_rules : p->ingress_rules;
		size_t nr = d ? p->n_egress_rules : p->n_ingress_rules;

		h = h_u64(h, nr);
		for (size_t k = 0; k < nr; k++) {
			const struct mseg_rule *r = &rules[k];

			h = h_u64(h, (uint64_t)r->action << 40 | (uint64_t)r->n_peers << 20 |
					 r->n_ports);
			for (size_t j = 0; j < r->n_peers; j++) {
				const struct mseg_peer *q = &r->peers[j];

				h = h_u64(h, q->kind << 2 | q->has_ns_sel << 1 | q->has_ep_sel);
				h = h_sel(h_sel(h, &q->ns_sel), &q->ep_sel);
				if (q->kind != MSEG_PEER_IPBLOCK)
					continue;
				h = h_cidr(h_u64(h, q->ipblock.n_except), &q->ipblock.cidr);
				for (size_t e = 0; e < q->ipblock.n_except; e++)
					h = h_cidr(h, &q->ipblock.except[e]);
			}
			for (size_t j = 0; j < r->n_ports; j++) {
				const struct mseg_port *q = &r->ports[j];

				h = h_u64(h, (uint64_t)q->proto << 48 |
						 (uint64_t)q->has_port << 40 |
						 (uint64_t)q->port << 16 | q->end_port);
				h = h_u64(h, (uint64_t)(uint32_t)q->icmp_type << 32 |
						 (uint32_t)q->icmp_code);
				h = h_str(h, q->named_port);
			}
		}
	}
	return h;
}

/* A digest of the inputs of an endpoint's identity label set. */
uint64_t mseg_compile_endpoint_digest(const struct mseg_endpoint *e, const struct mseg_labels *nsl)
{
	uint64_t h = 0xcbf29ce484222325ull;

	h = h_labels(h_str(h, e->namespace), &e->labels);
	h = h_labels(h, nsl);
	h = h_u64(h, e->n_ports);
	for (size_t i = 0; i < e->n_ports; i++)
		h = h_u64(h_str(h, e->ports[i].name),
			  (uint64_t)e->ports[i].port << 8 | e->ports[i].proto);
	return h;
}

/* What decides whether peer q of policy p matches a class: its selectors or its ipBlock, and
 * for a namespaced policy's peer without a namespaceSelector, the policy's namespace. */
static bool peer_scoped(const struct mseg_policy *p, const struct mseg_peer *q)
{
	return q->kind != MSEG_PEER_IPBLOCK && !q->has_ns_sel &&
	       p->kind != MSEG_KIND_CLUSTER_POLICY;
}

uint64_t mseg_compile_peer_digest(const struct mseg_policy *p, const struct mseg_peer *q)
{
	uint64_t h = 0x84222325cbf29ce4ull;

	h = h_u64(h, q->kind << 2 | q->has_ns_sel << 1 | q->has_ep_sel);
	if (q->kind == MSEG_PEER_IPBLOCK) {
		h = h_cidr(h_u64(h, q->ipblock.n_except), &q->ipblock.cidr);
		for (size_t e = 0; e < q->ipblock.n_except; e++)
			h = h_cidr(h, &q->ipblock.except[e]);
		return h;
	}
	h = h_u64(h, peer_scoped(p, q));
	if (peer_scoped(p, q))
		h = h_str(h, p->namespace);
	if (q->has_ns_sel)
		h = h_sel(h, &q->ns_sel);
	if (q->has_ep_sel)
		h = h_sel(h, &q->ep_sel);
	return h;
}

static bool str_same(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static bool sel_same(const struct mseg_selector *a, const struct mseg_selector *b)
{
	if (mseg_labels_cmp(&a->match_labels, &b->match_labels) || a->n_exprs != b->n_exprs)
		return false;
	for (size_t i = 0; i < a->n_exprs; i++) {
		const struct mseg_selector_expr *x = &a->exprs[i], *y = &b->exprs[i];

		if (x->op != y->op || strcmp(x->key, y->key) || x->n_values != y->n_values)
			return false;
		for (size_t k = 0; k < x->n_values; k++)
			if (strcmp(x->values[k], y->values[k]))
				return false;
	}
	return true;
}

bool mseg_compile_peer_same(const struct mseg_policy *pa, const struct mseg_peer *a,
			    const struct mseg_policy *pb, const struct mseg_peer *b)
{
	if (a->kind != b->kind || a->has_ns_sel != b->has_ns_sel || a->has_ep_sel != b->has_ep_sel)
		return false;
	if (a->kind == MSEG_PEER_IPBLOCK) {
		if (mseg_cidr_cmp(&a->ipblock.cidr, &b->ipblock.cidr) ||
		    a->ipblock.cidr.prefixlen != b->ipblock.cidr.prefixlen ||
		    a->ipblock.n_except != b->ipblock.n_except)
			return false;
		for (size_t e = 0; e < a->ipblock.n_except; e++)
			if (mseg_cidr_cmp(&a->ipblock.except[e], &b->ipblock.except[e]) ||
			    a->ipblock.except[e].prefixlen != b->ipblock.except[e].prefixlen)
				return false;
		return true;
	}
	if (peer_scoped(pa, a) != peer_scoped(pb, b) ||
	    (peer_scoped(pa, a) && !str_same(pa->namespace, pb->namespace)))
		return false;
	return (!a->has_ns_sel || sel_same(&a->ns_sel, &b->ns_sel)) &&
	       (!a->has_ep_sel || sel_same(&a->ep_sel, &b->ep_sel));
}

/* Numbers the peers of the set by what they match (x->peer_group, x->n_groups). */
int mseg_compile_peer_groups(struct cctx *x)
{
	const struct mseg_policy_set *set = x->set;
	size_t n = x->peer_off[set->n_policies], mask = 15;
	_cleanup_free_ uint64_t *hash = NULL;
	_cleanup_free_ uint32_t *slots = NULL; /* flat peer + 1 of a group's first peer */
	_cleanup_free_ const struct mseg_policy **pol = NULL;
	_cleanup_free_ const struct mseg_peer **peer = NULL;
	size_t f = 0;

	while (mask + 1 < 2 * n)
		mask = mask << 1 | 1;
	x->peer_group = malloc((n + 1) * sizeof(*x->peer_group));
	hash = malloc((n + 1) * sizeof(*hash));
	pol = malloc((n + 1) * sizeof(*pol));
	peer = malloc((n + 1) * sizeof(*peer));
	slots = calloc(mask + 1, sizeof(*slots));
	if (!x->peer_group || !hash || !pol || !peer || !slots)
		return -ENOMEM;
	for (size_t i = 0; i < set->n_policies; i++) {
		const struct mseg_policy *p = &set->policies[i];

		for (int d = 0; d < 2; d++) {
			const struct mseg_rule *rules = d ? p->egress_rules : p->ingress_rules;
			size_t nr = d ? p->n_egress_rules : p->n_ingress_rules;

			for (size_t k = 0; k < nr; k++)
				for (size_t j = 0; j < rules[k].n_peers; j++, f++) {
					pol[f] = p;
					peer[f] = &rules[k].peers[j];
				}
		}
	}
	for (f = 0; f < n; f++) {
		size_t s;

		hash[f] = mseg_compile_peer_digest(pol[f], peer[f]);
		for (s = hash[f] & mask; slots[s]; s = (s + 1) & mask) {
			size_t g = slots[s] - 1;

			if (hash[g] == hash[f] &&
			    mseg_compile_peer_same(pol[g], peer[g], pol[f], peer[f]))
				break;
		}
		if (slots[s]) {
			x->peer_group[f] = x->peer_group[slots[s] - 1];
			continue;
		}
		slots[s] = (uint32_t)f + 1;
		x->peer_group[f] = (uint32_t)x->n_groups++;
	}
	return 0;
}
