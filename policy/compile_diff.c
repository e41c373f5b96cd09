// SPDX-License-Identifier: Apache-2.0
/*
 * The difference between two compiler states, per endpoint: entries removed and added,
 * defaults changed, ipcache entries removed and added. Endpoints of one identity share their
 * old and new results, so each identity's difference is computed once and replicated.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/macro.h"
#include "policy/compile_classes.h"
#include "policy/compile_internal.h"

static int u32_cmp_q(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int push_entries(struct mseg_table_entry **v, size_t *n, size_t *cap,
			const struct mseg_table_entry *e, size_t ne, uint32_t endpoint)
{
	for (size_t i = 0; i < ne; i++) {
		int r = mseg_compile_grow((void **)v, cap, *n, sizeof(**v));

		if (r < 0)
			return r;
		(*v)[*n] = e[i];
		(*v)[(*n)++].endpoint = endpoint;
	}
	return 0;
}

static int push_default(struct mseg_table_diff *d, size_t *cap, int dir, uint32_t endpoint,
			const struct cval *v)
{
	int r = mseg_compile_grow((void **)&d->defaults_changed[dir], &cap[dir],
				  d->n_defaults_changed[dir], sizeof(*d->defaults_changed[dir]));

	if (r < 0)
		return r;
	d->defaults_changed[dir][d->n_defaults_changed[dir]++] = (struct mseg_endpoint_default){
	    .endpoint = endpoint,
	    .verdict = v->verdict,
	    .audit = v->audit,
	    .decided_by = v->by,
	    .audit_by = v->audit_by,
	};
	return 0;
}

struct pair_diff {
	const struct idres *o;
	const struct mseg_table_entry **rm, **add; /* into o->e and the new result's e */
	size_t n_rm, n_add;
};

/* Both sorted by the same key (endpoint 0): a merge yields the exact difference. */
static int res_diff(const struct idres *o, const struct idres *n, struct pair_diff *m)
{
	m->rm = malloc((o->n + 1) * sizeof(*m->rm));
	m->add = malloc((n->n + 1) * sizeof(*m->add));
	if (!m->rm || !m->add)
		return -ENOMEM;
	for (size_t a = 0, b = 0; a < o->n || b < n->n;) {
		int k = a == o->n ? 1 : b == n->n ? -1 : mseg_compile_entry_cmp(&o->e[a], &n->e[b]);

		if (!k)
			a++, b++;
		else if (k < 0)
			m->rm[m->n_rm++] = &o->e[a++];
		else
			m->add[m->n_add++] = &n->e[b++];
	}
	return 0;
}

/* A result made from o by the new-classes path: the difference is known without a merge
 * (the entries of the gone classes out, the entries of the new classes in). */
static int res_delta(const struct upd *u, size_t i, struct pair_diff *m)
{
	const struct idres *o = u->delta_base[i];

	m->rm = malloc((u->n_gone ? o->n + 1 : 1) * sizeof(*m->rm));
	m->add = malloc((u->n_delta_add[i] + 1) * sizeof(*m->add));
	if (!m->rm || !m->add)
		return -ENOMEM;
	for (size_t k = 0; u->n_gone && k < o->n; k++)
		if (bsearch(&o->e[k].remote, u->gone, u->n_gone, sizeof(*u->gone), u32_cmp_q))
			m->rm[m->n_rm++] = &o->e[k];
	for (size_t k = 0; k < u->n_delta_add[i]; k++)
		m->add[m->n_add++] = &u->delta_add[i][k];
	return 0;
}

struct pair_memo {
	struct pair_diff *v;
	size_t n;
};

static void pair_memo_free(struct pair_memo *m)
{
	for (size_t i = 0; m->v && i < m->n; i++) {
		free(m->v[i].rm);
		free(m->v[i].add);
	}
	free(m->v);
}

int mseg_compile_diff(const struct mseg_compiler *c, const struct upd *u, struct mseg_table_diff *d)
{
	size_t cap_a = 0, cap_r = 0, cap_ia = 0, cap_ir = 0, cap_d[2] = {0, 0};
	size_t i = 0, j = 0;
	_cleanup_(pair_memo_free) struct pair_memo memo = {.n = u->n_res};
	struct pair_diff *m;
	ssize_t ri;
	int r;

	memo.v = calloc(u->n_res + 1, sizeof(*memo.v));
	if (!memo.v)
		return -ENOMEM;

	while (i < c->n_eps || j < u->n_eps) {
		const struct eprec *o = i < c->n_eps ? &c->eps[i] : NULL;
		const struct eprec *n = j < u->n_eps ? &u->eps[j] : NULL;

		if (o && (!n || o->endpoint < n->endpoint)) {
			r = push_entries(&d->removed, &d->n_removed, &cap_r, o->res->e, o->res->n,
					 o->endpoint);
			if (r < 0)
				return r;
			i++;
			continue;
		}
		if (!o || n->endpoint < o->endpoint) {
			r = push_entries(&d->added, &d->n_added, &cap_a, n->res->e, n->res->n,
					 n->endpoint);
			for (int k = 0; k < 2 && r >= 0; k++)
				r = push_default(d, cap_d, k, n->endpoint, &n->res->def[k]);
			if (r < 0)
				return r;
			j++;
			continue;
		}
		i++, j++;
		if (o->res == n->res)
			continue;
		for (int k = 0; k < 2; k++)
			if (!mseg_cval_equal(&o->res->def[k], &n->res->def[k])) {
				r = push_default(d, cap_d, k, n->endpoint, &n->res->def[k]);
				if (r < 0)
					return r;
			}
		/* endpoints of one identity share old and new results: diff once, replicate */
		ri = mseg_compile_res_find(u->res, u->n_res, n->res->identity);
		m = &memo.v[ri];
		if (m->o != o->res) {
			free(m->rm);
			free(m->add);
			*m = (struct pair_diff){.o = o->res};
			r = u->delta_base[ri] == o->res ? res_delta(u, (size_t)ri, m)
							: res_diff(o->res, n->res, m);
			if (r < 0)
				return r;
		}
		for (size_t k = 0; k < m->n_rm; k++) {
			r = push_entries(&d->removed, &d->n_removed, &cap_r, m->rm[k], 1,
					 o->endpoint);
			if (r < 0)
				return r;
		}
		for (size_t k = 0; k < m->n_add; k++) {
			r = push_entries(&d->added, &d->n_added, &cap_a, m->add[k], 1,
					 n->endpoint);
			if (r < 0)
				return r;
		}
	}
	for (i = 0, j = 0; i < c->n_ipc || j < u->n_ipc;) {
		int k = i == c->n_ipc	? 1
			: j == u->n_ipc ? -1
					: mseg_ipcache_entry_cmp(&c->ipc[i], &u->ipc[j]);
		struct mseg_ipcache_entry **v = k < 0 ? &d->ipcache_removed : &d->ipcache_added;
		size_t *n = k < 0 ? &d->n_ipcache_removed : &d->n_ipcache_added;

		if (!k) {
			i++, j++;
			continue;
		}
		r = mseg_compile_grow((void **)v, k < 0 ? &cap_ir : &cap_ia, *n, sizeof(**v));
		if (r < 0)
			return r;
		(*v)[(*n)++] = k < 0 ? c->ipc[i++] : u->ipc[j++];
	}
	return 0;
}

void mseg_table_diff_free(struct mseg_table_diff *d)
{
	if (!d)
		return;
	free(d->added);
	free(d->removed);
	free(d->ipcache_added);
	free(d->ipcache_removed);
	free(d->defaults_changed[0]);
	free(d->defaults_changed[1]);
	*d = (struct mseg_table_diff){0};
}
