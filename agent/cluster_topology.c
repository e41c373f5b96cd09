// SPDX-License-Identifier: Apache-2.0
/*
 * What the reconciler needs from the cluster: the other nodes' endpoints in the topology
 * (so selectors match them and the ipcache maps their addresses to their identities, which
 * is how ingress policy here knows a packet's source on another node), and the same identity
 * numbers on every node (pinned before the compiler would number a label set by itself).
 */
#include "agent/cluster_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/identities.h"
#include "lib/log.h"
#include "lib/macro.h"
#include "policy/labels.h"

int mseg_cluster_id_labels(const struct mseg_agent *a, const struct mseg_endpoint *ep,
			   struct mseg_labels *labels, char **key)
{
	static const struct mseg_labels none = {0};
	const struct mseg_namespace *ns = mseg_state_namespace_find(a->state, ep->namespace);
	int r;

	r = mseg_agent_identity_labels(ep, ns ? &ns->labels : &none, labels);
	if (r < 0)
		return r;
	*key = mseg_labels_format(labels);
	if (!*key) {
		mseg_labels_free(labels);
		return -ENOMEM;
	}
	return 0;
}

/* An identity allocated by the worker for a remote endpoint's label set. */
struct alloc_job {
	char *prefix, *key;
	uint32_t id;
};

static void alloc_job_free(void *data)
{
	struct alloc_job *j = data;

	free(j->prefix);
	free(j->key);
	free(j);
}

static int alloc_run(struct mseg_etcd *etcd, void *data)
{
	struct alloc_job *j = data;

	return mseg_etcd_allocate_id(etcd, j->prefix, j->key, MSEG_ID_FIRST_ALLOCATED, &j->id);
}

static void alloc_done(struct mseg_agent *a, void *data, int r, const char *error)
{
	struct mseg_cluster *c = a->cluster;
	struct alloc_job *j = data;
	char num[16];

	mseg_kvmap_del(&c->allocating, j->key);
	if (r < 0) {
		if (r != -ENOMEM && r != -EINVAL && r != -ENOSPC)
			mseg_cluster_store_failed_msg(c, r, "identity allocation", error);
		return;
	}
	mseg_cluster_store_ok(c);
	snprintf(num, sizeof(num), "%u", j->id);
	if (mseg_kvmap_set(&c->ids, j->key, num) == 0)
		c->need_reconcile = true; /* the endpoint it was for can join the topology now */
}

static void alloc_submit(struct mseg_cluster *c, const char *key)
{
	struct alloc_job *j;

	if (mseg_kvmap_get(&c->allocating, key) || !mseg_cluster_store_usable(c))
		return;
	j = calloc(1, sizeof(*j));
	if (!j)
		return;
	j->prefix = strdup(c->prefix);
	j->key = strdup(key);
	if (!j->prefix || !j->key) {
		alloc_job_free(j);
		return;
	}
	if (mseg_cluster_submit(c, alloc_run, alloc_done, alloc_job_free, j) == 0)
		mseg_kvmap_set(&c->allocating, key, "");
}

/*
 * The cluster-wide id of a label set: from the cache (the mirror of ids/by-labels), or as the
 * owning node published it for a remote endpoint, else allocated in etcd; with etcd away, the
 * id this node recorded for it before (identities.json holds only ids that came from etcd).
 * -EAGAIN when none of these has it.
 *
 * Only a local endpoint's allocation runs on the loop, and only while etcd is known to answer
 * (the `mseg run` that needs it waits for it anyway); a remote one's is queued on the worker
 * and the endpoint joins when it lands.
 */
static int identity_of(struct mseg_agent *a, const struct mseg_labels *labels, const char *key,
		       const struct mseg_cluster_remote *remote, uint32_t *id)
{
	struct mseg_cluster *c = a->cluster;
	const char *cached = mseg_kvmap_get(&c->ids, key);
	char num[16];
	int r;

	if (cached) {
		*id = (uint32_t)strtoul(cached, NULL, 10);
		return 0;
	}
	if (remote && remote->identity >= MSEG_ID_FIRST_ALLOCATED && remote->id_labels &&
	    !strcmp(remote->id_labels, key)) {
		/* the owner allocated it in etcd for exactly this label set */
		*id = remote->identity;
		snprintf(num, sizeof(num), "%u", *id);
		return mseg_kvmap_set(&c->ids, key, num);
	}
	if (remote) {
		alloc_submit(c, key);
	} else if (mseg_cluster_store_healthy(c)) {
		r = mseg_etcd_allocate_id(c->etcd_loop, c->prefix, key, MSEG_ID_FIRST_ALLOCATED,
					  id);
		if (r == 0) {
			mseg_cluster_store_ok(c);
			snprintf(num, sizeof(num), "%u", *id);
			return mseg_kvmap_set(&c->ids, key, num);
		}
		if (r == -ENOMEM || r == -EINVAL || r == -ENOSPC)
			return r;
		mseg_cluster_store_failed_msg(c, r, "identity allocation",
					      mseg_etcd_last_error(c->etcd_loop));
	}
	for (size_t i = 0; i < a->id_records.n; i++)
		if (!mseg_labels_cmp(&a->id_records.items[i].labels, labels)) {
			*id = a->id_records.items[i].id;
			return 0;
		}
	return -EAGAIN;
}

static int pin(struct mseg_agent *a, const struct mseg_endpoint *ep, struct mseg_op_error *e,
	       const struct mseg_cluster_remote *remote)
{
	bool local = !remote;
	struct mseg_labels l = {0};
	_cleanup_free_ char *key = NULL;
	uint32_t id = 0;
	int r;

	r = mseg_cluster_id_labels(a, ep, &l, &key);
	if (r < 0)
		return r;
	r = identity_of(a, &l, key, remote, &id);
	if (r == 0) {
		r = mseg_identities_put(a->ids, &l, id);
		if (r == -EEXIST && local && e)
			mseg_op_error_set(
			    e, r, MSEG_ERR_INTERNAL,
			    "identity %u of '%s/%s' ({%s}) clashes with one this node "
			    "numbered by itself (state directory from a single-node "
			    "run?)",
			    id, ep->namespace, ep->name, key);
	} else if (r == -EAGAIN && local && e) {
		mseg_op_error_set(e, r, MSEG_ERR_INTERNAL,
				  "no cluster identity for '%s/%s' ({%s}): a new label set needs "
				  "etcd, which is unreachable (%s); retry when it is back",
				  ep->namespace, ep->name, key,
				  a->cluster->last_error[0]
				      ? a->cluster->last_error
				      : "watch disconnected, not resynced yet");
	}
	mseg_labels_free(&l);
	return r;
}

int mseg_cluster_topology_add(struct mseg_agent *a, struct mseg_endpoint **eps, size_t *n,
			      struct mseg_op_error *e)
{
	struct mseg_cluster *c = a->cluster;
	struct mseg_endpoint *v;
	size_t n_local = *n;
	int r;

	if (!c)
		return 0;
	clock_gettime(CLOCK_REALTIME, &c->last_reconcile);
	for (size_t i = 0; i < n_local; i++) {
		r = pin(a, &(*eps)[i], e, NULL);
		if (r < 0)
			return log_errno(r, "endpoint '%s/%s': no cluster identity",
					 (*eps)[i].namespace, (*eps)[i].name);
	}
	v = realloc(*eps, (n_local + c->n_remotes + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	*eps = v;
	for (size_t i = 0; i < c->n_remotes; i++) {
		/* left out until its identity can be had: it is "world" here meanwhile */
		if (pin(a, &c->remotes[i].ep, NULL, &c->remotes[i]) < 0)
			continue;
		v[(*n)++] = c->remotes[i].ep;
	}
	return 0;
}

static bool entry_local(const struct mseg_table_entry *t)
{
	return !mseg_cluster_endpoint_remote(t->endpoint);
}

void mseg_cluster_diff_local(const struct mseg_agent *a, struct mseg_table_diff *diff)
{
	size_t k;

	if (!a->cluster)
		return;
#define KEEP_LOCAL(arr, n, pred)                                                                   \
	do {                                                                                       \
		k = 0;                                                                             \
		for (size_t i = 0; i < (n); i++)                                                   \
			if (pred)                                                                  \
				(arr)[k++] = (arr)[i];                                             \
		(n) = k;                                                                           \
	} while (0)
	KEEP_LOCAL(diff->added, diff->n_added, entry_local(&diff->added[i]));
	KEEP_LOCAL(diff->removed, diff->n_removed, entry_local(&diff->removed[i]));
	for (int d = 0; d < 2; d++)
		KEEP_LOCAL(diff->defaults_changed[d], diff->n_defaults_changed[d],
			   !mseg_cluster_endpoint_remote(diff->defaults_changed[d][i].endpoint));
#undef KEEP_LOCAL
}

bool mseg_cluster_endpoint_known(const struct mseg_agent *a, const char *ns, const char *name)
{
	const struct mseg_cluster *c = a->cluster;

	for (size_t i = 0; c && i < c->n_remotes; i++)
		if (!strcmp(c->remotes[i].ep.namespace, ns) && !strcmp(c->remotes[i].ep.name, name))
			return true;
	return false;
}
