// SPDX-License-Identifier: Apache-2.0
/* The overlay's addressing helpers and the VXLAN device/peer operations (see vxlan.h). */
#include <errno.h>
#include <linux/neighbour.h>
#include <string.h>

#include "runtime/container_net.h"
#include "runtime/link.h"
#include "runtime/vxlan.h"

int mseg_vxlan_pod_cidr(const struct mseg_cidr *cluster, uint8_t pod_prefixlen, uint32_t index,
			struct mseg_cidr *pod, struct mseg_cidr *gateway)
{
	uint32_t base, net, bits;

	if (!cluster || cluster->family != MSEG_AF_INET || cluster->prefixlen > 32 ||
	    pod_prefixlen <= cluster->prefixlen || pod_prefixlen > 30)
		return -EINVAL;
	bits = pod_prefixlen - cluster->prefixlen;
	if (bits < 32 && index >= (1u << bits))
		return -ERANGE;
	base = (uint32_t)cluster->addr[0] << 24 | (uint32_t)cluster->addr[1] << 16 |
	       (uint32_t)cluster->addr[2] << 8 | cluster->addr[3];
	/* The cluster's host bits are ignored: 10.200.7.7/16 means 10.200.0.0/16. */
	if (cluster->prefixlen)
		base &= ~0u << (32 - cluster->prefixlen);
	else
		base = 0;
	net = base | index << (32 - pod_prefixlen);
	if (pod) {
		memset(pod, 0, sizeof(*pod));
		pod->family = MSEG_AF_INET;
		pod->prefixlen = pod_prefixlen;
		pod->addr[0] = net >> 24;
		pod->addr[1] = net >> 16;
		pod->addr[2] = net >> 8;
		pod->addr[3] = net;
	}
	if (gateway) {
		memset(gateway, 0, sizeof(*gateway));
		gateway->family = MSEG_AF_INET;
		gateway->prefixlen = 32;
		memcpy(gateway->addr, (uint8_t[]){net >> 24, net >> 16, net >> 8, net}, 4);
	}
	return 0;
}

void mseg_vxlan_mac(const struct mseg_cidr *gateway, uint8_t mac[6])
{
	/* Same scheme as containers: no clash, since IPAM never gives a container the .0. */
	mseg_container_mac(gateway, mac);
}

int mseg_vxlan_peer_init(struct mseg_vxlan_peer *peer, const struct mseg_cidr *underlay,
			 const struct mseg_cidr *pod_cidr)
{
	struct mseg_cidr net;

	if (!peer || !underlay || !pod_cidr || underlay->family != MSEG_AF_INET ||
	    underlay->prefixlen != 32 || pod_cidr->family != MSEG_AF_INET ||
	    pod_cidr->prefixlen > 30)
		return -EINVAL;
	/* The network address of the pod CIDR, whatever host bits the caller left in it. */
	net = *pod_cidr;
	for (unsigned int i = 0; i < 4; i++) {
		unsigned int keep = pod_cidr->prefixlen > 8 * i ? pod_cidr->prefixlen - 8 * i : 0;

		if (keep < 8)
			net.addr[i] &= (uint8_t)(0xff00u >> keep);
	}
	memset(peer, 0, sizeof(*peer));
	peer->underlay = *underlay;
	peer->pod_cidr = net;
	peer->gateway = net;
	peer->gateway.prefixlen = 32;
	mseg_vxlan_mac(&peer->gateway, peer->mac);
	return 0;
}

static int send_built(struct mseg_nl *nl, void *buf, int r)
{
	return r < 0 ? r : mseg_nl_request(nl, (struct nlmsghdr *)buf, NULL, NULL);
}

int mseg_vxlan_create(struct mseg_nl *nl, const struct mseg_vxlan_config *cfg,
		      const struct mseg_cidr *gateway, int *ifindex)
{
	uint8_t buf[MSEG_NLMSG_BUFSIZE] __attribute__((aligned(8)));
	int idx, r;

	if (!nl || !cfg || !gateway || gateway->family != MSEG_AF_INET || gateway->prefixlen != 32)
		return -EINVAL;
	r = send_built(nl, buf, mseg_nlmsg_vxlan_add(buf, sizeof(buf), cfg));
	if (r < 0)
		return r;
	r = mseg_link_get(nl, cfg->ifname, &idx, NULL);
	if (r < 0)
		goto undo_link;
	r = mseg_addr_add(nl, idx, gateway);
	if (r < 0)
		goto undo_link;
	r = mseg_link_set_up(nl, idx, true);
	if (r < 0)
		goto undo_link;
	if (ifindex)
		*ifindex = idx;
	return 0;

undo_link:
	(void)mseg_link_delete(nl, cfg->ifname);
	return r;
}

int mseg_vxlan_delete(struct mseg_nl *nl, const char *ifname)
{
	return mseg_link_delete(nl, ifname);
}

static const uint8_t zero_mac[6];

int mseg_vxlan_peer_add(struct mseg_nl *nl, int ifindex, const struct mseg_vxlan_peer *peer)
{
	uint8_t buf[MSEG_NLMSG_BUFSIZE] __attribute__((aligned(8)));
	int r;

	if (!nl || !peer || ifindex <= 0)
		return -EINVAL;
	r = send_built(
	    nl, buf,
	    mseg_nlmsg_fdb_add(buf, sizeof(buf), ifindex, zero_mac, &peer->underlay, true));
	/* The BUM list already holds this peer (a retried join). */
	if (r < 0 && r != -EEXIST)
		return r;
	r = send_built(
	    nl, buf,
	    mseg_nlmsg_fdb_add(buf, sizeof(buf), ifindex, peer->mac, &peer->underlay, false));
	if (r < 0)
		return r;
	r = mseg_neigh_add(nl, ifindex, &peer->gateway, peer->mac, NUD_PERMANENT);
	if (r < 0)
		return r;
	return send_built(nl, buf,
			  mseg_nlmsg_route_onlink_add(buf, sizeof(buf), &peer->pod_cidr,
						      &peer->gateway, ifindex));
}

static int ignore_gone(int r)
{
	return r == -ENOENT || r == -ESRCH || r == -ENODEV ? 0 : r;
}

int mseg_vxlan_peer_del(struct mseg_nl *nl, int ifindex, const struct mseg_vxlan_peer *peer)
{
	uint8_t buf[MSEG_NLMSG_BUFSIZE] __attribute__((aligned(8)));
	struct mseg_nlmsg_route route = {.gateway = &peer->gateway, .oif = ifindex};
	int r, first = 0;

	if (!nl || !peer || ifindex <= 0)
		return -EINVAL;
	/* Everything is attempted, so one missing entry does not strand the others. */
	route.dst = peer->pod_cidr;
	r = mseg_route_delete(nl, &route);
	first = first ?: r;
	r = ignore_gone(
	    send_built(nl, buf, mseg_nlmsg_neigh_del(buf, sizeof(buf), ifindex, &peer->gateway)));
	first = first ?: r;
	r = ignore_gone(send_built(
	    nl, buf, mseg_nlmsg_fdb_del(buf, sizeof(buf), ifindex, peer->mac, &peer->underlay)));
	first = first ?: r;
	r = ignore_gone(send_built(
	    nl, buf, mseg_nlmsg_fdb_del(buf, sizeof(buf), ifindex, zero_mac, &peer->underlay)));
	first = first ?: r;
	return first;
}
