/* SPDX-License-Identifier: Apache-2.0 */
/*
 * msegd's cluster options (issue 7), parsed by main.c's getopt loop through
 * MSEG_CLUSTER_LONG_OPTIONS and mseg_cluster_option(), so adding one touches this file only.
 * Without --store etcd the agent is a single node and none of these matter.
 */
#ifndef MSEG_AGENT_CLUSTER_OPTIONS_H
#define MSEG_AGENT_CLUSTER_OPTIONS_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

#include "policy/model.h"

#define MSEG_CLUSTER_DEFAULT_PREFIX "/mseg"
#define MSEG_CLUSTER_DEFAULT_CIDR "10.200.0.0/16"
#define MSEG_CLUSTER_DEFAULT_TTL 10

struct mseg_cluster_options {
	bool etcd;	       /* --store etcd */
	const char *endpoints; /* --etcd-endpoints URL[,URL] */
	const char *prefix;    /* --etcd-prefix, no trailing '/' */
	const char *node_ip;   /* --node-ip; NULL: the default route's interface address */
	struct mseg_cidr cidr; /* --cluster-cidr */
	bool cidr_set;
	uint16_t vxlan_port; /* --vxlan-port; 0: 4789 */
	uint32_t vni;	     /* --vxlan-vni; 0: 1 */
	unsigned node_ttl;   /* --node-ttl seconds; 0: MSEG_CLUSTER_DEFAULT_TTL */
};

#define MSEG_CLUSTER_OPTIONS_N 8
#define MSEG_CLUSTER_LONG_OPTIONS(base)                                                            \
	{"store", required_argument, NULL, (base) + 0},                                            \
	    {"etcd-endpoints", required_argument, NULL, (base) + 1},                               \
	    {"etcd-prefix", required_argument, NULL, (base) + 2},                                  \
	    {"node-ip", required_argument, NULL, (base) + 3},                                      \
	    {"cluster-cidr", required_argument, NULL, (base) + 4},                                 \
	    {"vxlan-port", required_argument, NULL, (base) + 5},                                   \
	    {"vxlan-vni", required_argument, NULL, (base) + 6},                                    \
	{                                                                                          \
		"node-ttl", required_argument, NULL, (base) + 7                                    \
	}

#define MSEG_CLUSTER_OPTIONS_USAGE                                                                 \
	"  --store local|etcd     where shared state lives (default local: the state directory)\n" \
	"  --etcd-endpoints URLS  etcd client URLs, comma-separated (with --store etcd)\n"         \
	"  --etcd-prefix PREFIX   key prefix in etcd (default " MSEG_CLUSTER_DEFAULT_PREFIX ")\n"  \
	"  --node-ip ADDR         this node's underlay address (default: the address of the\n"     \
	"                         interface holding the default route)\n"                          \
	"  --cluster-cidr CIDR    container addresses of the cluster, one /24 per node\n"          \
	"                         (default " MSEG_CLUSTER_DEFAULT_CIDR ")\n"                       \
	"  --vxlan-port PORT      UDP port of the overlay (default 4789, same on every node)\n"    \
	"  --vxlan-vni N          VXLAN network identifier (default 1, same on every node)\n"      \
	"  --node-ttl SECONDS     lease of this node in etcd: gone this long after the agent\n"    \
	"                         stops renewing (default 10)\n"

/* Option index (0..MSEG_CLUSTER_OPTIONS_N-1) with its argument; logs and returns -EINVAL. */
int mseg_cluster_option(struct mseg_cluster_options *o, int index, const char *arg);
/* After parsing: the combination is valid (--store etcd needs --etcd-endpoints). Logs. */
int mseg_cluster_options_check(struct mseg_cluster_options *o);

#endif
