// SPDX-License-Identifier: Apache-2.0
/* Neighbour requests: static IPv4 -> MAC entries (the routed network needs no ARP). */
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include "runtime/nlmsg.h"
#include "runtime/nlmsg_internal.h"

static int neigh_msg(void *buf, size_t size, uint16_t type, uint16_t flags, int ifindex,
		     const struct mseg_cidr *ip, struct ndmsg **ret, struct nlmsghdr **ret_nlh)
{
	struct nlmsghdr *nlh;
	struct ndmsg *ndm;
	void *extra;

	if (ifindex <= 0 || !mseg_nlmsg_v4(ip) || ip->prefixlen != 32)
		return -EINVAL;
	nlh = mseg_nlmsg_start(buf, size, type, flags, sizeof(*ndm), &extra);
	if (!nlh)
		return -EMSGSIZE;
	ndm = extra;
	ndm->ndm_family = AF_INET;
	ndm->ndm_ifindex = ifindex;
	ndm->ndm_type = RTN_UNICAST;
	if (!mnl_attr_put_check(nlh, size, NDA_DST, 4, ip->addr))
		return -EMSGSIZE;
	*ret = ndm;
	*ret_nlh = nlh;
	return 0;
}

int mseg_nlmsg_neigh_add(void *buf, size_t size, int ifindex, const struct mseg_cidr *ip,
			 const uint8_t mac[6], uint16_t state)
{
	struct nlmsghdr *nlh;
	struct ndmsg *ndm;
	int r;

	if (!mac || !state)
		return -EINVAL;
	/* REPLACE makes re-adding the same entry (a retried setup) succeed. */
	r = neigh_msg(buf, size, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, ifindex, ip, &ndm,
		      &nlh);
	if (r < 0)
		return r;
	ndm->ndm_state = state;
	if (!mnl_attr_put_check(nlh, size, NDA_LLADDR, 6, mac))
		return -EMSGSIZE;
	return 0;
}

int mseg_nlmsg_neigh_del(void *buf, size_t size, int ifindex, const struct mseg_cidr *ip)
{
	struct nlmsghdr *nlh;
	struct ndmsg *ndm;

	return neigh_msg(buf, size, RTM_DELNEIGH, 0, ifindex, ip, &ndm, &nlh);
}
