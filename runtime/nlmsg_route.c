// SPDX-License-Identifier: Apache-2.0
/* Route requests: IPv4 unicast routes, directly connected or via a gateway. */
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include "runtime/nlmsg.h"
#include "runtime/nlmsg_internal.h"

static int route_msg(void *buf, size_t size, uint16_t type, uint16_t flags,
		     const struct mseg_nlmsg_route *route)
{
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	void *extra;
	uint32_t table;

	if (!route || !mseg_nlmsg_v4(&route->dst) || route->oif < 0 ||
	    (route->gateway && !mseg_nlmsg_v4(route->gateway)))
		return -EINVAL;
	nlh = mseg_nlmsg_start(buf, size, type, flags, sizeof(*rtm), &extra);
	if (!nlh)
		return -EMSGSIZE;
	table = route->table ? route->table : RT_TABLE_MAIN;
	rtm = extra;
	rtm->rtm_family = AF_INET;
	rtm->rtm_dst_len = route->dst.prefixlen;
	/* Tables above 255 only fit in RTA_TABLE; rtm_table then says RT_TABLE_UNSPEC. */
	rtm->rtm_table = table < 256 ? (uint8_t)table : RT_TABLE_UNSPEC;
	if (type == RTM_NEWROUTE) {
		rtm->rtm_protocol = RTPROT_STATIC;
		rtm->rtm_type = RTN_UNICAST;
		/* A gateway route is universe; a directly connected one is link scope. */
		rtm->rtm_scope = route->gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
	} else {
		/* RT_SCOPE_NOWHERE is the kernel's wildcard for deletes. */
		rtm->rtm_scope = RT_SCOPE_NOWHERE;
	}
	if (route->dst.prefixlen && !mnl_attr_put_check(nlh, size, RTA_DST, 4, route->dst.addr))
		return -EMSGSIZE;
	if (route->gateway && !mnl_attr_put_check(nlh, size, RTA_GATEWAY, 4, route->gateway->addr))
		return -EMSGSIZE;
	if (route->oif && !mnl_attr_put_u32_check(nlh, size, RTA_OIF, (uint32_t)route->oif))
		return -EMSGSIZE;
	if (table >= 256 && !mnl_attr_put_u32_check(nlh, size, RTA_TABLE, table))
		return -EMSGSIZE;
	return 0;
}

int mseg_nlmsg_route_add(void *buf, size_t size, const struct mseg_nlmsg_route *route)
{
	if (route && route->oif <= 0)
		return -EINVAL;
	return route_msg(buf, size, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, route);
}

int mseg_nlmsg_route_del(void *buf, size_t size, const struct mseg_nlmsg_route *route)
{
	return route_msg(buf, size, RTM_DELROUTE, 0, route);
}
