/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VXLAN overlay between nodes (DESIGN.md §7): one VXLAN device per node with learning off
 * and no remote or group, so every remote is a static FDB entry made from the node list.
 *
 * Addressing. The cluster CIDR (default 10.200.0.0/16) is cut into one /24 per node: node
 * index N (1..255, allocated through the store) owns 10.200.N.0/24. IPAM hands out .1 and up
 * only, so the .0 is free and becomes the node's overlay "gateway" address: it sits as a /32
 * on the node's VXLAN device, is the next hop of every other node's route to 10.200.N.0/24
 * (onlink through their VXLAN device), and the source of packets the node itself sends into
 * the overlay. The VXLAN device's MAC is derived from that gateway address (02:00:a.b.c.d, as
 * container MACs are), so a node computes every remote device's MAC from the node list alone;
 * nothing but the node name, underlay address and index has to be shared.
 *
 * Per remote node ("peer") the node programs, on its own VXLAN device:
 *   FDB  00:00:00:00:00:00 dst UNDERLAY   (appended: BUM traffic goes to every peer)
 *   FDB  PEER_MAC dst UNDERLAY            (unicast to that peer)
 *   neighbour PEER_GW -> PEER_MAC         (PERMANENT: no ARP across the overlay)
 *   route PEER_POD_CIDR via PEER_GW dev VXLAN onlink
 * and removes exactly these when the peer leaves.
 *
 * Builders (mseg_nlmsg_vxlan_*, mseg_nlmsg_fdb_*) are pure like runtime/nlmsg.h's; the
 * mseg_vxlan_* operations send them over a socket of runtime/netlink.h.
 */
#ifndef MSEG_RUNTIME_VXLAN_H
#define MSEG_RUNTIME_VXLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/model.h"
#include "runtime/netlink.h"

#define MSEG_VXLAN_PORT 4789
/* Outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14) headers. */
#define MSEG_VXLAN_OVERHEAD 50
#define MSEG_VXLAN_IFNAME "mseg_vxlan"
#define MSEG_VXLAN_VNI 1
/* 24-bit VNI space. */
#define MSEG_VXLAN_VNI_MAX 0xffffffu

struct mseg_vxlan_config {
	const char *ifname;	/* <= 15 chars */
	uint32_t vni;		/* 1 .. MSEG_VXLAN_VNI_MAX */
	struct mseg_cidr local; /* this node's underlay address, prefixlen 32 */
	uint16_t port;		/* UDP port; 0: MSEG_VXLAN_PORT */
	uint32_t mtu;		/* underlay MTU - MSEG_VXLAN_OVERHEAD; 0: kernel default */
	int underlay_ifindex;	/* 0: any (the kernel routes the outer packets) */
	const uint8_t *mac;	/* 6 bytes or NULL (kernel-chosen) */
};

/* One remote node as the overlay needs it. */
struct mseg_vxlan_peer {
	struct mseg_cidr underlay; /* its underlay address (/32) */
	struct mseg_cidr gateway;  /* its VXLAN device's address: .0 of its pod CIDR (/32) */
	struct mseg_cidr pod_cidr; /* its pod CIDR (/24 by default) */
	uint8_t mac[6];		   /* its VXLAN device's MAC (mseg_vxlan_mac(gateway)) */
};

/* ---- pure helpers (vxlan.c) ------------------------------------------------------------ */

/*
 * Node index -> its pod CIDR and gateway: index N of cluster/P gets the N-th subnet of size
 * pod_prefixlen (10.200.0.0/16, 24, 3 -> 10.200.3.0/24, gateway 10.200.3.0/32). -ERANGE when
 * N does not fit; -EINVAL for a non-IPv4 cluster or pod_prefixlen outside prefixlen+1..30.
 */
int mseg_vxlan_pod_cidr(const struct mseg_cidr *cluster, uint8_t pod_prefixlen, uint32_t index,
			struct mseg_cidr *pod, struct mseg_cidr *gateway);
/* The VXLAN device MAC for a gateway address: 02:00:a:b:c:d. */
void mseg_vxlan_mac(const struct mseg_cidr *gateway, uint8_t mac[6]);
/* Fills a peer from its underlay address and pod CIDR (gateway and MAC derived). */
int mseg_vxlan_peer_init(struct mseg_vxlan_peer *peer, const struct mseg_cidr *underlay,
			 const struct mseg_cidr *pod_cidr);

/* ---- builders (nlmsg_vxlan.c) ----------------------------------------------------------- */

/* RTM_NEWLINK (CREATE|EXCL), kind "vxlan": id, local, port, learning off, no remote. */
int mseg_nlmsg_vxlan_add(void *buf, size_t size, const struct mseg_vxlan_config *cfg);
/*
 * RTM_NEWNEIGH in AF_BRIDGE with NTF_SELF on the VXLAN device: mac -> dst (PERMANENT).
 * append (NLM_F_APPEND) adds one more destination to the same MAC (the all-zero BUM entry);
 * otherwise the entry is created or replaced.
 */
int mseg_nlmsg_fdb_add(void *buf, size_t size, int ifindex, const uint8_t mac[6],
		       const struct mseg_cidr *dst, bool append);
/* RTM_DELNEIGH of that one destination of mac. */
int mseg_nlmsg_fdb_del(void *buf, size_t size, int ifindex, const uint8_t mac[6],
		       const struct mseg_cidr *dst);
/* RTM_NEWROUTE (CREATE|REPLACE): dst via gateway dev oif onlink (the gateway is on no subnet). */
int mseg_nlmsg_route_onlink_add(void *buf, size_t size, const struct mseg_cidr *dst,
				const struct mseg_cidr *gateway, int oif);

/* ---- operations (vxlan.c) -------------------------------------------------------------- */

/*
 * Creates the VXLAN device, puts gateway/32 on it and sets it up; *ifindex (may be NULL) gets
 * its index. An existing device of that name is -EEXIST (the caller decides to adopt or
 * replace it). On failure the half-made device is removed.
 */
int mseg_vxlan_create(struct mseg_nl *nl, const struct mseg_vxlan_config *cfg,
		      const struct mseg_cidr *gateway, int *ifindex);
/* Removes the device (and with it every FDB entry, neighbour and route through it). */
int mseg_vxlan_delete(struct mseg_nl *nl, const char *ifname);
/* Programs one remote node (idempotent: re-adding the same peer succeeds). */
int mseg_vxlan_peer_add(struct mseg_nl *nl, int ifindex, const struct mseg_vxlan_peer *peer);
/* Removes what mseg_vxlan_peer_add made; entries already gone are not an error. */
int mseg_vxlan_peer_del(struct mseg_nl *nl, int ifindex, const struct mseg_vxlan_peer *peer);

/* ---- the underlay filter (vxlan_filter.c) ---------------------------------------------- */

#define MSEG_OVERLAY_TABLE "mseg_overlay"
#define MSEG_OVERLAY_SET "nodes"
#define MSEG_OVERLAY_COUNTER "vxlan_unknown"

/*
 * Makes table inet mseg_overlay of the caller's namespace say, in one atomic batch:
 *   set nodes { type ipv4_addr; elements = { nodes... } }
 *   counter vxlan_unknown
 *   chain input { type filter hook input priority -150; policy accept;
 *     meta nfproto ipv4 meta l4proto udp udp dport PORT ip saddr != @nodes
 *       counter name vxlan_unknown drop }
 * Re-applying replaces the node set and the rule but keeps the counter's value. Only this
 * table is ever touched. port 0 means MSEG_VXLAN_PORT.
 */
int mseg_overlay_filter_apply(uint16_t port, const struct mseg_cidr *nodes, size_t n_nodes);
/* Packets and bytes dropped so far (-ENOENT when the table does not exist). */
int mseg_overlay_filter_counter(uint64_t *packets, uint64_t *bytes);
/* Removes the table; 0 when it does not exist. */
int mseg_overlay_filter_remove(void);

#endif
