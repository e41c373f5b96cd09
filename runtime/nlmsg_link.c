// SPDX-License-Identifier: Apache-2.0
/* Link requests: the veth pair with its peer born in the container, get, up/down, delete. */
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>

#include "runtime/nlmsg.h"
#include "runtime/nlmsg_internal.h"

bool mseg_nlmsg_ifname_valid(const char *name)
{
	size_t len;

	if (!name)
		return false;
	len = strlen(name);
	if (len == 0 || len >= IFNAMSIZ || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	return strcspn(name, "/: \t\n\v\f\r") == len;
}

/* IFLA_IFNAME and IFLA_MTU/IFLA_ADDRESS of one side, shared by the pair's two halves. */
static int put_side(struct nlmsghdr *nlh, size_t size, const char *ifname, const uint8_t *mac,
		    uint32_t mtu)
{
	if (!mnl_attr_put_strz_check(nlh, size, IFLA_IFNAME, ifname))
		return -EMSGSIZE;
	if (mac && !mnl_attr_put_check(nlh, size, IFLA_ADDRESS, 6, mac))
		return -EMSGSIZE;
	if (mtu && !mnl_attr_put_u32_check(nlh, size, IFLA_MTU, mtu))
		return -EMSGSIZE;
	return 0;
}

int mseg_nlmsg_veth_add(void *buf, size_t size, const struct mseg_nlmsg_veth *veth)
{
	struct nlattr *linkinfo, *data, *peer;
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifm;
	void *extra;
	int r;

	if (!veth || !mseg_nlmsg_ifname_valid(veth->ifname) ||
	    !mseg_nlmsg_ifname_valid(veth->peer_ifname))
		return -EINVAL;
	nlh = mseg_nlmsg_start(buf, size, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(*ifm),
			       &extra);
	if (!nlh)
		return -EMSGSIZE;
	ifm = extra;
	ifm->ifi_family = AF_UNSPEC;
	r = put_side(nlh, size, veth->ifname, veth->mac, veth->mtu);
	if (r < 0)
		return r;

	linkinfo = mnl_attr_nest_start_check(nlh, size, IFLA_LINKINFO);
	if (!linkinfo || !mnl_attr_put_strz_check(nlh, size, IFLA_INFO_KIND, "veth"))
		return -EMSGSIZE;
	data = mnl_attr_nest_start_check(nlh, size, IFLA_INFO_DATA);
	if (!data)
		return -EMSGSIZE;
	/* VETH_INFO_PEER carries a whole ifinfomsg and then the peer's own IFLA_* attributes. */
	peer = mnl_attr_nest_start_check(nlh, size, VETH_INFO_PEER);
	if (!peer || nlh->nlmsg_len + MNL_ALIGN(sizeof(*ifm)) > size)
		return -EMSGSIZE;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	r = put_side(nlh, size, veth->peer_ifname, veth->peer_mac, veth->mtu);
	if (r < 0)
		return r;
	if (veth->peer_netns_fd >= 0 &&
	    !mnl_attr_put_u32_check(nlh, size, IFLA_NET_NS_FD, (uint32_t)veth->peer_netns_fd))
		return -EMSGSIZE;
	mnl_attr_nest_end(nlh, peer);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, linkinfo);
	return 0;
}

/* A request addressed to one link by index or, when ifindex is 0, by name. */
static int link_msg(void *buf, size_t size, uint16_t type, uint16_t flags, int ifindex,
		    const char *ifname, struct ifinfomsg **ret)
{
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifm;
	void *extra;

	if (ifindex < 0 || (ifindex == 0 && !mseg_nlmsg_ifname_valid(ifname)))
		return -EINVAL;
	nlh = mseg_nlmsg_start(buf, size, type, flags, sizeof(*ifm), &extra);
	if (!nlh)
		return -EMSGSIZE;
	ifm = extra;
	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = ifindex;
	if (ifindex == 0 && !mnl_attr_put_strz_check(nlh, size, IFLA_IFNAME, ifname))
		return -EMSGSIZE;
	if (ret)
		*ret = ifm;
	return 0;
}

int mseg_nlmsg_link_get(void *buf, size_t size, int ifindex, const char *ifname)
{
	return link_msg(buf, size, RTM_GETLINK, 0, ifindex, ifname, NULL);
}

int mseg_nlmsg_link_set_up(void *buf, size_t size, int ifindex, bool up)
{
	struct ifinfomsg *ifm;
	int r;

	if (ifindex <= 0)
		return -EINVAL;
	r = link_msg(buf, size, RTM_NEWLINK, 0, ifindex, NULL, &ifm);
	if (r < 0)
		return r;
	ifm->ifi_change = IFF_UP;
	ifm->ifi_flags = up ? IFF_UP : 0;
	return 0;
}

int mseg_nlmsg_link_del(void *buf, size_t size, int ifindex, const char *ifname)
{
	return link_msg(buf, size, RTM_DELLINK, 0, ifindex, ifname, NULL);
}
