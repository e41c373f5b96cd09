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

/*
 * The cluster-wide id of a label set: from the cache (the mirror of ids/by-labels), else
 * allocated in etcd; with etcd away, the id this node recorded for it before (identities.json
 * holds only ids that came from etcd). -EAGAIN when none of these has it.
 */
static int identity_of(struct mseg_agent *a, const struct mseg_labels *labels, const char *key,
		       uint32_t *id)
{
	struct mseg_cluster *c = a->cluster;
	const char *cached = mseg_kvmap_get(&c->ids, key);
	char num[16];
	int r;

	if (cached) {
		*id = (uint32_t)strtoul(cached, NULL, 10);
		return 0;
	}
	if (mseg_cluster_store_usable(c)) {
		r = mseg_etcd_allocate_id(c->etcd, c->prefix, key, MSEG_ID_FIRST_ALLOCATED, id);
		if (r == 0) {
			mseg_cluster_store_ok(c);
			snprintf(num, sizeof(num), "%u", *id);
			return mseg_kvmap_set(&c->ids, key, num);
		}
		if (r == -ENOMEM || r == -EINVAL || r == -ENOSPC)
			return r;
		mseg_cluster_store_failed(c, r, "identity allocation");
	}
	for (size_t i = 0; i < a->id_records.n; i++)
		if (!mseg_labels_cmp(&a->id_records.items[i].labels, labels)) {
			*id = a->id_records.items[i].id;
			return 0;
		}
	return -EAGAIN;
}

static int pin(struct mseg_agent *a, const struct mseg_endpoint *ep, struct mseg_op_error *e,
	       bool local)
{
	struct mseg_labels l = {0};
	_cleanup_free_ char *key = NULL;
	uint32_t id = 0;
	int r;

	r = mseg_cluster_id_labels(a, ep, &l, &key);
	if (r < 0)
		return r;
	r = identity_of(a, &l, key, &id);
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
				  "no cluster identity for '%s/%s' ({%s}): etcd is unreachable "
				  "(%s); retry when it is back",
				  ep->namespace, ep->name, key, a->cluster->last_error);
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
		r = pin(a, &(*eps)[i], e, true);
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
		if (pin(a, &c->remotes[i].ep, NULL, false) < 0)
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
