// SPDX-License-Identifier: Apache-2.0
/* Control ops for the cluster view: node.list (mseg node ls) and agent.status (mseg status). */
#include "agent/cluster_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agent/reconcile.h"
#include "lib/macro.h"
#include "policy/cidr.h"

static json_t *time_json(const struct timespec *t)
{
	char buf[64];
	struct tm tm;

	if (!t->tv_sec)
		return json_null();
	gmtime_r(&t->tv_sec, &tm);
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, t->tv_nsec / 1000000);
	return json_string(buf);
}

/* [{"name","ip","pod_cidr","index","alive","self","endpoints"}] sorted as etcd sent them. */
int mseg_op_node_list(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e)
{
	struct mseg_agent *a = ctx;
	struct mseg_cluster *c = a->cluster;
	char ip[MSEG_CIDR_STRLEN], pod[MSEG_CIDR_STRLEN];
	json_t *arr = json_array();
	bool self_listed = false;

	(void)args;
	if (!arr)
		return -ENOMEM;
	if (!c) {
		/* a single node: itself */
		json_array_append_new(arr, json_pack("{s:s,s:n,s:s,s:i,s:b,s:b,s:I}", "name",
						     a->cfg.node, "ip", "pod_cidr",
						     mseg_cidr_format(&a->cfg.pod_cidr, false, pod),
						     "index", 0, "alive", 1, "self", 1, "endpoints",
						     (json_int_t)a->state->n_endpoints));
		*result = arr;
		return 0;
	}
	for (size_t i = 0; i < c->n_nodes; i++) {
		const struct mseg_cluster_node *n = &c->nodes[i];
		bool self = !strcmp(n->name, a->cfg.node);
		size_t eps = 0;

		if (self) {
			self_listed = true;
			eps = a->state->n_endpoints;
		} else {
			for (size_t k = 0; k < c->n_remotes; k++)
				eps += !strcmp(c->remotes[k].node, n->name);
		}
		json_array_append_new(
		    arr, json_pack("{s:s,s:s,s:s,s:I,s:b,s:b,s:I}", "name", n->name, "ip",
				   mseg_cidr_format(&n->ip, true, ip), "pod_cidr",
				   mseg_cidr_format(&n->pod_cidr, false, pod), "index",
				   (json_int_t)n->index, "alive", n->alive, "self", self,
				   "endpoints", (json_int_t)eps));
	}
	if (!self_listed)
		/* not in etcd (yet, or while etcd is away): this node still is */
		json_array_append_new(
		    arr, json_pack("{s:s,s:s,s:s,s:I,s:b,s:b,s:I}", "name", a->cfg.node, "ip",
				   mseg_cidr_format(&c->node_ip, true, ip), "pod_cidr",
				   mseg_cidr_format(&c->pod_cidr, false, pod), "index",
				   (json_int_t)c->index, "alive", 1, "self", 1, "endpoints",
				   (json_int_t)a->state->n_endpoints));
	(void)e;
	*result = arr;
	return 0;
}

int mseg_op_node_remove(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e)
{
	struct mseg_agent *a = ctx;
	struct mseg_cluster *c = a->cluster;
	_cleanup_free_ char *pods = NULL, *guard = NULL, *eps = NULL;
	const struct mseg_cluster_node *n = NULL;
	const char *name;
	int r;

	if (!c)
		return mseg_op_error_set(e, -ENOTSUP, NULL,
					 "not in a cluster (msegd runs without --store etcd)");
	r = mseg_args_string(args, "name", true, &name, e);
	if (r < 0)
		return r;
	if (!strcmp(name, a->cfg.node))
		return mseg_op_error_set(e, -EBUSY, NULL,
					 "node '%s' is this node: remove it from another node "
					 "once its agent is stopped",
					 name);
	for (size_t i = 0; i < c->n_nodes; i++)
		if (!strcmp(c->nodes[i].name, name))
			n = &c->nodes[i];
	if (!n)
		return mseg_op_error_set(e, -ENOENT, NULL, "no node '%s' in the cluster", name);
	if (n->alive)
		return mseg_op_error_set(e, -EBUSY, NULL,
					 "node '%s' is alive (its agent renews its lease): stop it "
					 "first; a node is removed for good only once it is gone",
					 name);
	if (!mseg_cluster_store_healthy(c))
		return mseg_op_error_set(e, -EAGAIN, NULL,
					 "cannot remove node '%s': etcd is unreachable (%s)", name,
					 c->last_error[0] ? c->last_error : "not synced");
	pods = mseg_cluster_key(c, "podcidrs");
	guard = mseg_cluster_key(c, "nodes/%s", name);
	eps = mseg_cluster_key(c, "endpoints/%s/", name);
	if (!pods || !guard || !eps)
		return -ENOMEM;
	/* one call from the loop while etcd answers, bounded like a new identity's */
	r = mseg_etcd_release_slot_unless(c->etcd_loop, pods, name, guard);
	if (r == -EEXIST)
		return mseg_op_error_set(
		    e, -EBUSY, NULL, "node '%s' is alive again (it rejoined): not removed", name);
	if (r == 0)
		/* its endpoints went with its lease; this clears any a crash left behind */
		r = mseg_etcd_delete(c->etcd_loop, eps, true, NULL, NULL);
	if (r < 0) {
		mseg_cluster_store_failed_msg(c, r, "removing a node",
					      mseg_etcd_last_error(c->etcd_loop));
		return mseg_op_error_set(e, r, NULL, "cannot remove node '%s' in etcd: %s", name,
					 mseg_etcd_last_error(c->etcd_loop));
	}
	mseg_cluster_node_forget(c, name);
	*result = json_pack("{s:s,s:b}", "name", name, "removed", 1);
	return *result ? 0 : -ENOMEM;
}

int mseg_op_agent_status(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e)
{
	struct mseg_agent *a = ctx;
	struct mseg_cluster *c = a->cluster;
	char pod[MSEG_CIDR_STRLEN], ip[MSEG_CIDR_STRLEN];
	size_t ready = 0;
	json_t *store, *o;

	(void)args;
	(void)e;
	for (size_t i = 0; i < a->state->n_endpoints; i++)
		ready += a->state->endpoints[i]->state == MSEG_EP_READY;
	if (!c) {
		store = json_pack("{s:s,s:s}", "type", "local", "dir", a->cfg.state_dir);
	} else {
		store =
		    json_pack("{s:s,s:s,s:s,s:b,s:b,s:s,s:I,s:I,s:I,s:o,s:b}", "type", "etcd",
			      "endpoint", mseg_etcd_endpoint(c->etcd), "prefix", c->prefix,
			      "connected", c->store_up && !c->watch_down && c->synced_once, "watch",
			      c->watch && mseg_etcd_watch_connected(c->watch), "last_error",
			      c->last_error, "lease", (json_int_t)c->lease, "resyncs",
			      (json_int_t)c->resyncs, "events", (json_int_t)c->watch_events,
			      "last_sync", time_json(&c->last_sync), "synced", c->synced_once);
	}
	o = json_pack("{s:s,s:s,s:o,s:{s:s,s:b},s:{s:I,s:I,s:I},s:I,s:s}", "node", a->cfg.node,
		      "pod_cidr", mseg_cidr_format(&a->cfg.pod_cidr, false, pod), "store", store,
		      "datapath", "backend", a->cfg.datapath, "default_deny", a->cfg.default_deny,
		      "endpoints", "local", (json_int_t)a->state->n_endpoints, "ready",
		      (json_int_t)ready, "remote", (json_int_t)(c ? c->n_remotes : 0), "policies",
		      (json_int_t)a->policies.n, "state_dir", a->cfg.state_dir);
	if (!o)
		return -ENOMEM;
	if (c) {
		size_t alive = 0;

		for (size_t i = 0; i < c->n_nodes; i++)
			alive += c->nodes[i].alive;
		json_object_set_new(
		    o, "cluster",
		    json_pack("{s:s,s:I,s:I,s:I,s:i,s:I}", "node_ip",
			      mseg_cidr_format(&c->node_ip, true, ip), "nodes", (json_int_t)alive,
			      "peers", (json_int_t)mseg_overlay_n_peers(c->overlay), "mtu",
			      (json_int_t)mseg_cluster_container_mtu(a), "vxlan_port",
			      (int)c->opt.vxlan_port, "vni", (json_int_t)c->opt.vni));
		json_object_set_new(o, "last_reconcile",
				    json_pack("{s:o,s:f}", "time", time_json(&c->last_reconcile),
					      "cluster_ms", c->last_reconcile_ms));
		json_object_set_new(json_object_get(o, "store"), "last_resync_ms",
				    json_real(c->last_resync_ms));
		json_object_set_new(json_object_get(o, "store"), "resync_reconcile_ms",
				    json_real(c->resync_reconcile_ms));
		/* etcd calls queued on the worker: more than a few means etcd is slow or away */
		json_object_set_new(json_object_get(o, "store"), "pending",
				    json_integer((json_int_t)mseg_cluster_worker_pending(c)));
	}
	*result = o;
	return 0;
}

/*
 * `mseg get endpoints`: this node's endpoints as endpoint.list shows them, then the other
 * nodes' ones ({"namespace", "name", "labels", "ports", "ip", "identity", "node",
 * "state": "remote"}), so the cluster view is one list.
 */
int mseg_op_endpoint_cluster_list(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e)
{
	struct mseg_agent *a = ctx;
	struct mseg_cluster *c = a->cluster;
	json_t *arr = NULL;
	char ip[MSEG_CIDR_STRLEN];
	int r;

	r = mseg_op_endpoint_list(ctx, args, &arr, e);
	if (r < 0)
		return r;
	for (size_t i = 0; c && i < c->n_remotes; i++) {
		const struct mseg_cluster_remote *rm = &c->remotes[i];
		json_t *ports = json_array();

		for (size_t k = 0; k < rm->ep.n_ports; k++)
			json_array_append_new(
			    ports, json_pack("{s:s,s:i,s:s}", "name", rm->ep.ports[k].name, "port",
					     (int)rm->ep.ports[k].port, "protocol",
					     mseg_proto_name(rm->ep.ports[k].proto)));
		json_array_append_new(
		    arr,
		    json_pack("{s:s,s:s,s:o,s:o,s:s,s:I,s:s,s:s}", "namespace", rm->ep.namespace,
			      "name", rm->ep.name, "labels", mseg_labels_to_json(&rm->ep.labels),
			      "ports", ports, "ip", mseg_cidr_format(&rm->ep.ip, true, ip),
			      "identity", (json_int_t)mseg_agent_endpoint_identity(a, rm->ep.id),
			      "node", rm->node, "state", "remote"));
	}
	*result = arr;
	return 0;
}
