// SPDX-License-Identifier: Apache-2.0
/*
 * `mseg policy trace/matrix` on live state: msegd's state.export (namespaces, endpoints, the
 * policy documents as applied, options) parsed with the same library as the offline files,
 * so live and offline answers come from one code path: the reference evaluator.
 *
 * In a cluster the state is shared: the other nodes' endpoints (endpoint.cluster_list, state
 * "remote") join this node's, so the answers are the cluster's. Their ids here are only
 * distinct numbers (from 0x40000000, as the agent numbers remote endpoints), never datapath
 * keys of this node.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "policy/parse.h"
#include "policy/topology.h"
#include "tools/client.h"
#include "tools/policy_offline.h"

static int append_policy(struct mseg_policy_set *set, const char *file, const char *text,
			 size_t index, uint32_t id)
{
	struct mseg_policy_set one = {0};
	struct mseg_diag diag = {0};
	struct mseg_policy *v;
	int r;

	r = mseg_policy_parse_buffer(file, text, strlen(text), &one, &diag);
	mseg_diag_free(&diag);
	if (r < 0 || index >= one.n_policies) {
		mseg_policy_set_free(&one);
		return r < 0 ? r : -EBADMSG;
	}
	v = realloc(set->policies, (set->n_policies + 1) * sizeof(*v));
	if (!v) {
		mseg_policy_set_free(&one);
		return -ENOMEM;
	}
	set->policies = v;
	v[set->n_policies] = one.policies[index];
	v[set->n_policies++].id = id;
	memset(&one.policies[index], 0, sizeof(one.policies[index]));
	mseg_policy_set_free(&one);
	return 0;
}

#define REMOTE_ID_BASE 0x40000000u

/* The other nodes' endpoints, appended to eps in state.export's shape; how many. */
static size_t append_remotes(const char *socket, json_t *eps)
{
	json_t *all = NULL, *ep;
	size_t i, n = 0;

	/* an agent without a cluster lists its own endpoints only: nothing to add */
	if (mseg_client_call(mseg_client_socket(socket), "endpoint.cluster_list", NULL, &all) < 0)
		return 0;
	json_array_foreach(all, i, ep)
	{
		if (strcmp(json_string_value(json_object_get(ep, "state")) ?: "", "remote"))
			continue;
		if (json_array_append_new(eps, json_pack("{s:O,s:O,s:O,s:O,s:O}", "namespace",
							 json_object_get(ep, "namespace"), "name",
							 json_object_get(ep, "name"), "labels",
							 json_object_get(ep, "labels"), "ip",
							 json_object_get(ep, "ip"), "ports",
							 json_object_get(ep, "ports"))) == 0)
			n++;
	}
	json_decref(all);
	return n;
}

int mseg_offline_load_live(struct mseg_offline *o, const char *socket, bool *default_deny)
{
	json_t *st = NULL, *topo, *eps, *ep, *p;
	struct mseg_diag diag = {0};
	size_t n_local, n_remote;
	char *text;
	size_t i;
	int r;

	*o = (struct mseg_offline){0};
	if (mseg_client_call(mseg_client_socket(socket), "state.export", NULL, &st) < 0)
		return -EIO;
	eps = json_array();
	json_array_foreach(json_object_get(st, "endpoints"), i, ep) json_array_append_new(
	    eps,
	    json_pack("{s:O,s:O,s:O,s:O,s:O}", "namespace", json_object_get(ep, "namespace"),
		      "name", json_object_get(ep, "name"), "labels", json_object_get(ep, "labels"),
		      "ip", json_object_get(ep, "ip"), "ports", json_object_get(ep, "ports")));
	n_local = json_array_size(eps);
	n_remote = append_remotes(socket, eps);
	topo = json_pack("{s:O,s:o}", "namespaces", json_object_get(st, "namespaces"), "endpoints",
			 eps);
	text = topo ? json_dumps(topo, JSON_COMPACT) : NULL;
	json_decref(topo);
	r = text ? mseg_topology_parse_buffer("msegd", text, strlen(text), &o->topo, &diag)
		 : -ENOMEM;
	free(text);
	if (r < 0) {
		char *line = diag.n ? mseg_diag_entry_format(&diag.items[0]) : NULL;

		log_err("cannot read msegd's endpoints: %s", line ? line : strerror(-r));
		free(line);
		mseg_diag_free(&diag);
		json_decref(st);
		return -EINVAL;
	}
	/* the agent's endpoint ids, not positions: what the datapath and events use */
	json_array_foreach(json_object_get(st, "endpoints"), i, ep) if (i < o->topo.n_endpoints)
	    o->topo.endpoints[i]
		.id = (uint32_t)json_integer_value(json_object_get(ep, "id"));
	for (i = 0; i < n_remote && n_local + i < o->topo.n_endpoints; i++)
		o->topo.endpoints[n_local + i].id = REMOTE_ID_BASE + (uint32_t)i;
	json_array_foreach(json_object_get(st, "policies"), i, p)
	{
		const char *file = json_string_value(json_object_get(p, "file"));

		r = append_policy(&o->set, file ? file : "?",
				  json_string_value(json_object_get(p, "text")) ?: "",
				  (size_t)json_integer_value(json_object_get(p, "index")),
				  (uint32_t)json_integer_value(json_object_get(p, "id")));
		if (r < 0) {
			log_errno(r, "cannot parse msegd's policy %lld from '%s'",
				  (long long)json_integer_value(json_object_get(p, "id")), file);
			json_decref(st);
			mseg_offline_free(o);
			return -EINVAL;
		}
	}
	if (default_deny)
		*default_deny = json_is_true(json_object_get(st, "default_deny"));
	json_decref(st);
	return 0;
}
