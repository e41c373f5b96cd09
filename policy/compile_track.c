// SPDX-License-Identifier: Apache-2.0
/* What the compiler was last given, to name what changed since (policy/compile_track.h). */
#include "policy/compile_track.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/macro.h"
#include "policy/labels.h"

struct ep_seen {
	uint32_t id;
	char *namespace;
	struct mseg_labels labels;
	struct mseg_named_port *ports;
	size_t n_ports;
};

struct ns_seen {
	char *name;
	struct mseg_labels labels;
};

struct pol_seen {
	uint32_t id;
	uint64_t serial;
};

struct mseg_compile_tracker {
	bool valid;
	struct ep_seen *eps; /* sorted by id */
	size_t n_eps;
	struct ns_seen *nss; /* sorted by name */
	size_t n_nss;
	struct pol_seen *pols; /* sorted by id */
	size_t n_pols;
	/* the last hint's names (and the sort orders of the state it was worked out from) */
	uint32_t *h_eps, *h_pols;
	const char **h_nss;
	size_t *ep_order, *ns_order, *pol_order;
};

int mseg_compile_tracker_new(struct mseg_compile_tracker **ret)
{
	struct mseg_compile_tracker *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	*ret = t;
	return 0;
}

static void ep_seen_free(struct ep_seen *e)
{
	free(e->namespace);
	mseg_labels_free(&e->labels);
	for (size_t i = 0; i < e->n_ports; i++)
		free(e->ports[i].name);
	free(e->ports);
}

static void ns_seen_free(struct ns_seen *n)
{
	free(n->name);
	mseg_labels_free(&n->labels);
}

void mseg_compile_tracker_forget(struct mseg_compile_tracker *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_eps; i++)
		ep_seen_free(&t->eps[i]);
	for (size_t i = 0; i < t->n_nss; i++)
		ns_seen_free(&t->nss[i]);
	free(t->eps);
	free(t->nss);
	free(t->pols);
	t->eps = NULL;
	t->nss = NULL;
	t->pols = NULL;
	t->n_eps = t->n_nss = t->n_pols = 0;
	t->valid = false;
}

void mseg_compile_tracker_free(struct mseg_compile_tracker *t)
{
	if (!t)
		return;
	mseg_compile_tracker_forget(t);
	free(t->h_eps);
	free(t->h_pols);
	free(t->h_nss);
	free(t->ep_order);
	free(t->ns_order);
	free(t->pol_order);
	free(t);
}

/* ---- sort orders of the given state (indices, so the caller's arrays stay as they are) -- */

struct order_ctx {
	const struct mseg_topology *topo;
	const struct mseg_policy_set *set;
};

/* qsort has no context argument; the tracker is single-threaded like its callers. */
static _Thread_local struct order_ctx octx;

static int ep_order_cmp(const void *a, const void *b)
{
	uint32_t x = octx.topo->endpoints[*(const size_t *)a].id;
	uint32_t y = octx.topo->endpoints[*(const size_t *)b].id;

	return x < y ? -1 : x > y;
}

static int ns_order_cmp(const void *a, const void *b)
{
	return strcmp(octx.topo->namespaces[*(const size_t *)a].name,
		      octx.topo->namespaces[*(const size_t *)b].name);
}

static int pol_order_cmp(const void *a, const void *b)
{
	uint32_t x = octx.set->policies[*(const size_t *)a].id;
	uint32_t y = octx.set->policies[*(const size_t *)b].id;

	return x < y ? -1 : x > y;
}

static int order(size_t **v, size_t n, int (*cmp)(const void *, const void *))
{
	size_t *nv = realloc(*v, (n + 1) * sizeof(*nv));

	if (!nv)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		nv[i] = i;
	qsort(nv, n, sizeof(*nv), cmp);
	*v = nv;
	return 0;
}

/* Sorts the state's objects; false when an endpoint or policy id appears twice. */
static int orders(struct mseg_compile_tracker *t, const struct mseg_topology *topo,
		  const struct mseg_policy_set *set, bool *unique)
{
	int r;

	octx = (struct order_ctx){.topo = topo, .set = set};
	r = order(&t->ep_order, topo->n_endpoints, ep_order_cmp);
	if (r == 0)
		r = order(&t->ns_order, topo->n_namespaces, ns_order_cmp);
	if (r == 0)
		r = order(&t->pol_order, set->n_policies, pol_order_cmp);
	octx = (struct order_ctx){0};
	if (r < 0)
		return r;
	*unique = true;
	for (size_t i = 1; i < topo->n_endpoints; i++)
		if (topo->endpoints[t->ep_order[i]].id == topo->endpoints[t->ep_order[i - 1]].id)
			*unique = false;
	for (size_t i = 1; i < topo->n_namespaces; i++)
		if (!strcmp(topo->namespaces[t->ns_order[i]].name,
			    topo->namespaces[t->ns_order[i - 1]].name))
			*unique = false;
	for (size_t i = 1; i < set->n_policies; i++)
		if (set->policies[t->pol_order[i]].id == set->policies[t->pol_order[i - 1]].id)
			*unique = false;
	return 0;
}

static bool same_ports(const struct ep_seen *s, const struct mseg_endpoint *e)
{
	if (s->n_ports != e->n_ports)
		return false;
	for (size_t i = 0; i < e->n_ports; i++)
		if (s->ports[i].port != e->ports[i].port || s->ports[i].proto != e->ports[i].proto ||
		    strcmp(s->ports[i].name, e->ports[i].name))
			return false;
	return true;
}

static bool ep_same(const struct ep_seen *s, const struct mseg_endpoint *e)
{
	return !strcmp(s->namespace, e->namespace) && !mseg_labels_cmp(&s->labels, &e->labels) &&
	       same_ports(s, e);
}

int mseg_compile_tracker_hint(struct mseg_compile_tracker *t, const struct mseg_topology *topo,
			      const struct mseg_policy_set *set, const uint64_t *serials,
			      struct mseg_compile_hint *hint, bool *use)
{
	size_t n_e = 0, n_n = 0, n_p = 0, i, j;
	bool unique;
	uint32_t *he;
	uint32_t *hp;
	const char **hn;
	int r;

	*hint = (struct mseg_compile_hint){0};
	*use = false;
	if (!t->valid)
		return 0;
	r = orders(t, topo, set, &unique);
	if (r < 0 || !unique)
		return r;
	/* at most every object of both states is named */
	he = realloc(t->h_eps, (topo->n_endpoints + t->n_eps + 1) * sizeof(*he));
	if (!he)
		return -ENOMEM;
	t->h_eps = he;
	hp = realloc(t->h_pols, (set->n_policies + t->n_pols + 1) * sizeof(*hp));
	if (!hp)
		return -ENOMEM;
	t->h_pols = hp;
	hn = realloc(t->h_nss, (topo->n_namespaces + t->n_nss + 1) * sizeof(*hn));
	if (!hn)
		return -ENOMEM;
	t->h_nss = hn;

	for (i = 0, j = 0; i < topo->n_endpoints || j < t->n_eps;) {
		const struct mseg_endpoint *e =
		    i < topo->n_endpoints ? &topo->endpoints[t->ep_order[i]] : NULL;
		const struct ep_seen *s = j < t->n_eps ? &t->eps[j] : NULL;

		if (e && (!s || e->id < s->id)) {
			he[n_e++] = e->id; /* added */
			i++;
		} else if (!e || s->id < e->id) {
			he[n_e++] = s->id; /* removed */
			j++;
		} else {
			if (!ep_same(s, e))
				he[n_e++] = e->id;
			i++;
			j++;
		}
	}
	for (i = 0, j = 0; i < topo->n_namespaces || j < t->n_nss;) {
		const struct mseg_namespace *n =
		    i < topo->n_namespaces ? &topo->namespaces[t->ns_order[i]] : NULL;
		const struct ns_seen *s = j < t->n_nss ? &t->nss[j] : NULL;
		int c = !n ? 1 : !s ? -1 : strcmp(n->name, s->name);

		if (c < 0) {
			hn[n_n++] = n->name;
			i++;
		} else if (c > 0) {
			hn[n_n++] = s->name;
			j++;
		} else {
			if (mseg_labels_cmp(&s->labels, &n->labels))
				hn[n_n++] = n->name;
			i++;
			j++;
		}
	}
	for (i = 0, j = 0; i < set->n_policies || j < t->n_pols;) {
		size_t k = i < set->n_policies ? t->pol_order[i] : 0;
		const struct mseg_policy *p = i < set->n_policies ? &set->policies[k] : NULL;
		const struct pol_seen *s = j < t->n_pols ? &t->pols[j] : NULL;

		if (p && (!s || p->id < s->id)) {
			hp[n_p++] = p->id;
			i++;
		} else if (!p || s->id < p->id) {
			hp[n_p++] = s->id;
			j++;
		} else {
			if (serials[k] != s->serial)
				hp[n_p++] = p->id;
			i++;
			j++;
		}
	}
	*hint = (struct mseg_compile_hint){.endpoints = he,
					   .n_endpoints = n_e,
					   .policies = hp,
					   .n_policies = n_p,
					   .namespaces = hn,
					   .n_namespaces = n_n};
	*use = true;
	return 0;
}

static int ep_seen_copy(struct ep_seen *s, const struct mseg_endpoint *e)
{
	*s = (struct ep_seen){.id = e->id};
	s->namespace = strdup(e->namespace);
	s->ports = calloc(e->n_ports + 1, sizeof(*s->ports));
	if (!s->namespace || !s->ports || mseg_labels_copy(&s->labels, &e->labels) < 0)
		goto fail;
	for (; s->n_ports < e->n_ports; s->n_ports++) {
		s->ports[s->n_ports] = e->ports[s->n_ports];
		s->ports[s->n_ports].name = strdup(e->ports[s->n_ports].name);
		if (!s->ports[s->n_ports].name)
			goto fail;
	}
	return 0;
fail:
	ep_seen_free(s);
	*s = (struct ep_seen){0};
	return -ENOMEM;
}

/*
 * The new remembered state: unchanged entries move over from the old one, only changed or new
 * ones are copied, so a commit after a one-endpoint change allocates for one endpoint.
 */
static int commit_endpoints(struct mseg_compile_tracker *t, const struct mseg_topology *topo)
{
	struct ep_seen *v = calloc(topo->n_endpoints + 1, sizeof(*v));
	size_t i, j, n = 0;
	int r = 0;

	if (!v)
		return -ENOMEM;
	for (i = 0, j = 0; i < topo->n_endpoints && r == 0; i++) {
		const struct mseg_endpoint *e = &topo->endpoints[t->ep_order[i]];

		while (j < t->n_eps && t->eps[j].id < e->id)
			j++;
		if (j < t->n_eps && t->eps[j].id == e->id && ep_same(&t->eps[j], e)) {
			v[n++] = t->eps[j];
			t->eps[j] = (struct ep_seen){.id = e->id};
		} else {
			r = ep_seen_copy(&v[n], e);
			n += r == 0;
		}
	}
	for (i = 0; i < t->n_eps; i++)
		ep_seen_free(&t->eps[i]);
	free(t->eps);
	t->eps = v;
	t->n_eps = n;
	return r;
}

static int commit_namespaces(struct mseg_compile_tracker *t, const struct mseg_topology *topo)
{
	struct ns_seen *v = calloc(topo->n_namespaces + 1, sizeof(*v));
	size_t n = 0;
	int r = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < topo->n_namespaces && r == 0; i++) {
		const struct mseg_namespace *ns = &topo->namespaces[t->ns_order[i]];

		v[n].name = strdup(ns->name);
		if (!v[n].name || mseg_labels_copy(&v[n].labels, &ns->labels) < 0) {
			ns_seen_free(&v[n]);
			r = -ENOMEM;
			break;
		}
		n++;
	}
	for (size_t i = 0; i < t->n_nss; i++)
		ns_seen_free(&t->nss[i]);
	free(t->nss);
	t->nss = v;
	t->n_nss = n;
	return r;
}

int mseg_compile_tracker_commit(struct mseg_compile_tracker *t, const struct mseg_topology *topo,
				const struct mseg_policy_set *set, const uint64_t *serials)
{
	struct pol_seen *pv;
	bool unique;
	int r;

	r = orders(t, topo, set, &unique);
	if (r < 0 || !unique) {
		/* duplicate ids: hints cannot name them apart, so every update stays full */
		mseg_compile_tracker_forget(t);
		return r;
	}
	r = commit_endpoints(t, topo);
	if (r == 0)
		r = commit_namespaces(t, topo);
	pv = r == 0 ? calloc(set->n_policies + 1, sizeof(*pv)) : NULL;
	if (!pv) {
		mseg_compile_tracker_forget(t);
		return r < 0 ? r : -ENOMEM;
	}
	for (size_t i = 0; i < set->n_policies; i++)
		pv[i] = (struct pol_seen){.id = set->policies[t->pol_order[i]].id,
					  .serial = serials[t->pol_order[i]]};
	free(t->pols);
	t->pols = pv;
	t->n_pols = set->n_policies;
	t->valid = true;
	return 0;
}
