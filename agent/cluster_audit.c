// SPDX-License-Identifier: Apache-2.0
/*
 * Audit scopes (agent/audit_scope.h) shared through etcd, like policies: `mseg namespace audit
 * NS on` or `mseg audit NS/NAME on` on any node applies on every node. One key per scope entry,
 * so two nodes changing different entries never overwrite each other:
 *
 *   audit/namespaces/<ns>          {"namespace"}
 *   audit/endpoints/<ns>/<name>    {"namespace","name"}   (the endpoint may live on any node)
 *
 * The same rules as for policies tell a change made elsewhere from one made here while etcd
 * was away: c->audit is what etcd held as far as this agent knew.
 */
#include "agent/cluster_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/audit_scope.h"
#include "lib/log.h"
#include "lib/macro.h"

/* The etcd keys and values of a scope. */
static int scope_keys(const struct mseg_cluster *c, const struct mseg_audit_scope *s,
		      struct mseg_kvmap *out)
{
	json_t *doc = mseg_audit_scope_to_json(s), *x;
	size_t i;
	int r = 0;

	if (!doc)
		return -ENOMEM;
	json_array_foreach(json_object_get(doc, "namespaces"), i, x)
	{
		const char *ns = json_string_value(x);
		_cleanup_free_ char *k = mseg_cluster_key(c, "audit/namespaces/%s", ns);
		_cleanup_free_ char *v = NULL;
		json_t *o = json_pack("{s:s}", "namespace", ns);

		v = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		json_decref(o);
		r = k && v ? mseg_kvmap_set(out, k, v) : -ENOMEM;
		if (r < 0)
			break;
	}
	json_array_foreach(json_object_get(doc, "endpoints"), i, x)
	{
		const char *ns = json_string_value(json_object_get(x, "namespace"));
		const char *name = json_string_value(json_object_get(x, "name"));
		_cleanup_free_ char *k = NULL, *v = NULL;
		json_t *o;

		if (r < 0)
			break;
		k = mseg_cluster_key(c, "audit/endpoints/%s/%s", ns, name);
		o = json_pack("{s:s,s:s}", "namespace", ns, "name", name);
		v = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		json_decref(o);
		r = k && v ? mseg_kvmap_set(out, k, v) : -ENOMEM;
	}
	json_decref(doc);
	return r;
}

/* tail "audit/namespaces/NS" or "audit/endpoints/NS/NAME" -> ns, name (NULL for a namespace) */
static int tail_parse(const char *tail, char **ns, char **name)
{
	const char *p, *slash;

	*ns = *name = NULL;
	if (!strncmp(tail, "audit/namespaces/", strlen("audit/namespaces/"))) {
		p = tail + strlen("audit/namespaces/");
		if (!*p || strchr(p, '/'))
			return -EBADMSG;
		*ns = strdup(p);
		return *ns ? 0 : -ENOMEM;
	}
	if (strncmp(tail, "audit/endpoints/", strlen("audit/endpoints/")))
		return -EBADMSG;
	p = tail + strlen("audit/endpoints/");
	slash = strchr(p, '/');
	if (!slash || slash == p || !slash[1] || strchr(slash + 1, '/'))
		return -EBADMSG;
	*ns = strndup(p, (size_t)(slash - p));
	*name = strdup(slash + 1);
	if (!*ns || !*name) {
		free(*ns);
		free(*name);
		return -ENOMEM;
	}
	return 0;
}

/* Sets key's entry on or off in s; 1 if that changed s. */
static int scope_set_key(const struct mseg_cluster *c, struct mseg_audit_scope *s, const char *key,
			 bool on)
{
	_cleanup_free_ char *ns = NULL, *name = NULL;
	size_t n = strlen(c->prefix);
	int r;

	if (strncmp(key, c->prefix, n) || key[n] != '/')
		return -EBADMSG;
	r = tail_parse(key + n + 1, &ns, &name);
	if (r < 0)
		return r;
	return mseg_audit_scope_set(s, ns, name, on);
}

static void scope_install(struct mseg_agent *a, struct mseg_audit_scope *next)
{
	/* before the first reconcile (start-up) nothing was compiled: that reconcile applies it */
	int r = mseg_agent_audit_replace(a, next, a->cluster->last_reconcile.tv_sec != 0);

	if (r < 0)
		log_errno(r, "cluster: cannot apply the audit scope from etcd");
}

void mseg_cluster_audit_event(struct mseg_agent *a, const char *key, const char *tail,
			      const char *value)
{
	struct mseg_cluster *c = a->cluster;
	struct mseg_audit_scope *next = NULL;
	int r;

	if (value)
		mseg_kvmap_set(&c->audit, key, value);
	else
		mseg_kvmap_del(&c->audit, key);
	if (!a->audit)
		return;
	r = mseg_audit_scope_copy(a->audit, &next);
	if (r == 0)
		r = scope_set_key(c, next, key, value != NULL);
	if (r > 0) {
		log_info("cluster: audit mode %s for '%s' (set on another node)",
			 value ? "on" : "off", tail + strlen("audit/"));
		scope_install(a, TAKE_PTR(next));
		return;
	}
	if (r < 0)
		log_warn("cluster: ignoring '%s': %s", key,
			 r == -EBADMSG ? "not a key mseg wrote" : strerror(-r));
	mseg_audit_scope_free(next);
}

void mseg_cluster_audit_resync(struct mseg_agent *a, struct mseg_kvmap *now, bool first)
{
	struct mseg_cluster *c = a->cluster;
	struct mseg_kvmap local = {0}, old = c->audit;
	struct mseg_audit_scope *next = NULL;
	bool changed = false;
	int r;

	c->audit = *now;
	*now = (struct mseg_kvmap){0};
	if (!a->audit)
		goto out;
	r = scope_keys(c, a->audit, &local);
	if (r == 0)
		r = mseg_audit_scope_copy(a->audit, &next);
	if (r < 0)
		goto out;
	/* in etcd, not here: set elsewhere, unless it was removed here while etcd was away */
	for (size_t i = 0; i < c->audit.n; i++) {
		const char *k = c->audit.v[i].key;

		if (mseg_kvmap_get(&local, k) || (!first && mseg_kvmap_get(&old, k)))
			continue;
		changed |= scope_set_key(c, next, k, true) > 0;
	}
	/* here, not in etcd: removed elsewhere (it was there), unless set here while away */
	for (size_t i = 0; i < local.n; i++) {
		const char *k = local.v[i].key;

		if (mseg_kvmap_get(&c->audit, k) || (!first && !mseg_kvmap_get(&old, k)))
			continue;
		changed |= scope_set_key(c, next, k, false) > 0;
	}
	if (changed)
		scope_install(a, TAKE_PTR(next));
out:
	mseg_audit_scope_free(next);
	mseg_kvmap_clear(&local);
	mseg_kvmap_clear(&old);
}

int mseg_cluster_audit_publish(struct mseg_agent *a, struct mseg_cluster_publish *j)
{
	struct mseg_cluster *c = a->cluster;
	struct mseg_kvmap local = {0};
	int r;

	if (!a->audit)
		return 0;
	r = scope_keys(c, a->audit, &local);
	for (size_t i = 0; r == 0 && i < local.n; i++) {
		const char *have = mseg_kvmap_get(&c->audit, local.v[i].key);

		if (!have || strcmp(have, local.v[i].value))
			r = mseg_cluster_publish_add(j, local.v[i].key, local.v[i].value, 0,
						     MSEG_CLUSTER_MAP_AUDIT);
	}
	for (size_t i = 0; r == 0 && i < c->audit.n; i++)
		if (!mseg_kvmap_get(&local, c->audit.v[i].key))
			r = mseg_cluster_publish_add(j, c->audit.v[i].key, NULL, 0,
						     MSEG_CLUSTER_MAP_AUDIT);
	mseg_kvmap_clear(&local);
	return r;
}
