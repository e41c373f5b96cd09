/* SPDX-License-Identifier: Apache-2.0 */
/*
 * msegd in a cluster (issue 7, DESIGN.md §6-7): with --store etcd the agent shares
 * namespaces, policies, nodes, endpoints, identities and pod CIDRs through etcd, and joins
 * the other nodes' containers through the VXLAN overlay (agent/overlay.h).
 *
 *   cluster.c           options, start-up (lease, pod CIDR, overlay), the event source for
 *                       the agent's epoll loop (watch + timer), lease renewal, backoff
 *   cluster_sync.c      etcd -> local state (full resync, watch events) and local -> etcd
 *                       (what the control ops changed is published after each request)
 *   cluster_topology.c  remote endpoints and cluster-wide identities for the reconciler
 *   cluster_ops.c       node.list, node.remove and agent.status for the CLI
 *   cluster_audit.c     audit scopes shared through etcd
 *   cluster_worker.c    the thread that makes the etcd calls off the loop
 *
 * Keys under the prefix (docs/cluster.md):
 *   nodes/<node>                      {"name","ip","index","pod_cidr"}        node lease
 *   endpoints/<node>/<ns>/<name>      {"namespace","name","labels","ports",
 *                                      "ip","identity","id_labels"}            node lease
 *   namespaces/<name>                 {"name","labels"}
 *   policies/<kind>/<ns or ->/<name>  {"file","text","index"}
 *   audit/namespaces/<ns>             {"namespace"}      audit scopes (cluster_audit.c)
 *   audit/endpoints/<ns>/<name>       {"namespace","name"}
 *   ids/..., podcidrs/...             agent/etcd_alloc.c
 *
 * Nothing here blocks the loop on etcd: calls run on a worker thread (cluster_worker.c), the
 * watch is driven by the loop without blocking, and after a failure the agent stops calling
 * etcd until the backoff expires or the watch reconnects; the datapath keeps enforcing what it
 * has all along. The one call left on the loop is the identity of a new local label set, made
 * only while etcd is known to answer, with a 200 ms timeout.
 *
 * Without --store etcd every function is a no-op (a->cluster is NULL).
 */
#ifndef MSEG_AGENT_CLUSTER_H
#define MSEG_AGENT_CLUSTER_H

#include <stdint.h>

#include "agent/agent.h"
#include "agent/cluster_options.h"
#include "policy/compile.h"

/*
 * Start-up, after the state is loaded and before IPAM is made: connects to etcd, takes the
 * node's pod CIDR (a->cfg.pod_cidr is replaced by it), creates the VXLAN device. Logs.
 */
int mseg_cluster_start(struct mseg_agent *a, const struct mseg_cluster_options *o);
/*
 * After the datapath is up: grants the node lease, publishes the node, reads the whole
 * prefix, merges it into the local state and starts the watch. Tolerates etcd being down
 * (retried with backoff). Logs.
 */
int mseg_cluster_sync_start(struct mseg_agent *a);
void mseg_cluster_stop(struct mseg_agent *a);

/* One descriptor for the agent's epoll loop (-1 without a cluster), and its handler. */
int mseg_cluster_fd(const struct mseg_agent *a);
void mseg_cluster_process(struct mseg_agent *a);
/* After each control request: publishes what the request changed locally. */
void mseg_cluster_after_request(struct mseg_agent *a);

/* The container MTU: underlay MTU - 50 in a cluster, 0 (the default) otherwise. */
uint32_t mseg_cluster_container_mtu(const struct mseg_agent *a);

/*
 * For the reconciler (agent/reconcile.c), before compiling: appends the other nodes'
 * endpoints (shallow copies, valid until the next cluster event) to *eps (reallocated; *n
 * updated), and pins the cluster-wide identity of every endpoint's label set in a->ids, so
 * the compiler numbers them as every other node does. A local endpoint whose identity cannot
 * be had (etcd unreachable, label set never seen) fails the reconcile with e set; a remote
 * one is left out until it can.
 */
int mseg_cluster_topology_add(struct mseg_agent *a, struct mseg_endpoint **eps, size_t *n,
			      struct mseg_op_error *e);
/* After compiling: drops the entries and defaults of remote endpoints (never attached here). */
void mseg_cluster_diff_local(const struct mseg_agent *a, struct mseg_table_diff *diff);
/* Whether an endpoint id is a remote endpoint's (ids from MSEG_CLUSTER_REMOTE_ID_BASE). */
#define MSEG_CLUSTER_REMOTE_ID_BASE 0x40000000u
static inline bool mseg_cluster_endpoint_remote(uint32_t id)
{
	return id >= MSEG_CLUSTER_REMOTE_ID_BASE;
}

/* Whether NS/NAME is an endpoint of another node (false without a cluster). */
bool mseg_cluster_endpoint_known(const struct mseg_agent *a, const char *ns, const char *name);

/* Control ops (agent/cluster_ops.c). */
int mseg_op_node_list(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e);
/*
 * node.remove {name}: a node gone for good (`mseg node rm`): its pod CIDR slot is released
 * and what is left of it in etcd deleted; refused while its lease is alive, for this node,
 * and while etcd is unreachable. Every agent then forgets it (it stays listed as not alive
 * until then, and a restart or rejoin within that time keeps its pod CIDR).
 */
int mseg_op_node_remove(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e);
int mseg_op_agent_status(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e);
/* endpoint.list plus the other nodes' endpoints (state "remote"): `mseg get endpoints`. */
int mseg_op_endpoint_cluster_list(void *ctx, json_t *args, json_t **result,
				  struct mseg_op_error *e);

#endif
