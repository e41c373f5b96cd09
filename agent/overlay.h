/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node's side of the VXLAN overlay (DESIGN.md §7), driven by the cluster's node list:
 * the device (created, or adopted from the previous agent so cross-node traffic survives a
 * restart), one peer per other node (FDB, neighbour, onlink route: runtime/vxlan.h) and the
 * underlay filter listing every node. mseg_overlay_nodes_set() makes the programmed peers
 * equal the list it is given, touching only what changed.
 */
#ifndef MSEG_AGENT_OVERLAY_H
#define MSEG_AGENT_OVERLAY_H

#include <stddef.h>
#include <stdint.h>

#include "policy/model.h"

struct mseg_overlay;

struct mseg_overlay_config {
	struct mseg_cidr node_ip; /* underlay, /32 */
	struct mseg_cidr gateway; /* .0 of this node's pod CIDR, /32 */
	uint32_t vni;
	uint16_t port;
	uint32_t mtu; /* of the VXLAN device: underlay - 50 */
};

/* One node of the list: underlay address and pod CIDR. */
struct mseg_overlay_node {
	struct mseg_cidr ip;
	struct mseg_cidr pod_cidr;
};

/* Creates or adopts the device and applies the filter with this node alone. */
int mseg_overlay_new(struct mseg_overlay **ret, const struct mseg_overlay_config *cfg);
/* Leaves device, peers and filter in place (the next agent adopts them). NULL-safe. */
void mseg_overlay_free(struct mseg_overlay *ov);
/*
 * Programs exactly these peers (this node's own entry, if listed, is skipped) and re-applies
 * the filter with them plus this node when the set changed. *changed (may be NULL) says so.
 */
int mseg_overlay_nodes_set(struct mseg_overlay *ov, const struct mseg_overlay_node *nodes, size_t n,
			   bool *changed);
size_t mseg_overlay_n_peers(const struct mseg_overlay *ov);
int mseg_overlay_ifindex(const struct mseg_overlay *ov);

#endif
