/* SPDX-License-Identifier: Apache-2.0 */
/*
 * msegd's top-level object: its configuration, the recorded state and the node's IPAM. Every
 * control-socket handler receives it as its context (agent/ops.c).
 */
#ifndef MSEG_AGENT_AGENT_H
#define MSEG_AGENT_AGENT_H

#include <stdbool.h>

#include "agent/cluster_options.h"
#include "agent/events_options.h"
#include "agent/identities.h"
#include "agent/policies.h"
#include "agent/request.h"
#include "agent/state.h"
#include "policy/model.h"

#define MSEG_DEFAULT_STATE_DIR "/var/lib/mseg"
#define MSEG_DEFAULT_SOCKET "/run/mseg/msegd.sock"
#define MSEG_DEFAULT_POD_CIDR "10.200.0.0/24"
#define MSEG_DEFAULT_BPF_DIR "/sys/fs/bpf/mseg"
#define MSEG_DEFAULT_NETNS_PREFIX "mseg-"
#define MSEG_DEFAULT_NAMESPACE "default"

struct mseg_agent_config {
	const char *state_dir;
	const char *socket_path;
	const char *node;
	const char *bpf_dir;	  /* bpffs directory for the bpf backend's pins */
	const char *netns_prefix; /* container namespaces: <prefix><ns>_<name> */
	const char *datapath;	  /* "bpf" or "nft" */
	struct mseg_cidr pod_cidr;
	bool default_deny; /* mseg_compile_opts.default_deny */
	struct mseg_events_options events; /* --flows, --metrics, ... (issue 6) */
	struct mseg_cluster_options cluster; /* --store etcd, ... (issue 7) */
};

struct mseg_ipam;
struct mseg_events;
struct mseg_audit_scope;
struct mseg_inspect;
struct mseg_datapath;
struct mseg_datapath_ops;
struct mseg_compiler;
struct mseg_compile_tracker;
struct mseg_cluster;

struct mseg_agent {
	struct mseg_agent_config cfg;
	struct mseg_state *state;
	struct mseg_ipam *ipam;
	/* enforcement (agent/reconcile.c) */
	const struct mseg_datapath_ops *dp_ops;
	struct mseg_datapath *dp; /* NULL: no datapath (unit tests of the ops) */
	struct mseg_identities *ids;
	struct mseg_agent_identities id_records;
	struct mseg_compiler *compiler;
	struct mseg_compile_tracker *tracker; /* what compiler last saw: the hints of reconcile */
	struct mseg_agent_policies policies;
	bool dp_stale; /* an apply failed: the next reconcile starts from a full table */
	double last_reconcile_ms[2]; /* the last reconcile's compile and datapath apply times */
	/* what the last reconcile compiled: endpoint id -> identity, sorted by endpoint */
	struct mseg_agent_ep_identity {
		uint32_t endpoint, identity;
	} *ep_identities;
	size_t n_ep_identities;
	/* inspection (issue 6): agent/events.h, agent/audit_scope.h */
	struct mseg_events *events;
	struct mseg_audit_scope *audit;
	struct mseg_inspect *inspect; /* agent/events_agent.c: event fd, metrics */
	struct mseg_cluster *cluster; /* agent/cluster.h; NULL without --store etcd */
};

/* The control-socket ops, terminated by a NULL name (agent/ops.c). */
extern const struct mseg_op mseg_agent_ops[];

/* Handlers, one file per object kind. */
int mseg_op_namespace_create(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e);
int mseg_op_namespace_label(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e);
int mseg_op_namespace_list(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e);
int mseg_op_endpoint_run(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e);
int mseg_op_endpoint_list(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e);
int mseg_op_endpoint_get(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e);
int mseg_op_endpoint_remove(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e);
int mseg_op_endpoint_label(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e);
int mseg_op_agent_info(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e);
int mseg_op_policy_apply(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e);
int mseg_op_policy_delete(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e);
int mseg_op_policy_list(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e);
int mseg_op_identity_list(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e);
int mseg_op_state_export(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e);

/*
 * The namespace named name, creating "default" on first use (persisted); any other unknown
 * namespace is -ENOENT with e naming it.
 */
int mseg_agent_namespace_get(struct mseg_agent *a, const char *name, struct mseg_namespace **ret,
			     struct mseg_op_error *e);
/* Applies {"set": {k: v}, "unset": [k]} from args to labels (validated, all or nothing). */
int mseg_agent_labels_update(json_t *args, struct mseg_labels *labels, const char *protected_key,
			     struct mseg_op_error *e);

#endif
