// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <string.h>

#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include "runtime/link.h"

struct link_reply {
	int ifindex;
	uint8_t mac[6];
	bool have_mac;
};

static int link_attr_cb(const struct nlattr *attr, void *data)
{
	struct link_reply *reply = data;

	if (mnl_attr_get_type(attr) == IFLA_ADDRESS && mnl_attr_get_payload_len(attr) == 6) {
		memcpy(reply->mac, mnl_attr_get_payload(attr), 6);
		reply->have_mac = true;
	}
	return MNL_CB_OK;
}

static int link_reply_cb(const struct nlmsghdr *nlh, void *data)
{
	struct link_reply *reply = data;
	const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_type != RTM_NEWLINK || nlh->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(*ifm))
		return MNL_CB_OK;
	reply->ifindex = ifm->ifi_index;
	return mnl_attr_parse(nlh, sizeof(*ifm), link_attr_cb, reply);
}

int mseg_link_get(struct mseg_nl *nl, const char *ifname, int *ifindex, uint8_t mac[6])
{
	uint8_t buf[MSEG_NLMSG_BUFSIZE] __attribute__((aligned(8)));
	struct link_reply reply = {0};
	int r;

	r = mseg_nlmsg_link_get(buf, sizeof(buf), 0, ifname);
	if (r < 0)
		return r;
	r = mseg_nl_request(nl, (struct nlmsghdr *)buf, link_reply_cb, &reply);
	if (r < 0)
		return r;
	if (reply.ifindex <= 0)
		return -ENODEV;
	if (ifindex)
		*ifindex = reply.ifindex;
	if (mac) {
		/* Links without a hardware address (lo has zeros, tunnels none) read as zeros. */
		memset(mac, 0, 6);
		if (reply.have_mac)
			memcpy(mac, reply.mac, 6);
	}
	return 0;
}

int mseg_link_set_up(struct mseg_nl *nl, int ifindex, bool up)
{
	uint8_t buf[MSEG_NLMSG_BUFSIZE] __attribute__((aligned(8)));
	int r;

	r = mseg_nlmsg_link_set_up(buf, sizeof(buf), ifindex, up);
	return r < 0 ? r : mseg_nl_request(nl, (struct nlmsghdr *)buf, NULL, NULL);
}

int mseg_link_delete(struct mseg_nl *nl, const char *ifname)
{
	uint8_t buf[MSEG_NLMSG_BUFSIZE] __attribute__((aligned(8)));
	int r;

	r = mseg_nlmsg_link_del(buf, sizeof(buf), 0, ifname);
	if (r < 0)
		return r;
	r = mseg_nl_request(nl, (struct nlmsghdr *)buf, NULL, NULL);
	return r == -ENODEV ? 0 : r;
}

int mseg_link_veth_add(struct mseg_nl *nl, const struct mseg_nlmsg_veth *veth)
{
	uint8_t buf[MSEG_NLMSG_BUFSIZE] __attribute__((aligned(8)));
	int r;

	r = mseg_nlmsg_veth_add(buf, sizeof(buf), veth);
	return r < 0 ? r : mseg_nl_request(nl, (struct nlmsghdr *)buf, NULL, NULL);
}

int mseg_addr_add(struct mseg_nl *nl, int ifindex, const struct mseg_cidr *addr)
{
	uint8_t buf[MSEG_NLMSG_BUFSIZE] __attribute__((aligned(8)));
	int r;

	r = mseg_nlmsg_addr_add(buf, sizeof(buf), ifindex, addr);
	return r < 0 ? r : mseg_nl_request(nl, (struct nlmsghdr *)buf, NULL, NULL);
}

int mseg_route_add(struct mseg_nl *nl, const struct mseg_nlmsg_route *route)
{
	uint8_t buf[MSEG_NLMSG_BUFSIZE] __attribute__((aligned(8)));
	int r;

	r = mseg_nlmsg_route_add(buf, sizeof(buf), route);
	return r < 0 ? r : mseg_nl_request(nl, (struct nlmsghdr *)buf, NULL, NULL);
}

int mseg_route_delete(struct mseg_nl *nl, const struct mseg_nlmsg_route *route)
{
	uint8_t buf[MSEG_NLMSG_BUFSIZE] __attribute__((aligned(8)));
	int r;

	r = mseg_nlmsg_route_del(buf, sizeof(buf), route);
	if (r < 0)
		return r;
	r = mseg_nl_request(nl, (struct nlmsghdr *)buf, NULL, NULL);
	/* ESRCH: no such route; ENODEV: its link (so the route) is gone already. */
	return r == -ESRCH || r == -ENODEV ? 0 : r;
}

int mseg_neigh_add(struct mseg_nl *nl, int ifindex, const struct mseg_cidr *ip,
		   const uint8_t mac[6], uint16_t state)
{
	uint8_t buf[MSEG_NLMSG_BUFSIZE] __attribute__((aligned(8)));
	int r;

	r = mseg_nlmsg_neigh_add(buf, sizeof(buf), ifindex, ip, mac, state);
	return r < 0 ? r : mseg_nl_request(nl, (struct nlmsghdr *)buf, NULL, NULL);
}
