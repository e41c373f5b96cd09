// SPDX-License-Identifier: Apache-2.0
/* Destructors of the policy data model (policy/model.h): each frees what its struct owns. */
#include "policy/model.h"

#include <stdlib.h>
#include <string.h>

void mseg_labels_free(struct mseg_labels *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->items[i].key);
		free(l->items[i].value);
	}
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

void mseg_selector_free(struct mseg_selector *s)
{
	if (!s)
		return;
	mseg_labels_free(&s->match_labels);
	for (size_t i = 0; i < s->n_exprs; i++) {
		struct mseg_selector_expr *e = &s->exprs[i];

		free(e->key);
		for (size_t j = 0; j < e->n_values; j++)
			free(e->values[j]);
		free(e->values);
	}
	free(s->exprs);
	s->exprs = NULL;
	s->n_exprs = 0;
}

static void peer_free(struct mseg_peer *p)
{
	mseg_selector_free(&p->ns_sel);
	mseg_selector_free(&p->ep_sel);
	free(p->ipblock.except);
	p->ipblock.except = NULL;
	p->ipblock.n_except = 0;
}

static void rules_free(struct mseg_rule *rules, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct mseg_rule *r = &rules[i];

		for (size_t j = 0; j < r->n_peers; j++)
			peer_free(&r->peers[j]);
		free(r->peers);
		for (size_t j = 0; j < r->n_ports; j++)
			free(r->ports[j].named_port);
		free(r->ports);
	}
	free(rules);
}

void mseg_policy_free(struct mseg_policy *p)
{
	if (!p)
		return;
	free(p->namespace);
	free(p->name);
	free(p->file);
	mseg_selector_free(&p->subject_ns);
	mseg_selector_free(&p->subject_ep);
	rules_free(p->ingress_rules, p->n_ingress_rules);
	rules_free(p->egress_rules, p->n_egress_rules);
	memset(p, 0, sizeof(*p));
}

void mseg_policy_set_free(struct mseg_policy_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n_policies; i++)
		mseg_policy_free(&set->policies[i]);
	free(set->policies);
	set->policies = NULL;
	set->n_policies = 0;
}

void mseg_topology_free(struct mseg_topology *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_namespaces; i++) {
		free(t->namespaces[i].name);
		mseg_labels_free(&t->namespaces[i].labels);
	}
	free(t->namespaces);
	for (size_t i = 0; i < t->n_endpoints; i++) {
		struct mseg_endpoint *e = &t->endpoints[i];

		free(e->namespace);
		free(e->name);
		mseg_labels_free(&e->labels);
		for (size_t j = 0; j < e->n_ports; j++)
			free(e->ports[j].name);
		free(e->ports);
	}
	free(t->endpoints);
	memset(t, 0, sizeof(*t));
}
