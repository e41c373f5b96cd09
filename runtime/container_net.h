/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The routed container network (DESIGN.md §5): no bridge, each container's eth0 holds its /32
 * and reaches everything through a link-local gateway on the host-side veth; the node routes
 * each /32 to its veth. Neighbour entries are permanent on both sides, so no ARP is needed
 * either way (it works even in a node namespace without any address of its own).
 */
#ifndef MSEG_RUNTIME_CONTAINER_NET_H
#define MSEG_RUNTIME_CONTAINER_NET_H

#include <stdint.h>

#include "policy/model.h"

#define MSEG_GATEWAY_V4 "169.254.1.1"
#define MSEG_CONTAINER_IFNAME "eth0"

struct mseg_container_net_config {
	const char *netns_name;	 /* existing namespace (mseg_netns_create) */
	const char *host_ifname; /* host-side veth, <= 15 chars, in the caller's namespace */
	struct mseg_cidr addr;	 /* the container's address, prefixlen 32 */
	uint32_t mtu;		 /* 0: 1500 */
};

struct mseg_container_net_info {
	int host_ifindex;
	uint8_t host_mac[6];
	uint8_t container_mac[6];
};

/*
 * Builds the routed container network in one go: veth created with its peer directly inside
 * the container namespace and named eth0 (never moved afterwards); in the container: lo and
 * eth0 up, addr/32 on eth0, an on-link route to 169.254.1.1 and a default route via it, and a
 * PERMANENT neighbour entry 169.254.1.1 -> host_mac; on the node: host veth up, a /32 route to
 * addr via the host veth, and a PERMANENT neighbour addr -> container_mac on it. The container
 * MAC is derived from the address (02:00:a.b.c.d, locally administered). On any failure
 * everything made so far is undone and the error returned (-EEXIST: host_ifname exists or the
 * namespace has an eth0 already, -ENOENT: no such namespace, -EINVAL: bad config).
 */
int mseg_container_net_setup(const struct mseg_container_net_config *cfg,
			     struct mseg_container_net_info *info);
/*
 * Removes the host veth (and so its peer) and the /32 route; 0 when already gone. The
 * namespace itself is deleted by the caller with mseg_netns_delete. addr may be NULL (a
 * half-made endpoint reaped after a crash): the link goes, and every route through it too.
 */
int mseg_container_net_teardown(const char *host_ifname, const struct mseg_cidr *addr);
/*
 * Removes only the node's /32 route to addr through host_ifname (0 when the link or the route
 * is gone already), so the address can be handed out again at once. For a caller that then
 * deletes the container's namespace: the kernel destroys the veth pair with it, in its own
 * cleanup work, instead of the tens of milliseconds a synchronous link deletion waits for.
 */
int mseg_container_net_unroute(const char *host_ifname, const struct mseg_cidr *addr);
/* ifindex and MAC of a link in the caller's namespace; -ENODEV if absent. */
int mseg_link_lookup(const char *ifname, int *ifindex, uint8_t mac[6]);
/* The container MAC for an IPv4 address: 02:00:a:b:c:d. */
void mseg_container_mac(const struct mseg_cidr *addr, uint8_t mac[6]);

#endif
