/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What `mseg policy trace` and `mseg policy matrix` share when they work offline: loading an
 * endpoints file and policy files (printing every diagnostic), naming endpoints and policies
 * the way people read them, and parsing --from/--to/--port.
 */
#ifndef MSEG_TOOLS_POLICY_OFFLINE_H
#define MSEG_TOOLS_POLICY_OFFLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/evaluate.h"
#include "policy/model.h"

struct mseg_offline {
	struct mseg_topology topo;
	struct mseg_policy_set set;
};

/* Loads both; on a load error prints each diagnostic line to stderr and returns -EINVAL. */
int mseg_offline_load(struct mseg_offline *o, const char *endpoints_path, char *const *policies,
		      size_t n_policies);
void mseg_offline_free(struct mseg_offline *o);
/*
 * The same from msegd's state.export (tools/policy_live.c): its namespaces, endpoints (with
 * the agent's ids) and policies (with the agent's ids); *default_deny (may be NULL) is the
 * agent's --default-deny. Prints why on failure.
 */
int mseg_offline_load_live(struct mseg_offline *o, const char *socket, bool *default_deny);

/*
 * "PORT/PROTO": PROTO tcp|udp|sctp|icmp (any case); for icmp PORT is TYPE or TYPE:CODE (code 0
 * when left out), and *port becomes type << 8 | code as the evaluator expects. Returns -EINVAL
 * with *why (static) on a malformed value.
 */
int mseg_offline_parse_port(const char *arg, uint8_t *proto, uint16_t *port, const char **why);
/* "TCP", "UDP", "SCTP", "ICMP" (or "?") */
const char *mseg_offline_proto_name(uint8_t proto);
/* "80/TCP", "8:0/ICMP"; buf of at least 32 bytes */
const char *mseg_offline_port_format(uint8_t proto, uint16_t port, char *buf, size_t size);

/*
 * "NS/NAME" names an endpoint of the topology; an IPv4 address names the endpoint with that
 * address if there is one (as the datapath's ipcache would), else a bare address.
 */
int mseg_offline_flow_end(const struct mseg_topology *t, const char *arg, struct mseg_flow_end *ret,
			  const char **why);

/* "NetworkPolicy", "Policy", "ClusterPolicy" */
const char *mseg_offline_kind_name(enum mseg_policy_kind kind);
const struct mseg_policy *mseg_offline_policy(const struct mseg_policy_set *set, uint32_t id);

#endif
