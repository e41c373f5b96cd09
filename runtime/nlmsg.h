/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pure rtnetlink message builders: each fills the caller's buffer with one complete request
 * (header, family header, attributes) and touches nothing else, so unit tests check the bytes
 * without a kernel. mseg_nl_request adds the sequence number and NLM_F_ACK when sending.
 *
 * Every builder returns 0, -EMSGSIZE when the message does not fit in size bytes, or -EINVAL
 * for an argument it cannot encode (a name longer than IFNAMSIZ-1, a non-IPv4 address).
 * The message starts at buf (a struct nlmsghdr, aligned like one).
 */
#ifndef MSEG_RUNTIME_NLMSG_H
#define MSEG_RUNTIME_NLMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/model.h"

/* Large enough for every request built here. */
#define MSEG_NLMSG_BUFSIZE 1024

/* ---- links (nlmsg_link.c) ------------------------------------------------------------ */

/* A name the kernel accepts for a link (dev_valid_name): 1-15 bytes, no '/', ':' or space. */
bool mseg_nlmsg_ifname_valid(const char *name);

/* A veth pair whose peer is created directly in another namespace (no move afterwards). */
struct mseg_nlmsg_veth {
	const char *ifname;	 /* this side, in the namespace of the socket */
	const char *peer_ifname; /* the other side */
	int peer_netns_fd;	 /* namespace of the peer; -1: the socket's own */
	const uint8_t *peer_mac; /* 6 bytes, or NULL for a kernel-chosen one */
	const uint8_t *mac;	 /* 6 bytes, or NULL for a kernel-chosen one */
	uint32_t mtu;		 /* both sides; 0: kernel default */
};

/* RTM_NEWLINK, NLM_F_CREATE|NLM_F_EXCL, kind "veth" with VETH_INFO_PEER nested. */
int mseg_nlmsg_veth_add(void *buf, size_t size, const struct mseg_nlmsg_veth *veth);
/* RTM_GETLINK for ifindex, or (ifindex 0) for the name. */
int mseg_nlmsg_link_get(void *buf, size_t size, int ifindex, const char *ifname);
/* RTM_NEWLINK changing IFF_UP only. */
int mseg_nlmsg_link_set_up(void *buf, size_t size, int ifindex, bool up);
/* RTM_DELLINK by ifindex, or (ifindex 0) by name. */
int mseg_nlmsg_link_del(void *buf, size_t size, int ifindex, const char *ifname);

/* ---- addresses (nlmsg_addr.c) -------------------------------------------------------- */

/* RTM_NEWADDR (NLM_F_CREATE|NLM_F_EXCL) / RTM_DELADDR: addr with its prefix on ifindex. */
int mseg_nlmsg_addr_add(void *buf, size_t size, int ifindex, const struct mseg_cidr *addr);
int mseg_nlmsg_addr_del(void *buf, size_t size, int ifindex, const struct mseg_cidr *addr);

/* ---- routes (nlmsg_route.c) ---------------------------------------------------------- */

struct mseg_nlmsg_route {
	struct mseg_cidr dst;		 /* 0.0.0.0/0 for the default route */
	const struct mseg_cidr *gateway; /* NULL: directly connected (scope link) */
	int oif;			 /* 0: any (delete only) */
	uint32_t table;			 /* 0: main */
};

/* RTM_NEWROUTE (NLM_F_CREATE|NLM_F_EXCL), protocol static, unicast. */
int mseg_nlmsg_route_add(void *buf, size_t size, const struct mseg_nlmsg_route *route);
/* RTM_DELROUTE matching dst, and oif/gateway when given. */
int mseg_nlmsg_route_del(void *buf, size_t size, const struct mseg_nlmsg_route *route);

/* ---- neighbours (nlmsg_neigh.c) ------------------------------------------------------ */

/* RTM_NEWNEIGH (NLM_F_CREATE|NLM_F_REPLACE): ip -> mac on ifindex in state (NUD_*). */
int mseg_nlmsg_neigh_add(void *buf, size_t size, int ifindex, const struct mseg_cidr *ip,
			 const uint8_t mac[6], uint16_t state);
int mseg_nlmsg_neigh_del(void *buf, size_t size, int ifindex, const struct mseg_cidr *ip);

#endif
