// SPDX-License-Identifier: Apache-2.0
/*
 * The routed container network of DESIGN.md §5. Two netlink sockets do all the work: one in
 * the caller's (node) namespace and one opened inside the container's namespace, so the veth
 * peer is born there as eth0 and nothing is ever moved between namespaces.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include <linux/neighbour.h>

#include "macro.h"
#include "policy/cidr.h"
#include "runtime/container_net.h"
#include "runtime/link.h"
#include "runtime/netns.h"

#define DEFAULT_MTU 1500

static void nl_closep(struct mseg_nl **nl)
{
	mseg_nl_close(*nl);
}
#define _cleanup_nl_ _cleanup_(nl_closep)

void mseg_container_mac(const struct mseg_cidr *addr, uint8_t mac[6])
{
	/* 02: locally administered unicast; the address makes it unique per node and stable. */
	mac[0] = 0x02;
	mac[1] = 0x00;
	memcpy(mac + 2, addr->addr, 4);
}

static bool container_addr_ok(const struct mseg_cidr *addr)
{
	unsigned a;

	if (!addr || addr->family != MSEG_AF_INET || addr->prefixlen != 32)
		return false;
	a = mseg_cidr_v4(addr);
	/* 0.0.0.0, multicast and broadcast cannot be an endpoint's address. */
	return a != 0 && (a >> 28) != 0xe && a != 0xffffffffu;
}

static int lo_up(struct mseg_nl *nl)
{
	/* A namespace made elsewhere may not have it up; ifindex 1 is lo in every namespace. */
	return mseg_link_set_up(nl, 1, true);
}

/* The container's half: links up, its /32, the gateway route, default route, gateway MAC. */
static int container_side(struct mseg_nl *cnl, const struct mseg_cidr *addr,
			  const uint8_t host_mac[6])
{
	struct mseg_cidr gw, any = {.family = MSEG_AF_INET, .prefixlen = 0};
	int eth0, r;

	gw = mseg_cidr_from_v4(ntohl(inet_addr(MSEG_GATEWAY_V4)), 32);
	r = lo_up(cnl);
	if (r < 0)
		return r;
	r = mseg_link_get(cnl, MSEG_CONTAINER_IFNAME, &eth0, NULL);
	if (r < 0)
		return r;
	r = mseg_link_set_up(cnl, eth0, true);
	if (r < 0)
		return r;
	r = mseg_addr_add(cnl, eth0, addr);
	if (r < 0)
		return r;
	r = mseg_route_add(cnl, &(struct mseg_nlmsg_route){.dst = gw, .oif = eth0});
	if (r < 0)
		return r;
	r = mseg_route_add(cnl,
			   &(struct mseg_nlmsg_route){.dst = any, .gateway = &gw, .oif = eth0});
	if (r < 0)
		return r;
	/*
	 * Neighbours last: taking a link down flushes even permanent entries, so they go in
	 * once the link is up for good. Permanent because proxy ARP would need a node route
	 * covering the gateway, which a node namespace without a default route lacks.
	 */
	return mseg_neigh_add(cnl, eth0, &gw, host_mac, NUD_PERMANENT);
}

static int host_side(struct mseg_nl *hnl, int host_ifindex, const struct mseg_cidr *addr,
		     const uint8_t container_mac[6])
{
	int r;

	r = mseg_route_add(hnl, &(struct mseg_nlmsg_route){.dst = *addr, .oif = host_ifindex});
	if (r < 0)
		return r;
	return mseg_neigh_add(hnl, host_ifindex, addr, container_mac, NUD_PERMANENT);
}

int mseg_container_net_setup(const struct mseg_container_net_config *cfg,
			     struct mseg_container_net_info *info)
{
	_cleanup_nl_ struct mseg_nl *hnl = NULL, *cnl = NULL;
	_cleanup_close_ int netns_fd = -1;
	struct mseg_container_net_info out = {0};
	int r;

	if (!cfg || !mseg_nlmsg_ifname_valid(cfg->host_ifname) || !container_addr_ok(&cfg->addr) ||
	    cfg->mtu > 65535 || (cfg->mtu && cfg->mtu < 68))
		return -EINVAL;
	r = mseg_netns_open(cfg->netns_name, &netns_fd);
	if (r < 0)
		return r;
	r = mseg_nl_open(&hnl);
	if (r < 0)
		return r;
	r = mseg_nl_open_netns(netns_fd, &cnl);
	if (r < 0)
		return r;

	mseg_container_mac(&cfg->addr, out.container_mac);
	r = mseg_link_veth_add(hnl, &(struct mseg_nlmsg_veth){
					.ifname = cfg->host_ifname,
					.peer_ifname = MSEG_CONTAINER_IFNAME,
					.peer_netns_fd = netns_fd,
					.peer_mac = out.container_mac,
					.mtu = cfg->mtu ? cfg->mtu : DEFAULT_MTU,
				    });
	/* Nothing was made: do not touch a link of that name that belongs to someone else. */
	if (r < 0)
		return r;

	r = mseg_link_get(hnl, cfg->host_ifname, &out.host_ifindex, out.host_mac);
	if (r < 0)
		goto delete_veth;
	/* Host side up first: routes need their device up, and the peer its carrier. */
	r = mseg_link_set_up(hnl, out.host_ifindex, true);
	if (r < 0)
		goto delete_veth;
	r = container_side(cnl, &cfg->addr, out.host_mac);
	if (r < 0)
		goto delete_veth;
	r = host_side(hnl, out.host_ifindex, &cfg->addr, out.container_mac);
	if (r < 0)
		goto delete_veth;
	if (info)
		*info = out;
	return 0;

delete_veth:
	/* The peer, the addresses, routes and neighbours on either side go with the pair. */
	(void)mseg_link_delete(hnl, cfg->host_ifname);
	return r;
}

/*
 * Opens a node socket and finds host_ifname: 1 with nl and ifindex set when the link exists,
 * 0 when it is gone already.
 */
static int host_link_find(const char *host_ifname, const struct mseg_cidr *addr,
			  struct mseg_nl **nl, int *ifindex)
{
	int r;

	if (!mseg_nlmsg_ifname_valid(host_ifname) || (addr && !container_addr_ok(addr)))
		return -EINVAL;
	r = mseg_nl_open(nl);
	if (r < 0)
		return r;
	r = mseg_link_get(*nl, host_ifname, ifindex, NULL);
	if (r == -ENODEV)
		return 0;
	return r < 0 ? r : 1;
}

static int host_route_delete(struct mseg_nl *nl, int ifindex, const struct mseg_cidr *addr)
{
	/* Only the route through our veth: a route to the same address elsewhere is not ours. */
	return mseg_route_delete(nl, &(struct mseg_nlmsg_route){.dst = *addr, .oif = ifindex});
}

int mseg_container_net_teardown(const char *host_ifname, const struct mseg_cidr *addr)
{
	_cleanup_nl_ struct mseg_nl *nl = NULL;
	int ifindex, r;

	r = host_link_find(host_ifname, addr, &nl, &ifindex);
	if (r <= 0)
		return r; /* gone: the route through it went with it */
	if (addr) {
		r = host_route_delete(nl, ifindex, addr);
		if (r < 0)
			return r;
	}
	return mseg_link_delete(nl, host_ifname);
}

int mseg_container_net_unroute(const char *host_ifname, const struct mseg_cidr *addr)
{
	_cleanup_nl_ struct mseg_nl *nl = NULL;
	int ifindex, r;

	if (!addr)
		return -EINVAL;
	r = host_link_find(host_ifname, addr, &nl, &ifindex);
	if (r <= 0)
		return r;
	return host_route_delete(nl, ifindex, addr);
}

int mseg_link_lookup(const char *ifname, int *ifindex, uint8_t mac[6])
{
	_cleanup_nl_ struct mseg_nl *nl = NULL;
	int r;

	if (!mseg_nlmsg_ifname_valid(ifname))
		return -EINVAL;
	r = mseg_nl_open(&nl);
	if (r < 0)
		return r;
	return mseg_link_get(nl, ifname, ifindex, mac);
}
