// SPDX-License-Identifier: Apache-2.0
/* Audit mode for namespaces and endpoints: the scope, its file, and the table transform. */
#include "agent/audit_scope.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/state.h"
#include "agent/store.h"
#include "lib/macro.h"

#define AUDIT_FILE "audit.json"

struct mseg_audit_scope {
	char *dir;
	char **namespaces;
	size_t n_namespaces;
	char **endpoints; /* "ns/name" */
	size_t n_endpoints;
};

void mseg_audit_scope_free(struct mseg_audit_scope *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_namespaces; i++)
		free(s->namespaces[i]);
	for (size_t i = 0; i < s->n_endpoints; i++)
		free(s->endpoints[i]);
	free(s->namespaces);
	free(s->endpoints);
	free(s->dir);
	free(s);
}

static ssize_t find(char *const *v, size_t n, const char *x)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], x))
			return (ssize_t)i;
	return -1;
}

static int add(char ***v, size_t *n, const char *x)
{
	char **nv = realloc(*v, (*n + 1) * sizeof(**v));

	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[*n] = strdup(x);
	if (!nv[*n])
		return -ENOMEM;
	(*n)++;
	return 0;
}

static void del(char **v, size_t *n, size_t i)
{
	free(v[i]);
	memmove(v + i, v + i + 1, (*n - i - 1) * sizeof(*v));
	(*n)--;
}

static char *ref(const char *ns, const char *name)
{
	char *s;

	return asprintf(&s, "%s/%s", ns, name) < 0 ? NULL : s;
}

int mseg_audit_scope_set(struct mseg_audit_scope *s, const char *ns, const char *name, bool on)
{
	_cleanup_free_ char *r = NULL;
	char ***v = name ? &s->endpoints : &s->namespaces;
	size_t *n = name ? &s->n_endpoints : &s->n_namespaces;
	const char *key = ns;
	ssize_t i;

	if (!ns || !*ns || (name && !*name))
		return -EINVAL;
	if (name) {
		r = ref(ns, name);
		if (!r)
			return -ENOMEM;
		key = r;
	}
	i = find(*v, *n, key);
	if (on == (i >= 0))
		return 0;
	if (!on) {
		del(*v, n, (size_t)i);
		return 1;
	}
	return add(v, n, key) < 0 ? -ENOMEM : 1;
}

bool mseg_audit_scope_covers(const struct mseg_audit_scope *s, const char *ns, const char *name)
{
	_cleanup_free_ char *r = NULL;

	if (!s || !ns)
		return false;
	if (find(s->namespaces, s->n_namespaces, ns) >= 0)
		return true;
	if (!name || !s->n_endpoints)
		return false;
	r = ref(ns, name);
	return r && find(s->endpoints, s->n_endpoints, r) >= 0;
}

json_t *mseg_audit_scope_to_json(const struct mseg_audit_scope *s)
{
	json_t *o = json_pack("{s:i,s:[],s:[]}", "version", 1, "namespaces", "endpoints");

	if (!o)
		return NULL;
	for (size_t i = 0; i < s->n_namespaces; i++)
		json_array_append_new(json_object_get(o, "namespaces"),
				      json_string(s->namespaces[i]));
	for (size_t i = 0; i < s->n_endpoints; i++) {
		const char *slash = strchr(s->endpoints[i], '/');

		json_array_append_new(json_object_get(o, "endpoints"),
				      json_pack("{s:s%,s:s}", "namespace", s->endpoints[i],
						(size_t)(slash - s->endpoints[i]), "name",
						slash + 1));
	}
	return o;
}

int mseg_audit_scope_load(const char *dir, struct mseg_audit_scope **ret, char *why)
{
	struct mseg_audit_scope *s = calloc(1, sizeof(*s));
	json_t *doc = NULL, *x;
	size_t i;
	int r;

	if (!s)
		return -ENOMEM;
	s->dir = strdup(dir);
	if (!s->dir) {
		r = -ENOMEM;
		goto fail;
	}
	r = mseg_store_read_json(dir, AUDIT_FILE, &doc, why);
	if (r == -ENOENT) {
		*ret = s;
		return 0;
	}
	if (r < 0)
		goto fail;
	r = -EBADMSG;
	if (!json_is_array(json_object_get(doc, "namespaces")) ||
	    !json_is_array(json_object_get(doc, "endpoints"))) {
		snprintf(why, MSEG_STORE_WHY_LEN,
			 "%s/%s: expected arrays 'namespaces' and 'endpoints'", dir, AUDIT_FILE);
		goto fail;
	}
	json_array_foreach(json_object_get(doc, "namespaces"), i, x)
	{
		if (!json_is_string(x)) {
			snprintf(why, MSEG_STORE_WHY_LEN, "%s/%s: namespaces[%zu] is not a string",
				 dir, AUDIT_FILE, i);
			goto fail;
		}
		if (mseg_audit_scope_set(s, json_string_value(x), NULL, true) < 0)
			goto fail;
	}
	json_array_foreach(json_object_get(doc, "endpoints"), i, x)
	{
		const char *ns = json_string_value(json_object_get(x, "namespace"));
		const char *name = json_string_value(json_object_get(x, "name"));

		if (!ns || !name || mseg_audit_scope_set(s, ns, name, true) < 0) {
			snprintf(why, MSEG_STORE_WHY_LEN,
				 "%s/%s: endpoints[%zu] needs strings 'namespace' and 'name'", dir,
				 AUDIT_FILE, i);
			goto fail;
		}
	}
	json_decref(doc);
	*ret = s;
	return 0;
fail:
	json_decref(doc);
	mseg_audit_scope_free(s);
	return r;
}

int mseg_audit_scope_save(const struct mseg_audit_scope *s)
{
	json_t *doc = mseg_audit_scope_to_json(s);
	int r;

	if (!doc)
		return -ENOMEM;
	r = mseg_store_write_json(s->dir, AUDIT_FILE, doc);
	json_decref(doc);
	return r;
}

int mseg_audit_scope_copy(const struct mseg_audit_scope *s, struct mseg_audit_scope **ret)
{
	struct mseg_audit_scope *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->dir = strdup(s->dir);
	if (!c->dir)
		goto oom;
	for (size_t i = 0; i < s->n_namespaces; i++)
		if (add(&c->namespaces, &c->n_namespaces, s->namespaces[i]) < 0)
			goto oom;
	for (size_t i = 0; i < s->n_endpoints; i++)
		if (add(&c->endpoints, &c->n_endpoints, s->endpoints[i]) < 0)
			goto oom;
	*ret = c;
	return 0;
oom:
	mseg_audit_scope_free(c);
	return -ENOMEM;
}

void mseg_audit_entry(struct mseg_table_entry *e)
{
	if (e->verdict != MSEG_VERDICT_DENY)
		return;
	e->verdict = MSEG_VERDICT_ALLOW;
	e->audit = 1;
	e->audit_by = e->decided_by;
}

void mseg_audit_default(struct mseg_endpoint_default *d)
{
	if (d->verdict != MSEG_VERDICT_DENY)
		return;
	d->verdict = MSEG_VERDICT_ALLOW;
	d->audit = 1;
	d->audit_by = d->decided_by;
}

static bool covered_id(const struct mseg_audit_scope *s, const struct mseg_state *st, uint32_t id)
{
	if (!s || !st || (!s->n_namespaces && !s->n_endpoints))
		return false;
	for (size_t i = 0; i < st->n_endpoints; i++)
		if (st->endpoints[i]->ep.id == id)
			return mseg_audit_scope_covers(s, st->endpoints[i]->ep.namespace,
						       st->endpoints[i]->ep.name);
	return false;
}

int mseg_audit_scope_transform(const struct mseg_audit_scope *s, const struct mseg_state *st,
			       struct mseg_table_diff *diff)
{
	if (!s || (!s->n_namespaces && !s->n_endpoints))
		return 0;
	for (size_t i = 0; i < diff->n_added; i++)
		if (diff->added[i].verdict == MSEG_VERDICT_DENY &&
		    covered_id(s, st, diff->added[i].endpoint))
			mseg_audit_entry(&diff->added[i]);
	for (size_t i = 0; i < diff->n_removed; i++)
		if (diff->removed[i].verdict == MSEG_VERDICT_DENY &&
		    covered_id(s, st, diff->removed[i].endpoint))
			mseg_audit_entry(&diff->removed[i]);
	for (int d = 0; d < 2; d++)
		for (size_t i = 0; i < diff->n_defaults_changed[d]; i++)
			if (covered_id(s, st, diff->defaults_changed[d][i].endpoint))
				mseg_audit_default(&diff->defaults_changed[d][i]);
	return 0;
}

static int push(void **v, size_t *n, size_t size, const void *x)
{
	void *nv = realloc(*v, (*n + 1) * size);

	if (!nv)
		return -ENOMEM;
	*v = nv;
	memcpy((char *)nv + *n * size, x, size);
	(*n)++;
	return 0;
}

int mseg_audit_scope_diff(const struct mseg_compiled *table, const struct mseg_state *st,
			  const struct mseg_audit_scope *old, const struct mseg_audit_scope *new_,
			  struct mseg_table_diff *ret)
{
	int r = 0;

	for (size_t i = 0; i < table->n_entries && r == 0; i++) {
		const struct mseg_table_entry *e = &table->entries[i];
		bool was, is;
		struct mseg_table_entry x;

		if (e->verdict != MSEG_VERDICT_DENY)
			continue;
		was = covered_id(old, st, e->endpoint);
		is = covered_id(new_, st, e->endpoint);
		if (was == is)
			continue;
		x = *e;
		if (was)
			mseg_audit_entry(&x);
		r = push((void **)&ret->removed, &ret->n_removed, sizeof(x), &x);
		x = *e;
		if (is)
			mseg_audit_entry(&x);
		if (r == 0)
			r = push((void **)&ret->added, &ret->n_added, sizeof(x), &x);
	}
	for (int d = 0; d < 2 && r == 0; d++)
		for (size_t i = 0; i < table->n_defaults && r == 0; i++) {
			struct mseg_endpoint_default x = table->defaults[d][i];
			bool was = covered_id(old, st, x.endpoint),
			     is = covered_id(new_, st, x.endpoint);

			if (was == is)
				continue;
			if (is)
				mseg_audit_default(&x);
			r = push((void **)&ret->defaults_changed[d], &ret->n_defaults_changed[d],
				 sizeof(x), &x);
		}
	if (r < 0) {
		mseg_table_diff_free(ret);
		*ret = (struct mseg_table_diff){0};
	}
	return r;
}
