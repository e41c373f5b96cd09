// SPDX-License-Identifier: Apache-2.0
/*
 * The cluster view kept in step with etcd, both ways.
 *
 * etcd -> here: a full read of the prefix (start, compaction, reconnect) or one watch event
 * at a time updates the node list (and the overlay), the other nodes' endpoints, the identity
 * cache, and merges namespaces and policies into the local state (saved, as a cache that
 * lets the agent start while etcd is down).
 *
 * here -> etcd: after each control request, what differs between the local state and the
 * last-known content of etcd was changed here and is published (node and endpoints on the
 * node's lease). The last-known content is what tells a policy deleted elsewhere (it was in
 * etcd, it is gone) from one applied here while etcd was away (it never was): the first is
 * removed locally, the second published. Writers race as etcd orders them: every node
 * applies the same sequence of watch events, so they converge on the last write.
 */
#include "agent/cluster_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/ports.h"
#include "agent/reconcile.h"
#include "lib/log.h"
#include "lib/macro.h"
#include "policy/cidr.h"
#include "policy/labels.h"

/* The part of key after "<prefix>/", or NULL when key is outside the prefix. */
static const char *key_tail(const struct mseg_cluster *c, const char *key)
{
	size_t n = strlen(c->prefix);

	if (strncmp(key, c->prefix, n) || key[n] != '/')
		return NULL;
	return key + n + 1;
}

static bool starts(const char *s, const char *p)
{
	return !strncmp(s, p, strlen(p));
}

static char *dump(const json_t *o)
{
	return o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
}

/* ---- nodes ------------------------------------------------------------------------------ */

static void node_clear(struct mseg_cluster_node *n)
{
	free(n->name);
	*n = (struct mseg_cluster_node){0};
}

static int node_parse(const char *value, struct mseg_cluster_node *ret)
{
	const char *name, *ip, *pod, *why;
	json_int_t idx;
	json_t *doc = json_loads(value, 0, NULL);
	int r = -EBADMSG;

	if (!doc)
		return -EBADMSG;
	if (json_unpack(doc, "{s:s,s:s,s:s,s:I}", "name", &name, "ip", &ip, "pod_cidr", &pod,
			"index", &idx) == 0 &&
	    mseg_cidr_parse(ip, true, &ret->ip, &why) == 0 && ret->ip.family == MSEG_AF_INET &&
	    mseg_cidr_parse(pod, false, &ret->pod_cidr, &why) == 0 &&
	    ret->pod_cidr.family == MSEG_AF_INET && idx > 0 && idx < 65536) {
		ret->ip.prefixlen = 32;
		ret->index = (uint32_t)idx;
		ret->name = strdup(name);
		ret->alive = true;
		r = ret->name ? 0 : -ENOMEM;
	}
	json_decref(doc);
	return r;
}

static struct mseg_cluster_node *node_find(struct mseg_cluster *c, const char *name)
{
	for (size_t i = 0; i < c->n_nodes; i++)
		if (!strcmp(c->nodes[i].name, name))
			return &c->nodes[i];
	return NULL;
}

static int node_put(struct mseg_cluster *c, const char *value)
{
	struct mseg_cluster_node n = {0}, *old, *v;
	int r = node_parse(value, &n);

	if (r < 0)
		return r;
	old = node_find(c, n.name);
	if (old) {
		node_clear(old);
		*old = n;
		return 0;
	}
	v = realloc(c->nodes, (c->n_nodes + 1) * sizeof(*v));
	if (!v) {
		node_clear(&n);
		return -ENOMEM;
	}
	c->nodes = v;
	c->nodes[c->n_nodes++] = n;
	return 0;
}

int mseg_cluster_node_forget(struct mseg_cluster *c, const char *name)
{
	struct mseg_cluster_node *n = node_find(c, name);

	if (!n || n->alive)
		return 0;
	node_clear(n);
	*n = c->nodes[--c->n_nodes];
	return 1;
}

/* The overlay follows the live nodes. */
static void overlay_sync(struct mseg_cluster *c)
{
	_cleanup_free_ struct mseg_overlay_node *v = calloc(c->n_nodes + 1, sizeof(*v));
	size_t n = 0;
	bool changed = false;
	int r;

	if (!v || !c->overlay)
		return;
	for (size_t i = 0; i < c->n_nodes; i++)
		if (c->nodes[i].alive)
			v[n++] = (struct mseg_overlay_node){.ip = c->nodes[i].ip,
							    .pod_cidr = c->nodes[i].pod_cidr};
	r = mseg_overlay_nodes_set(c->overlay, v, n, &changed);
	if (r < 0)
		log_errno(r, "cluster: cannot program the overlay for %zu node(s)", n);
	else if (changed)
		log_info("cluster: overlay programmed for %zu peer node(s)",
			 mseg_overlay_n_peers(c->overlay));
}

/* ---- remote endpoints ------------------------------------------------------------------ */

void mseg_cluster_remote_clear(struct mseg_cluster_remote *r)
{
	free(r->key);
	free(r->node);
	free(r->id_labels);
	free(r->ep.namespace);
	free(r->ep.name);
	mseg_labels_free(&r->ep.labels);
	for (size_t i = 0; i < r->ep.n_ports; i++)
		free(r->ep.ports[i].name);
	free(r->ep.ports);
	*r = (struct mseg_cluster_remote){0};
}

static int remote_parse(const char *key, const char *node, const char *value,
			struct mseg_cluster_remote *ret)
{
	json_t *doc = json_loads(value, 0, NULL), *ports, *item;
	const char *ns, *name, *ip, *why, *idl = "";
	struct mseg_op_error e = {0};
	json_int_t id = 0;
	size_t i;
	int r = -EBADMSG;

	if (!doc)
		return -EBADMSG;
	if (json_unpack(doc, "{s:s,s:s,s:s,s?I,s?s}", "namespace", &ns, "name", &name, "ip", &ip,
			"identity", &id, "id_labels", &idl) < 0)
		goto out;
	if (mseg_cidr_parse(ip, true, &ret->ep.ip, &why) < 0 || ret->ep.ip.family != MSEG_AF_INET)
		goto out;
	ret->ep.ip.prefixlen = 32;
	if (mseg_args_labels(doc, "labels", &ret->ep.labels, &e) < 0)
		goto out;
	ports = json_object_get(doc, "ports");
	if (json_is_array(ports) && json_array_size(ports)) {
		ret->ep.ports = calloc(json_array_size(ports), sizeof(*ret->ep.ports));
		if (!ret->ep.ports) {
			r = -ENOMEM;
			goto out;
		}
		json_array_foreach(ports, i, item)
		{
			if (mseg_port_from_json(item, &ret->ep.ports[i], e.message,
						sizeof(e.message)) < 0)
				goto out;
			ret->ep.n_ports = i + 1;
		}
	}
	ret->ep.namespace = strdup(ns);
	ret->ep.name = strdup(name);
	ret->key = strdup(key);
	ret->node = strdup(node);
	ret->id_labels = strdup(idl);
	ret->identity = (uint32_t)id;
	r = ret->ep.namespace && ret->ep.name && ret->key && ret->node && ret->id_labels ? 0
											 : -ENOMEM;
out:
	json_decref(doc);
	if (r < 0)
		mseg_cluster_remote_clear(ret);
	return r;
}

static ssize_t remote_find(const struct mseg_cluster *c, const char *key)
{
	for (size_t i = 0; i < c->n_remotes; i++)
		if (!strcmp(c->remotes[i].key, key))
			return (ssize_t)i;
	return -1;
}

static void remote_del(struct mseg_cluster *c, const char *key)
{
	ssize_t i = remote_find(c, key);

	if (i < 0)
		return;
	mseg_cluster_remote_clear(&c->remotes[i]);
	c->remotes[i] = c->remotes[--c->n_remotes];
	c->need_reconcile = true;
}

/* key: endpoints/<node>/<ns>/<name> (tail); node is that node. */
static int remote_put(struct mseg_cluster *c, const char *key, const char *node, const char *value)
{
	struct mseg_cluster_remote r = {0}, *v;
	ssize_t i;
	int ret = remote_parse(key, node, value, &r);

	if (ret < 0)
		return ret;
	i = remote_find(c, key);
	if (i >= 0) {
		/* same endpoint, new content: it keeps its id (the compiler diffs by id) */
		r.ep.id = c->remotes[i].ep.id;
		mseg_cluster_remote_clear(&c->remotes[i]);
		c->remotes[i] = r;
	} else {
		v = realloc(c->remotes, (c->n_remotes + 1) * sizeof(*v));
		if (!v) {
			mseg_cluster_remote_clear(&r);
			return -ENOMEM;
		}
		c->remotes = v;
		r.ep.id = c->next_remote_id++;
		c->remotes[c->n_remotes++] = r;
	}
	c->need_reconcile = true;
	return 0;
}

/* ---- namespaces ------------------------------------------------------------------------ */

static json_t *namespace_value(const struct mseg_namespace *ns)
{
	return json_pack("{s:s,s:o}", "name", ns->name, "labels", mseg_labels_to_json(&ns->labels));
}

/* Makes the local namespace equal to the etcd value; *changed when it did change. */
static int namespace_merge(struct mseg_agent *a, const char *value, bool *changed)
{
	json_t *doc = json_loads(value, 0, NULL);
	struct mseg_labels labels = {0};
	struct mseg_op_error e = {0};
	struct mseg_namespace *ns;
	const char *name, *why;
	int r = -EBADMSG;

	if (!doc)
		return -EBADMSG;
	if (json_unpack(doc, "{s:s}", "name", &name) < 0 || mseg_name_check(name, &why) < 0 ||
	    mseg_args_labels(doc, "labels", &labels, &e) < 0)
		goto out;
	r = mseg_labels_set(&labels, MSEG_NAMESPACE_NAME_LABEL, name);
	if (r < 0)
		goto out;
	ns = mseg_state_namespace_find(a->state, name);
	if (!ns) {
		r = mseg_state_namespace_add(a->state, name, &labels, NULL);
		*changed = r == 0;
	} else if (mseg_labels_cmp(&ns->labels, &labels)) {
		mseg_labels_free(&ns->labels);
		ns->labels = labels;
		labels = (struct mseg_labels){0};
		*changed = true;
		r = 0;
	} else {
		r = 0;
	}
out:
	mseg_labels_free(&labels);
	json_decref(doc);
	return r;
}

/* ---- policies -------------------------------------------------------------------------- */

static char *policy_key(const struct mseg_cluster *c, const struct mseg_policy *p)
{
	return mseg_cluster_key(c, "policies/%s/%s/%s", mseg_policy_kind_name(p->kind),
				p->namespace ? p->namespace : "-", p->name);
}

static json_t *policy_value(const struct mseg_agent_policy *p)
{
	return json_pack("{s:s,s:s,s:i}", "file", p->file, "text", p->text, "index", (int)p->index);
}

static ssize_t policy_find_key(const struct mseg_agent *a, const char *key)
{
	for (size_t i = 0; i < a->policies.n; i++) {
		_cleanup_free_ char *k = policy_key(a->cluster, &a->policies.v[i]->pol);

		if (k && !strcmp(k, key))
			return (ssize_t)i;
	}
	return -1;
}

/* The local policy under key equals value (or, value NULL, is absent). */
static bool policy_local_is(const struct mseg_agent *a, const char *key, const char *value)
{
	ssize_t i = policy_find_key(a, key);
	_cleanup_free_ char *v = NULL;
	json_t *o;

	if (i < 0)
		return !value;
	if (!value)
		return false;
	o = policy_value(a->policies.v[i]);
	v = dump(o);
	json_decref(o);
	return v && !strcmp(v, value);
}

/* Applies an etcd policy value locally (as `mseg apply` of its document would). */
static int policy_merge(struct mseg_agent *a, const char *key, const char *value)
{
	struct mseg_agent_policies next = {0};
	struct mseg_apply_result *res = NULL;
	struct mseg_diag diag = {0};
	struct mseg_policy_doc doc;
	const char *file, *text;
	size_t n_res = 0;
	json_t *o;
	int r;

	if (policy_local_is(a, key, value))
		return 0;
	o = json_loads(value, 0, NULL);
	if (!o || json_unpack(o, "{s:s,s:s}", "file", &file, "text", &text) < 0) {
		json_decref(o);
		return -EBADMSG;
	}
	doc = (struct mseg_policy_doc){.name = file, .text = text, .len = strlen(text)};
	r = mseg_agent_policies_apply(&a->policies, &doc, 1, &next, &res, &n_res, &diag);
	mseg_diag_free(&diag);
	mseg_apply_results_free(res, n_res);
	json_decref(o);
	if (r < 0)
		return r;
	mseg_agent_policies_free(&a->policies);
	a->policies = next;
	a->cluster->need_reconcile = true;
	return 1;
}

static int policy_remove(struct mseg_agent *a, const char *key)
{
	ssize_t i = policy_find_key(a, key);

	if (i < 0)
		return 0;
	mseg_agent_policies_remove(&a->policies, (size_t)i);
	a->cluster->need_reconcile = true;
	return 1;
}

/* ---- one key of etcd ------------------------------------------------------------------- */

struct merge_ctx {
	bool namespaces_dirty, policies_dirty, nodes_dirty;
	/* during a resync: what etcd held as far as we knew before it */
	const struct mseg_kvmap *old_pol, *old_ns;
	/* during a resync: the audit/... keys etcd holds, applied together at the end */
	struct mseg_kvmap *audit_now;
};

/*
 * During a resync: etcd still holds what it held before (value unchanged) but the local copy
 * differs, so the change was made here while etcd was away: it wins and is published.
 */
static bool changed_here(const struct mseg_kvmap *old, const char *key, const char *value)
{
	const char *was = old ? mseg_kvmap_get(old, key) : NULL;

	return was && !strcmp(was, value);
}

static void id_cache_put(struct mseg_cluster *c, const char *value)
{
	json_t *o = json_loads(value, 0, NULL);
	const char *labels;
	json_int_t id;
	char num[16];

	if (o && json_unpack(o, "{s:I,s:s}", "id", &id, "labels", &labels) == 0 && id > 0 &&
	    id < (1 << 24)) {
		snprintf(num, sizeof(num), "%u", (unsigned)id);
		mseg_kvmap_set(&c->ids, labels, num);
	}
	json_decref(o);
}

/* A PUT (value) or DELETE (value NULL) of key, from a resync or the watch. */
static int key_apply(struct mseg_agent *a, const char *key, const char *value, struct merge_ctx *m)
{
	struct mseg_cluster *c = a->cluster;
	const char *t = key_tail(c, key);
	char node[256];
	int r = 0;

	if (!t)
		return 0;
	if (starts(t, "ids/by-labels/")) {
		if (value)
			id_cache_put(c, value);
	} else if (starts(t, "nodes/")) {
		const char *name = t + strlen("nodes/");

		if (!strcmp(name, a->cfg.node)) {
			/* our own key: gone means the lease expired, publish again */
			if (!value) {
				mseg_kvmap_del(&c->published, key);
				c->need_publish = true;
			}
			if (value)
				r = node_put(c, value);
		} else if (value) {
			r = node_put(c, value);
			if (r == 0)
				log_debug("cluster: node '%s' is up", name);
		} else {
			struct mseg_cluster_node *n = node_find(c, name);

			if (n && n->alive)
				log_info("cluster: node '%s' left (lease expired or revoked)",
					 name);
			if (n)
				n->alive = false;
		}
		m->nodes_dirty = true;
	} else if (starts(t, "audit/")) {
		if (m->audit_now) {
			if (value)
				mseg_kvmap_set(m->audit_now, key, value);
		} else {
			mseg_cluster_audit_event(a, key, t, value);
		}
	} else if (starts(t, "podcidrs/by-owner/")) {
		/* a node's slot released (`mseg node rm`): it is gone for good */
		if (!value && mseg_cluster_node_forget(c, t + strlen("podcidrs/by-owner/")))
			log_info("cluster: node '%s' removed", t + strlen("podcidrs/by-owner/"));
	} else if (starts(t, "endpoints/")) {
		const char *rest = t + strlen("endpoints/"), *slash = strchr(rest, '/');

		if (!slash || (size_t)(slash - rest) >= sizeof(node))
			return 0;
		snprintf(node, sizeof(node), "%.*s", (int)(slash - rest), rest);
		if (!strcmp(node, a->cfg.node)) {
			if (!value) {
				mseg_kvmap_del(&c->published, key);
				c->need_publish = true;
			}
		} else if (value) {
			r = remote_put(c, key, node, value);
		} else {
			remote_del(c, key);
		}
	} else if (starts(t, "namespaces/")) {
		bool changed = false;

		if (!value) {
			mseg_kvmap_del(&c->namespaces, key);
			return 0;
		}
		mseg_kvmap_set(&c->namespaces, key, value);
		if (changed_here(m->old_ns, key, value)) {
			c->need_publish = true;
			return 0;
		}
		r = namespace_merge(a, value, &changed);
		if (changed) {
			m->namespaces_dirty = true;
			c->need_reconcile = true;
		}
	} else if (starts(t, "policies/")) {
		if (value) {
			mseg_kvmap_set(&c->policies, key, value);
			if (changed_here(m->old_pol, key, value) &&
			    !policy_local_is(a, key, value)) {
				c->need_publish = true;
				return 0;
			}
			r = policy_merge(a, key, value);
		} else {
			mseg_kvmap_del(&c->policies, key);
			r = policy_remove(a, key);
		}
		if (r > 0)
			m->policies_dirty = true;
	}
	if (r < 0)
		log_warn("cluster: ignoring '%s': %s", key,
			 r == -EBADMSG ? "not a value mseg wrote" : strerror(-r));
	return 0;
}

static void merge_finish(struct mseg_agent *a, const struct merge_ctx *m)
{
	int r;

	if (m->namespaces_dirty) {
		r = mseg_state_save_namespaces(a->state);
		if (r < 0)
			log_errno(r, "cannot record namespaces in '%s'", a->cfg.state_dir);
	}
	if (m->policies_dirty) {
		r = mseg_agent_policies_save(a->cfg.state_dir, &a->policies);
		if (r < 0)
			log_errno(r, "cannot record policies in '%s'", a->cfg.state_dir);
	}
	if (m->nodes_dirty)
		overlay_sync(a->cluster);
}

int mseg_cluster_watch_event(const struct mseg_etcd_event *ev, void *data)
{
	struct mseg_agent *a = data;
	struct mseg_cluster *c = a->cluster;
	struct merge_ctx m = {0};

	switch (ev->type) {
	case MSEG_ETCD_EVENT_PUT:
	case MSEG_ETCD_EVENT_DELETE:
		c->watch_events++;
		key_apply(a, ev->kv->key, ev->type == MSEG_ETCD_EVENT_PUT ? ev->kv->value : NULL,
			  &m);
		merge_finish(a, &m);
		break;
	case MSEG_ETCD_EVENT_CONNECTED:
		if (c->watch_down) {
			/* back: read everything again and say who we are (etcd may be new) */
			log_info("cluster: etcd watch reconnected: resyncing");
			c->watch_down = false;
			c->need_resync = true;
			c->next_try = (struct timespec){0};
		}
		break;
	case MSEG_ETCD_EVENT_DISCONNECTED:
		if (!c->watch_down)
			log_warn("cluster: etcd watch lost; enforcing what is programmed, "
				 "reconnecting");
		c->watch_down = true;
		break;
	case MSEG_ETCD_EVENT_COMPACTED:
		log_info("cluster: watch history compacted at revision %lld: resyncing",
			 (long long)ev->revision);
		c->need_resync = true;
		return -ERANGE;
	}
	return 0;
}

/* Makes the cluster view what etcd held at rg.revision; the watch goes on from there. */
static int resync_apply(struct mseg_agent *a, const struct mseg_etcd_range *rg_, double read_ms)
{
	struct mseg_cluster *c = a->cluster;
	const struct mseg_etcd_range rg = *rg_;
	_cleanup_free_ char *own_ep = mseg_cluster_key(c, "endpoints/%s/", a->cfg.node);
	_cleanup_free_ char *own_node = mseg_cluster_key(c, "nodes/%s", a->cfg.node);
	struct mseg_kvmap old_pol = c->policies, old_ns = c->namespaces;
	struct mseg_kvmap audit_now = {0};
	struct merge_ctx m = {.old_pol = &old_pol, .old_ns = &old_ns, .audit_now = &audit_now};
	double t0 = mseg_cluster_now_ms() - read_ms;

	if (!own_ep || !own_node)
		return -ENOMEM;

	/* everything below is rebuilt from what etcd says now */
	c->policies = (struct mseg_kvmap){0};
	c->namespaces = (struct mseg_kvmap){0};
	mseg_kvmap_clear(&c->published);
	for (size_t i = 0; i < c->n_nodes; i++)
		c->nodes[i].alive = false;
	{
		/* remotes: keep ids stable for endpoints still there */
		struct mseg_cluster_remote *old = c->remotes;
		size_t n_old = c->n_remotes;

		c->remotes = NULL;
		c->n_remotes = 0;
		for (size_t i = 0; i < rg.n_kvs; i++) {
			const char *k = rg.kvs[i].key;

			if (starts(k, own_ep) ||
			    !starts(key_tail(c, k) ? key_tail(c, k) : "", "endpoints/"))
				continue;
			key_apply(a, k, rg.kvs[i].value, &m);
			for (size_t j = 0; j < n_old; j++)
				if (c->n_remotes && old[j].key &&
				    !strcmp(old[j].key, c->remotes[c->n_remotes - 1].key)) {
					c->remotes[c->n_remotes - 1].ep.id = old[j].ep.id;
					break;
				}
		}
		for (size_t j = 0; j < n_old; j++)
			mseg_cluster_remote_clear(&old[j]);
		free(old);
	}
	for (size_t i = 0; i < rg.n_kvs; i++) {
		const char *k = rg.kvs[i].key, *t = key_tail(c, k);

		if (!t || starts(t, "endpoints/")) {
			if (t && starts(k, own_ep))
				mseg_kvmap_set(&c->published, k, rg.kvs[i].value);
			continue;
		}
		if (!strcmp(k, own_node))
			mseg_kvmap_set(&c->published, k, rg.kvs[i].value);
		key_apply(a, k, rg.kvs[i].value, &m);
	}
	mseg_cluster_audit_resync(a, &audit_now, !c->synced_once);
	/* nodes neither alive nor holding a pod CIDR were removed (`mseg node rm`) meanwhile */
	for (size_t i = c->n_nodes; i-- > 0;) {
		_cleanup_free_ char *k =
		    mseg_cluster_key(c, "podcidrs/by-owner/%s", c->nodes[i].name);
		bool held = false;

		for (size_t j = 0; k && j < rg.n_kvs && !held; j++)
			held = !strcmp(rg.kvs[j].key, k);
		if (k && !held && !c->nodes[i].alive)
			mseg_cluster_node_forget(c, c->nodes[i].name);
	}
	/* policies that were in etcd and are not any more were deleted elsewhere */
	for (size_t i = 0; i < old_pol.n; i++)
		if (!mseg_kvmap_get(&c->policies, old_pol.v[i].key) &&
		    policy_local_is(a, old_pol.v[i].key, old_pol.v[i].value) &&
		    policy_remove(a, old_pol.v[i].key) > 0)
			m.policies_dirty = true;
	/*
	 * On the very first sync etcd is the truth: a local policy it does not hold was deleted
	 * while this agent was away (the local copy is only a cache).
	 */
	if (!c->synced_once)
		for (size_t i = a->policies.n; i-- > 0;) {
			_cleanup_free_ char *k = policy_key(c, &a->policies.v[i]->pol);

			if (k && !mseg_kvmap_get(&c->policies, k)) {
				mseg_agent_policies_remove(&a->policies, i);
				m.policies_dirty = true;
				c->need_reconcile = true;
			}
		}
	mseg_kvmap_clear(&old_pol);
	mseg_kvmap_clear(&old_ns);
	merge_finish(a, &m);
	c->resyncs++;
	c->last_resync_ms = mseg_cluster_now_ms() - t0;
	clock_gettime(CLOCK_REALTIME, &c->last_sync);
	c->synced_once = true;
	c->need_publish = true;
	c->need_reconcile = true;
	log_debug("cluster: resync of %zu key(s) at revision %lld: %zu node(s), %zu remote "
		  "endpoint(s), %zu policies in %.1f ms",
		  rg.n_kvs, (long long)rg.revision, c->n_nodes, c->n_remotes, a->policies.n,
		  mseg_cluster_now_ms() - t0);
	c->need_resync = false;
	mseg_cluster_resync_done(a, rg.revision);
	return 0;
}

int mseg_cluster_resync(struct mseg_agent *a)
{
	struct mseg_cluster *c = a->cluster;
	struct mseg_etcd_range rg = {0};
	_cleanup_free_ char *dir = mseg_cluster_key(c, "%s", "");
	double t0 = mseg_cluster_now_ms();
	int r;

	if (!dir)
		return -ENOMEM;
	r = mseg_etcd_range_prefix(c->etcd, dir, &rg);
	if (r < 0)
		return mseg_cluster_store_failed(c, r, "reading the cluster state");
	mseg_cluster_store_ok(c);
	r = resync_apply(a, &rg, mseg_cluster_now_ms() - t0);
	mseg_etcd_range_clear(&rg);
	return r;
}

struct resync_job {
	char *dir;
	struct mseg_etcd_range rg;
	double read_ms;
};

static void resync_job_free(void *data)
{
	struct resync_job *j = data;

	free(j->dir);
	mseg_etcd_range_clear(&j->rg);
	free(j);
}

static int resync_run(struct mseg_etcd *etcd, void *data)
{
	struct resync_job *j = data;
	double t0 = mseg_cluster_now_ms();
	int r = mseg_etcd_range_prefix(etcd, j->dir, &j->rg);

	j->read_ms = mseg_cluster_now_ms() - t0;
	return r;
}

static void resync_done(struct mseg_agent *a, void *data, int r, const char *error)
{
	struct mseg_cluster *c = a->cluster;
	struct resync_job *j = data;

	c->resync_busy = false;
	if (r < 0) {
		mseg_cluster_store_failed_msg(c, r, "reading the cluster state", error);
		return;
	}
	mseg_cluster_store_ok(c);
	r = resync_apply(a, &j->rg, j->read_ms);
	if (r < 0)
		log_errno(r, "cluster: cannot merge the cluster state");
}

void mseg_cluster_resync_submit(struct mseg_agent *a)
{
	struct mseg_cluster *c = a->cluster;
	struct resync_job *j;

	if (c->resync_busy)
		return;
	j = calloc(1, sizeof(*j));
	if (!j)
		return;
	j->dir = mseg_cluster_key(c, "%s", "");
	if (!j->dir) {
		free(j);
		return;
	}
	if (mseg_cluster_submit(c, resync_run, resync_done, resync_job_free, j) == 0)
		c->resync_busy = true;
}

/* ---- publishing ------------------------------------------------------------------------ */

/*
 * A publish is one batch of writes run by the worker in order, stopping at the first failure;
 * the maps that track what etcd holds are updated on the loop for the writes that were done.
 */
struct publish_write {
	char *key;
	char *value; /* NULL: delete */
	int64_t lease;
	enum mseg_cluster_map map;
};

struct mseg_cluster_publish {
	struct publish_write *v;
	size_t n, cap, n_done;
};

static void publish_job_free(void *data)
{
	struct mseg_cluster_publish *j = data;

	if (!j)
		return;
	for (size_t i = 0; i < j->n; i++) {
		free(j->v[i].key);
		free(j->v[i].value);
	}
	free(j->v);
	free(j);
}

int mseg_cluster_publish_add(struct mseg_cluster_publish *j, const char *key, const char *value,
			     int64_t lease, enum mseg_cluster_map map)
{
	struct publish_write w = {.lease = lease, .map = map};

	if (j->n == j->cap) {
		size_t cap = j->cap ? j->cap * 2 : 16;
		struct publish_write *v = realloc(j->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		j->v = v;
		j->cap = cap;
	}
	w.key = strdup(key);
	w.value = value ? strdup(value) : NULL;
	if (!w.key || (value && !w.value)) {
		free(w.key);
		free(w.value);
		return -ENOMEM;
	}
	j->v[j->n++] = w;
	return 0;
}

static struct mseg_kvmap *publish_map_of(struct mseg_cluster *c, enum mseg_cluster_map m)
{
	switch (m) {
	case MSEG_CLUSTER_MAP_POLICIES:
		return &c->policies;
	case MSEG_CLUSTER_MAP_NAMESPACES:
		return &c->namespaces;
	case MSEG_CLUSTER_MAP_AUDIT:
		return &c->audit;
	case MSEG_CLUSTER_MAP_PUBLISHED:
		break;
	}
	return &c->published;
}

/* Queues key=value unless etcd already holds it (as far as we know). */
static int put_if_changed(struct mseg_cluster *c, struct mseg_cluster_publish *j,
			  enum mseg_cluster_map map, const char *key, const json_t *o,
			  int64_t lease)
{
	_cleanup_free_ char *v = dump(o);
	const char *have;

	if (!v)
		return -ENOMEM;
	have = mseg_kvmap_get(publish_map_of(c, map), key);
	if (have && !strcmp(have, v))
		return 0;
	return mseg_cluster_publish_add(j, key, v, lease, map);
}

static int publish_run(struct mseg_etcd *etcd, void *data)
{
	struct mseg_cluster_publish *j = data;
	int r = 0;

	for (j->n_done = 0; j->n_done < j->n; j->n_done++) {
		const struct publish_write *w = &j->v[j->n_done];

		if (w->value)
			r = mseg_etcd_put(etcd, w->key, w->value, strlen(w->value), w->lease, NULL);
		else
			r = mseg_etcd_delete(etcd, w->key, false, NULL, NULL);
		if (r < 0)
			break;
	}
	return r;
}

static void publish_done(struct mseg_agent *a, void *data, int r, const char *error)
{
	struct mseg_cluster *c = a->cluster;
	struct mseg_cluster_publish *j = data;

	c->publish_busy = false;
	for (size_t i = 0; i < j->n_done; i++) {
		const struct publish_write *w = &j->v[i];
		struct mseg_kvmap *m = publish_map_of(c, w->map);

		/* written under a lease given up meanwhile: published again under the new one */
		if (w->lease && w->lease != c->lease)
			continue;
		if (w->value)
			mseg_kvmap_set(m, w->key, w->value);
		else
			mseg_kvmap_del(m, w->key);
	}
	if (r < 0) {
		mseg_cluster_store_failed_msg(c, r, "publishing", error);
		c->need_publish = true;
		return;
	}
	mseg_cluster_store_ok(c);
}

static json_t *endpoint_value(const struct mseg_agent *a, const struct mseg_agent_endpoint *ep,
			      uint32_t identity, const char *id_labels)
{
	json_t *ports = json_array();
	char ip[MSEG_CIDR_STRLEN];

	for (size_t i = 0; i < ep->ep.n_ports; i++)
		json_array_append_new(ports,
				      json_pack("{s:s,s:i,s:s}", "name", ep->ep.ports[i].name,
						"port", (int)ep->ep.ports[i].port, "protocol",
						mseg_proto_name(ep->ep.ports[i].proto)));
	return json_pack("{s:s,s:s,s:s,s:o,s:o,s:s,s:I,s:s}", "node", a->cfg.node, "namespace",
			 ep->ep.namespace, "name", ep->ep.name, "labels",
			 mseg_labels_to_json(&ep->ep.labels), "ports", ports, "ip",
			 mseg_cidr_format(&ep->ep.ip, true, ip), "identity", (json_int_t)identity,
			 "id_labels", id_labels);
}

static int publish_endpoints(struct mseg_agent *a, struct mseg_cluster *c,
			     struct mseg_cluster_publish *j)
{
	_cleanup_free_ char *own = mseg_cluster_key(c, "endpoints/%s/", a->cfg.node);
	struct mseg_kvmap want = {0};
	int r = 0;

	if (!own)
		return -ENOMEM;
	for (size_t i = 0; i < a->state->n_endpoints && r == 0; i++) {
		const struct mseg_agent_endpoint *ep = a->state->endpoints[i];
		uint32_t id = mseg_agent_endpoint_identity(a, ep->ep.id);
		struct mseg_labels l = {0};
		_cleanup_free_ char *key = NULL, *idl = NULL;
		json_t *o;

		/* only endpoints enforced here, with their cluster identity known */
		if (ep->state != MSEG_EP_READY || !id)
			continue;
		r = mseg_cluster_id_labels(a, &ep->ep, &l, &idl);
		mseg_labels_free(&l);
		if (r < 0)
			break;
		key = mseg_cluster_key(c, "endpoints/%s/%s/%s", a->cfg.node, ep->ep.namespace,
				       ep->ep.name);
		o = endpoint_value(a, ep, id, idl);
		if (!key || !o) {
			json_decref(o);
			r = -ENOMEM;
			break;
		}
		r = mseg_kvmap_set(&want, key, "");
		if (r == 0)
			r = put_if_changed(c, j, MSEG_CLUSTER_MAP_PUBLISHED, key, o, c->lease);
		json_decref(o);
	}
	/* endpoints removed here since */
	for (size_t i = c->published.n; r == 0 && i-- > 0;) {
		const char *k = c->published.v[i].key;

		if (!starts(k, own) || mseg_kvmap_get(&want, k))
			continue;
		r = mseg_cluster_publish_add(j, k, NULL, 0, MSEG_CLUSTER_MAP_PUBLISHED);
	}
	mseg_kvmap_clear(&want);
	return r;
}

static int publish_policies(struct mseg_agent *a, struct mseg_cluster *c,
			    struct mseg_cluster_publish *j)
{
	struct mseg_kvmap local = {0};
	int r = 0;

	for (size_t i = 0; i < a->policies.n && r == 0; i++) {
		_cleanup_free_ char *key = policy_key(c, &a->policies.v[i]->pol);
		json_t *o = policy_value(a->policies.v[i]);

		r = key && o ? mseg_kvmap_set(&local, key, "") : -ENOMEM;
		if (r == 0)
			r = put_if_changed(c, j, MSEG_CLUSTER_MAP_POLICIES, key, o, 0);
		json_decref(o);
	}
	for (size_t i = c->policies.n; r == 0 && i-- > 0;) {
		const char *k = c->policies.v[i].key;

		if (mseg_kvmap_get(&local, k))
			continue;
		r = mseg_cluster_publish_add(j, k, NULL, 0, MSEG_CLUSTER_MAP_POLICIES);
	}
	mseg_kvmap_clear(&local);
	return r;
}

int mseg_cluster_publish(struct mseg_agent *a)
{
	struct mseg_cluster *c = a->cluster;
	char ip[MSEG_CIDR_STRLEN], pod[MSEG_CIDR_STRLEN];
	_cleanup_free_ char *nkey = mseg_cluster_key(c, "nodes/%s", a->cfg.node);
	struct mseg_cluster_publish *j;
	json_t *o;
	int r;

	if (!c->lease || !nkey)
		return 0;
	/* one batch at a time: this one is built against what the last one left in etcd */
	if (c->publish_busy)
		return 0;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	o = json_pack("{s:s,s:s,s:s,s:I}", "name", a->cfg.node, "ip",
		      mseg_cidr_format(&c->node_ip, true, ip), "pod_cidr",
		      mseg_cidr_format(&c->pod_cidr, false, pod), "index", (json_int_t)c->index);
	r = o ? put_if_changed(c, j, MSEG_CLUSTER_MAP_PUBLISHED, nkey, o, c->lease) : -ENOMEM;
	json_decref(o);
	for (size_t i = 0; r == 0 && i < a->state->n_namespaces; i++) {
		const struct mseg_namespace *ns = &a->state->namespaces[i];
		_cleanup_free_ char *key = mseg_cluster_key(c, "namespaces/%s", ns->name);

		o = namespace_value(ns);
		r = key && o ? put_if_changed(c, j, MSEG_CLUSTER_MAP_NAMESPACES, key, o, 0)
			     : -ENOMEM;
		json_decref(o);
	}
	if (r == 0)
		r = publish_policies(a, c, j);
	if (r == 0)
		r = mseg_cluster_audit_publish(a, j);
	if (r == 0)
		r = publish_endpoints(a, c, j);
	if (r < 0) {
		publish_job_free(j);
		return r;
	}
	c->need_publish = false;
	if (!j->n) {
		publish_job_free(j);
		return 0;
	}
	r = mseg_cluster_submit(c, publish_run, publish_done, publish_job_free, j);
	if (r < 0) {
		c->need_publish = true;
		return r;
	}
	c->publish_busy = true;
	return 0;
}

void mseg_cluster_view_free(struct mseg_cluster *c)
{
	for (size_t i = 0; i < c->n_nodes; i++)
		node_clear(&c->nodes[i]);
	free(c->nodes);
	for (size_t i = 0; i < c->n_remotes; i++)
		mseg_cluster_remote_clear(&c->remotes[i]);
	free(c->remotes);
	mseg_kvmap_clear(&c->ids);
	mseg_kvmap_clear(&c->policies);
	mseg_kvmap_clear(&c->namespaces);
	mseg_kvmap_clear(&c->published);
	mseg_kvmap_clear(&c->audit);
}
