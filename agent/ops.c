// SPDX-License-Identifier: Apache-2.0
/*
 * The control-socket ops: one line per op. Later issues add theirs here (policy.apply,
 * policy.get, policy.delete, events.watch, ...), each with its handler in its own file.
 */
#include "agent/agent.h"
#include "agent/audit_scope.h"
#include "agent/cluster.h"
#include "agent/events.h"

#include <stddef.h>

const struct mseg_op mseg_agent_ops[] = {
    {"agent.info", mseg_op_agent_info},		  {"namespace.create", mseg_op_namespace_create},
    {"namespace.label", mseg_op_namespace_label}, {"namespace.list", mseg_op_namespace_list},
    {"endpoint.run", mseg_op_endpoint_run},	  {"endpoint.list", mseg_op_endpoint_list},
    {"endpoint.get", mseg_op_endpoint_get},	  {"endpoint.remove", mseg_op_endpoint_remove},
    {"endpoint.label", mseg_op_endpoint_label},	  {"policy.apply", mseg_op_policy_apply},
    {"policy.delete", mseg_op_policy_delete},	  {"policy.list", mseg_op_policy_list},
    {"identity.list", mseg_op_identity_list},	  {"state.export", mseg_op_state_export},
    {"events.list", mseg_op_events_list},
    {"events.follow", mseg_op_events_follow},
    {"events.stats", mseg_op_events_stats},
    {"audit.set", mseg_op_audit_set},
    {"audit.list", mseg_op_audit_list},
    {"policy.hits", mseg_op_policy_hits},
    {"node.list", mseg_op_node_list},
    {"node.remove", mseg_op_node_remove},
    {"agent.status", mseg_op_agent_status},
    {"endpoint.cluster_list", mseg_op_endpoint_cluster_list},
    {NULL, NULL},
};
