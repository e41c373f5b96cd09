/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Link, address, route and neighbour operations over one netlink socket (so in that socket's
 * namespace): each builds its request with runtime/nlmsg.h and waits for the kernel's ack.
 */
#ifndef MSEG_RUNTIME_LINK_H
#define MSEG_RUNTIME_LINK_H

#include <stdbool.h>
#include <stdint.h>

#include "policy/model.h"
#include "runtime/netlink.h"
#include "runtime/nlmsg.h"

/* ifindex and MAC (mac may be NULL) of a link by name; -ENODEV if absent. */
int mseg_link_get(struct mseg_nl *nl, const char *ifname, int *ifindex, uint8_t mac[6]);
int mseg_link_set_up(struct mseg_nl *nl, int ifindex, bool up);
/* 0 when the link is already gone. */
int mseg_link_delete(struct mseg_nl *nl, const char *ifname);
int mseg_link_veth_add(struct mseg_nl *nl, const struct mseg_nlmsg_veth *veth);
int mseg_addr_add(struct mseg_nl *nl, int ifindex, const struct mseg_cidr *addr);
int mseg_route_add(struct mseg_nl *nl, const struct mseg_nlmsg_route *route);
/* 0 when no such route exists. */
int mseg_route_delete(struct mseg_nl *nl, const struct mseg_nlmsg_route *route);
int mseg_neigh_add(struct mseg_nl *nl, int ifindex, const struct mseg_cidr *ip,
		   const uint8_t mac[6], uint16_t state);

#endif
