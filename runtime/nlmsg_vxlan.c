// SPDX-License-Identifier: Apache-2.0
/* VXLAN requests: the device (iproute2's ip/iplink_vxlan.c subset we need), FDB, onlink routes. */
#include <arpa/inet.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include "runtime/nlmsg.h"
#include "runtime/nlmsg_internal.h"
#include "runtime/vxlan.h"

static bool host_v4(const struct mseg_cidr *c)
{
	return mseg_nlmsg_v4(c) && c->prefixlen == 32;
}

int mseg_nlmsg_vxlan_add(void *buf, size_t size, const struct mseg_vxlan_config *cfg)
{
	struct nlattr *linkinfo, *data;
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifm;
	void *extra;
	uint16_t port;

	if (!cfg || !mseg_nlmsg_ifname_valid(cfg->ifname) || cfg->vni == 0 ||
	    cfg->vni > MSEG_VXLAN_VNI_MAX || !host_v4(&cfg->local) || cfg->underlay_ifindex < 0)
		return -EINVAL;
	nlh = mseg_nlmsg_start(buf, size, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(*ifm),
			       &extra);
	if (!nlh)
		return -EMSGSIZE;
	ifm = extra;
	ifm->ifi_family = AF_UNSPEC;
	if (!mnl_attr_put_strz_check(nlh, size, IFLA_IFNAME, cfg->ifname))
		return -EMSGSIZE;
	if (cfg->mac && !mnl_attr_put_check(nlh, size, IFLA_ADDRESS, 6, cfg->mac))
		return -EMSGSIZE;
	if (cfg->mtu && !mnl_attr_put_u32_check(nlh, size, IFLA_MTU, cfg->mtu))
		return -EMSGSIZE;

	linkinfo = mnl_attr_nest_start_check(nlh, size, IFLA_LINKINFO);
	if (!linkinfo || !mnl_attr_put_strz_check(nlh, size, IFLA_INFO_KIND, "vxlan"))
		return -EMSGSIZE;
	data = mnl_attr_nest_start_check(nlh, size, IFLA_INFO_DATA);
	if (!data)
		return -EMSGSIZE;
	/* The port travels in network byte order, the VNI in host order (as iproute2 sends). */
	port = htons(cfg->port ? cfg->port : MSEG_VXLAN_PORT);
	if (!mnl_attr_put_u32_check(nlh, size, IFLA_VXLAN_ID, cfg->vni) ||
	    !mnl_attr_put_check(nlh, size, IFLA_VXLAN_LOCAL, 4, cfg->local.addr) ||
	    !mnl_attr_put_check(nlh, size, IFLA_VXLAN_PORT, sizeof(port), &port) ||
	    /* Static FDB only: a learnt entry would let any sender redirect a peer's MAC. */
	    !mnl_attr_put_u8_check(nlh, size, IFLA_VXLAN_LEARNING, 0))
		return -EMSGSIZE;
	if (cfg->underlay_ifindex &&
	    !mnl_attr_put_u32_check(nlh, size, IFLA_VXLAN_LINK, (uint32_t)cfg->underlay_ifindex))
		return -EMSGSIZE;
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, linkinfo);
	return 0;
}

static int fdb_msg(void *buf, size_t size, uint16_t type, uint16_t flags, int ifindex,
		   const uint8_t mac[6], const struct mseg_cidr *dst)
{
	struct nlmsghdr *nlh;
	struct ndmsg *ndm;
	void *extra;

	if (ifindex <= 0 || !mac || !host_v4(dst))
		return -EINVAL;
	nlh = mseg_nlmsg_start(buf, size, type, flags, sizeof(*ndm), &extra);
	if (!nlh)
		return -EMSGSIZE;
	ndm = extra;
	ndm->ndm_family = AF_BRIDGE;
	ndm->ndm_ifindex = ifindex;
	/* NTF_SELF: the VXLAN device's own FDB, not a bridge master's. */
	ndm->ndm_flags = NTF_SELF;
	ndm->ndm_state = type == RTM_NEWNEIGH ? NUD_PERMANENT : 0;
	if (!mnl_attr_put_check(nlh, size, NDA_LLADDR, 6, mac) ||
	    !mnl_attr_put_check(nlh, size, NDA_DST, 4, dst->addr))
		return -EMSGSIZE;
	return 0;
}

int mseg_nlmsg_fdb_add(void *buf, size_t size, int ifindex, const uint8_t mac[6],
		       const struct mseg_cidr *dst, bool append)
{
	uint16_t flags = NLM_F_CREATE | (append ? NLM_F_APPEND : NLM_F_REPLACE);

	return fdb_msg(buf, size, RTM_NEWNEIGH, flags, ifindex, mac, dst);
}

int mseg_nlmsg_fdb_del(void *buf, size_t size, int ifindex, const uint8_t mac[6],
		       const struct mseg_cidr *dst)
{
	return fdb_msg(buf, size, RTM_DELNEIGH, 0, ifindex, mac, dst);
}

int mseg_nlmsg_route_onlink_add(void *buf, size_t size, const struct mseg_cidr *dst,
				const struct mseg_cidr *gateway, int oif)
{
	struct mseg_nlmsg_route route = {.gateway = gateway, .oif = oif};
	struct nlmsghdr *nlh = buf;
	struct rtmsg *rtm;
	int r;

	if (!dst || !host_v4(gateway))
		return -EINVAL;
	route.dst = *dst;
	r = mseg_nlmsg_route_add(buf, size, &route);
	if (r < 0)
		return r;
	/* REPLACE: a peer re-added (agent restart, changed gateway) overwrites its old route. */
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE;
	rtm = mnl_nlmsg_get_payload(nlh);
	/* The gateway is another node's /32 on its own device: reachable only by saying so. */
	rtm->rtm_flags |= RTNH_F_ONLINK;
	return 0;
}
