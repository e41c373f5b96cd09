// SPDX-License-Identifier: Apache-2.0
/* Address requests: an IPv4 address with its prefix length on one link. */
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include "runtime/nlmsg.h"
#include "runtime/nlmsg_internal.h"

static int addr_msg(void *buf, size_t size, uint16_t type, uint16_t flags, int ifindex,
		    const struct mseg_cidr *addr)
{
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;
	void *extra;

	if (ifindex <= 0 || !mseg_nlmsg_v4(addr))
		return -EINVAL;
	nlh = mseg_nlmsg_start(buf, size, type, flags, sizeof(*ifa), &extra);
	if (!nlh)
		return -EMSGSIZE;
	ifa = extra;
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = addr->prefixlen;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (uint32_t)ifindex;
	/*
	 * IFA_LOCAL is the address itself; IFA_ADDRESS is the peer on point-to-point links and
	 * equal to IFA_LOCAL elsewhere, as `ip addr add` sends it.
	 */
	if (!mnl_attr_put_check(nlh, size, IFA_LOCAL, 4, addr->addr) ||
	    !mnl_attr_put_check(nlh, size, IFA_ADDRESS, 4, addr->addr))
		return -EMSGSIZE;
	return 0;
}

int mseg_nlmsg_addr_add(void *buf, size_t size, int ifindex, const struct mseg_cidr *addr)
{
	return addr_msg(buf, size, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, ifindex, addr);
}

int mseg_nlmsg_addr_del(void *buf, size_t size, int ifindex, const struct mseg_cidr *addr)
{
	return addr_msg(buf, size, RTM_DELADDR, 0, ifindex, addr);
}
