// SPDX-License-Identifier: Apache-2.0
/* The rtnetlink builders: every byte that matters, checked without a kernel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sys/socket.h>

#include "policy/cidr.h"
#include "runtime/nlmsg.h"

#include "nlattr_helpers.h"

static uint8_t buf[MSEG_NLMSG_BUFSIZE] __attribute__((aligned(8)));

static struct nlmsghdr *msg(void)
{
	return (struct nlmsghdr *)buf;
}

static void check_header(uint16_t type, uint16_t flags, size_t family_len)
{
	assert_int_equal(msg()->nlmsg_type, type);
	assert_int_equal(msg()->nlmsg_flags, NLM_F_REQUEST | flags);
	assert_true(msg()->nlmsg_len >= MNL_NLMSG_HDRLEN + MNL_ALIGN(family_len));
	assert_true(msg()->nlmsg_len <= sizeof(buf));
	/* The wrapper sets these when sending. */
	assert_int_equal(msg()->nlmsg_seq, 0);
	assert_int_equal(msg()->nlmsg_pid, 0);
}

static void test_veth_peer_born_in_container(void **state)
{
	static const uint8_t peer_mac[6] = {0x02, 0x00, 10, 200, 0, 2};
	struct mseg_nlmsg_veth veth = {
	    .ifname = "mseg1234",
	    .peer_ifname = "eth0",
	    .peer_netns_fd = 7,
	    .peer_mac = peer_mac,
	    .mtu = 1450,
	};
	const struct ifinfomsg *ifm, *peer_ifm;
	const struct nlattr *peer;
	struct attrs top, info, data, pa;

	memset(buf, 0xaa, sizeof(buf));
	assert_int_equal(mseg_nlmsg_veth_add(buf, sizeof(buf), &veth), 0);
	check_header(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(*ifm));
	ifm = mnl_nlmsg_get_payload(msg());
	assert_int_equal(ifm->ifi_family, AF_UNSPEC);
	assert_int_equal(ifm->ifi_index, 0);
	assert_int_equal(ifm->ifi_flags, 0);
	assert_int_equal(ifm->ifi_change, 0);

	top = parse(msg(), sizeof(*ifm));
	assert_string_equal(mnl_attr_get_str(top.tb[IFLA_IFNAME]), "mseg1234");
	assert_int_equal(mnl_attr_get_u32(top.tb[IFLA_MTU]), 1450);
	/* The host side's MAC is the kernel's choice; only the namespace fd goes to the peer. */
	assert_null(top.tb[IFLA_ADDRESS]);
	assert_null(top.tb[IFLA_NET_NS_FD]);

	info = parse_nested(top.tb[IFLA_LINKINFO]);
	assert_string_equal(mnl_attr_get_str(info.tb[IFLA_INFO_KIND]), "veth");
	data = parse_nested(info.tb[IFLA_INFO_DATA]);
	peer = data.tb[VETH_INFO_PEER];
	assert_non_null(peer);
	/* VETH_INFO_PEER = a full ifinfomsg, then the peer's attributes. */
	assert_true(mnl_attr_get_payload_len(peer) >= sizeof(struct ifinfomsg));
	peer_ifm = mnl_attr_get_payload(peer);
	assert_int_equal(peer_ifm->ifi_family, AF_UNSPEC);
	assert_int_equal(peer_ifm->ifi_index, 0);
	memset(&pa, 0, sizeof(pa));
	assert_int_equal(mnl_attr_parse_payload(
			     (const char *)peer_ifm + MNL_ALIGN(sizeof(struct ifinfomsg)),
			     mnl_attr_get_payload_len(peer) - MNL_ALIGN(sizeof(struct ifinfomsg)),
			     collect_cb, &pa),
			 MNL_CB_OK);
	assert_string_equal(mnl_attr_get_str(pa.tb[IFLA_IFNAME]), "eth0");
	assert_int_equal(mnl_attr_get_u32(pa.tb[IFLA_NET_NS_FD]), 7);
	assert_int_equal(mnl_attr_get_u32(pa.tb[IFLA_MTU]), 1450);
	assert_int_equal(mnl_attr_get_payload_len(pa.tb[IFLA_ADDRESS]), 6);
	assert_memory_equal(mnl_attr_get_payload(pa.tb[IFLA_ADDRESS]), peer_mac, 6);

	/* The nests close exactly at the end of the message. */
	assert_int_equal((const char *)top.tb[IFLA_LINKINFO] +
			     MNL_ALIGN(top.tb[IFLA_LINKINFO]->nla_len) - (const char *)msg(),
			 msg()->nlmsg_len);
}

static void test_veth_same_namespace_and_defaults(void **state)
{
	struct mseg_nlmsg_veth veth = {.ifname = "a", .peer_ifname = "b", .peer_netns_fd = -1};
	const struct nlattr *peer;
	struct attrs top, info, data, pa = {0};
	size_t off = MNL_ALIGN(sizeof(struct ifinfomsg));

	assert_int_equal(mseg_nlmsg_veth_add(buf, sizeof(buf), &veth), 0);
	top = parse(msg(), sizeof(struct ifinfomsg));
	assert_null(top.tb[IFLA_MTU]);
	info = parse_nested(top.tb[IFLA_LINKINFO]);
	data = parse_nested(info.tb[IFLA_INFO_DATA]);
	peer = data.tb[VETH_INFO_PEER];
	assert_int_equal(mnl_attr_parse_payload((const char *)mnl_attr_get_payload(peer) + off,
						mnl_attr_get_payload_len(peer) - off, collect_cb,
						&pa),
			 MNL_CB_OK);
	assert_string_equal(mnl_attr_get_str(pa.tb[IFLA_IFNAME]), "b");
	assert_null(pa.tb[IFLA_NET_NS_FD]);
	assert_null(pa.tb[IFLA_ADDRESS]);
	assert_null(pa.tb[IFLA_MTU]);
}

static void test_veth_bad_names_and_small_buffers(void **state)
{
	struct mseg_nlmsg_veth veth = {.ifname = "x", .peer_ifname = "eth0", .peer_netns_fd = 3};
	size_t size;

	veth.ifname = "sixteen-chars-xx";
	assert_int_equal(mseg_nlmsg_veth_add(buf, sizeof(buf), &veth), -EINVAL);
	veth.ifname = "a/b";
	assert_int_equal(mseg_nlmsg_veth_add(buf, sizeof(buf), &veth), -EINVAL);
	veth.ifname = "";
	assert_int_equal(mseg_nlmsg_veth_add(buf, sizeof(buf), &veth), -EINVAL);
	veth.ifname = "fifteen-chars-x";
	assert_int_equal(mseg_nlmsg_veth_add(buf, sizeof(buf), &veth), 0);
	veth.peer_ifname = "a b";
	assert_int_equal(mseg_nlmsg_veth_add(buf, sizeof(buf), &veth), -EINVAL);
	veth.peer_ifname = "eth0";
	assert_int_equal(mseg_nlmsg_veth_add(NULL, sizeof(buf), NULL), -EINVAL);

	/* Every truncation point is refused, never written past. */
	assert_int_equal(mseg_nlmsg_veth_add(buf, sizeof(buf), &veth), 0);
	size = msg()->nlmsg_len;
	for (size_t s = 0; s < size; s++) {
		memset(buf, 0x55, sizeof(buf));
		assert_int_equal(mseg_nlmsg_veth_add(buf, s, &veth), -EMSGSIZE);
		for (size_t i = s; i < sizeof(buf); i++)
			if (buf[i] != 0x55)
				fail_msg("size %zu: byte %zu written", s, i);
	}
	assert_int_equal(mseg_nlmsg_veth_add(buf, size, &veth), 0);
}

static void test_link_get_set_del(void **state)
{
	const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(msg());
	struct attrs a;

	assert_int_equal(mseg_nlmsg_link_get(buf, sizeof(buf), 0, "eth0"), 0);
	check_header(RTM_GETLINK, 0, sizeof(*ifm));
	assert_int_equal(ifm->ifi_index, 0);
	a = parse(msg(), sizeof(*ifm));
	assert_string_equal(mnl_attr_get_str(a.tb[IFLA_IFNAME]), "eth0");

	assert_int_equal(mseg_nlmsg_link_get(buf, sizeof(buf), 12, NULL), 0);
	assert_int_equal(ifm->ifi_index, 12);
	a = parse(msg(), sizeof(*ifm));
	assert_null(a.tb[IFLA_IFNAME]);

	assert_int_equal(mseg_nlmsg_link_set_up(buf, sizeof(buf), 5, true), 0);
	check_header(RTM_NEWLINK, 0, sizeof(*ifm));
	assert_int_equal(ifm->ifi_index, 5);
	assert_int_equal(ifm->ifi_change, IFF_UP);
	assert_int_equal(ifm->ifi_flags, IFF_UP);
	assert_int_equal(mseg_nlmsg_link_set_up(buf, sizeof(buf), 5, false), 0);
	assert_int_equal(ifm->ifi_change, IFF_UP);
	assert_int_equal(ifm->ifi_flags, 0);
	assert_int_equal(mseg_nlmsg_link_set_up(buf, sizeof(buf), 0, true), -EINVAL);

	assert_int_equal(mseg_nlmsg_link_del(buf, sizeof(buf), 0, "mseg1"), 0);
	check_header(RTM_DELLINK, 0, sizeof(*ifm));
	a = parse(msg(), sizeof(*ifm));
	assert_string_equal(mnl_attr_get_str(a.tb[IFLA_IFNAME]), "mseg1");
	assert_int_equal(mseg_nlmsg_link_del(buf, sizeof(buf), 0, NULL), -EINVAL);
	assert_int_equal(mseg_nlmsg_link_del(buf, sizeof(buf), -1, "x"), -EINVAL);
	assert_int_equal(mseg_nlmsg_link_del(buf, 8, 3, NULL), -EMSGSIZE);
}

static void test_addr(void **state)
{
	struct mseg_cidr a = cidr("10.200.0.7/32"), v6 = a;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(msg());
	struct attrs at;

	assert_int_equal(mseg_nlmsg_addr_add(buf, sizeof(buf), 3, &a), 0);
	check_header(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, sizeof(*ifa));
	assert_int_equal(ifa->ifa_family, AF_INET);
	assert_int_equal(ifa->ifa_prefixlen, 32);
	assert_int_equal(ifa->ifa_index, 3);
	assert_int_equal(ifa->ifa_scope, RT_SCOPE_UNIVERSE);
	at = parse(msg(), sizeof(*ifa));
	assert_int_equal(mnl_attr_get_payload_len(at.tb[IFA_LOCAL]), 4);
	assert_memory_equal(mnl_attr_get_payload(at.tb[IFA_LOCAL]), a.addr, 4);
	assert_memory_equal(mnl_attr_get_payload(at.tb[IFA_ADDRESS]), a.addr, 4);

	assert_int_equal(mseg_nlmsg_addr_del(buf, sizeof(buf), 3, &a), 0);
	check_header(RTM_DELADDR, 0, sizeof(*ifa));

	v6.family = MSEG_AF_INET6;
	assert_int_equal(mseg_nlmsg_addr_add(buf, sizeof(buf), 3, &v6), -EINVAL);
	assert_int_equal(mseg_nlmsg_addr_add(buf, sizeof(buf), 0, &a), -EINVAL);
	assert_int_equal(mseg_nlmsg_addr_add(buf, sizeof(buf), 3, NULL), -EINVAL);
	assert_int_equal(mseg_nlmsg_addr_add(buf, MNL_NLMSG_HDRLEN + 8 + 4, 3, &a), -EMSGSIZE);
}

static void test_route_connected_gateway_default(void **state)
{
	struct mseg_cidr gw = cidr("169.254.1.1");
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(msg());
	struct mseg_nlmsg_route rt = {.dst = gw, .oif = 4};
	struct attrs a;

	/* The on-link route to the gateway. */
	assert_int_equal(mseg_nlmsg_route_add(buf, sizeof(buf), &rt), 0);
	check_header(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, sizeof(*rtm));
	assert_int_equal(rtm->rtm_family, AF_INET);
	assert_int_equal(rtm->rtm_dst_len, 32);
	assert_int_equal(rtm->rtm_table, RT_TABLE_MAIN);
	assert_int_equal(rtm->rtm_scope, RT_SCOPE_LINK);
	assert_int_equal(rtm->rtm_type, RTN_UNICAST);
	assert_int_equal(rtm->rtm_protocol, RTPROT_STATIC);
	a = parse(msg(), sizeof(*rtm));
	assert_memory_equal(mnl_attr_get_payload(a.tb[RTA_DST]), gw.addr, 4);
	assert_int_equal(mnl_attr_get_u32(a.tb[RTA_OIF]), 4);
	assert_null(a.tb[RTA_GATEWAY]);
	assert_null(a.tb[RTA_TABLE]);

	/* The default route via it: no RTA_DST at all, universe scope. */
	rt.dst = (struct mseg_cidr){.family = MSEG_AF_INET};
	rt.gateway = &gw;
	assert_int_equal(mseg_nlmsg_route_add(buf, sizeof(buf), &rt), 0);
	assert_int_equal(rtm->rtm_dst_len, 0);
	assert_int_equal(rtm->rtm_scope, RT_SCOPE_UNIVERSE);
	a = parse(msg(), sizeof(*rtm));
	assert_null(a.tb[RTA_DST]);
	assert_memory_equal(mnl_attr_get_payload(a.tb[RTA_GATEWAY]), gw.addr, 4);
	assert_int_equal(mnl_attr_get_u32(a.tb[RTA_OIF]), 4);

	/* A table beyond 255 only fits RTA_TABLE. */
	rt.table = 1000;
	assert_int_equal(mseg_nlmsg_route_add(buf, sizeof(buf), &rt), 0);
	assert_int_equal(rtm->rtm_table, RT_TABLE_UNSPEC);
	a = parse(msg(), sizeof(*rtm));
	assert_int_equal(mnl_attr_get_u32(a.tb[RTA_TABLE]), 1000);

	/* Adding needs a device. */
	rt.oif = 0;
	assert_int_equal(mseg_nlmsg_route_add(buf, sizeof(buf), &rt), -EINVAL);
}

static void test_route_del(void **state)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(msg());
	struct mseg_nlmsg_route rt = {.dst = cidr("10.200.0.9"), .oif = 0};
	struct attrs a;

	assert_int_equal(mseg_nlmsg_route_del(buf, sizeof(buf), &rt), 0);
	check_header(RTM_DELROUTE, 0, sizeof(*rtm));
	assert_int_equal(rtm->rtm_scope, RT_SCOPE_NOWHERE);
	assert_int_equal(rtm->rtm_dst_len, 32);
	a = parse(msg(), sizeof(*rtm));
	assert_memory_equal(mnl_attr_get_payload(a.tb[RTA_DST]), rt.dst.addr, 4);
	assert_null(a.tb[RTA_OIF]);
	rt.oif = 9;
	assert_int_equal(mseg_nlmsg_route_del(buf, sizeof(buf), &rt), 0);
	a = parse(msg(), sizeof(*rtm));
	assert_int_equal(mnl_attr_get_u32(a.tb[RTA_OIF]), 9);
}

static void test_neigh(void **state)
{
	static const uint8_t mac[6] = {0xee, 1, 2, 3, 4, 5};
	struct mseg_cidr ip = cidr("169.254.1.1"), net = cidr("10.0.0.0/24");
	const struct ndmsg *ndm = mnl_nlmsg_get_payload(msg());
	struct attrs a;

	assert_int_equal(mseg_nlmsg_neigh_add(buf, sizeof(buf), 6, &ip, mac, NUD_PERMANENT), 0);
	check_header(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, sizeof(*ndm));
	assert_int_equal(ndm->ndm_family, AF_INET);
	assert_int_equal(ndm->ndm_ifindex, 6);
	assert_int_equal(ndm->ndm_state, NUD_PERMANENT);
	a = parse(msg(), sizeof(*ndm));
	assert_memory_equal(mnl_attr_get_payload(a.tb[NDA_DST]), ip.addr, 4);
	assert_int_equal(mnl_attr_get_payload_len(a.tb[NDA_LLADDR]), 6);
	assert_memory_equal(mnl_attr_get_payload(a.tb[NDA_LLADDR]), mac, 6);

	assert_int_equal(mseg_nlmsg_neigh_del(buf, sizeof(buf), 6, &ip), 0);
	check_header(RTM_DELNEIGH, 0, sizeof(*ndm));
	a = parse(msg(), sizeof(*ndm));
	assert_null(a.tb[NDA_LLADDR]);

	assert_int_equal(mseg_nlmsg_neigh_add(buf, sizeof(buf), 6, &net, mac, NUD_PERMANENT),
			 -EINVAL);
	assert_int_equal(mseg_nlmsg_neigh_add(buf, sizeof(buf), 6, &ip, NULL, NUD_PERMANENT),
			 -EINVAL);
	assert_int_equal(mseg_nlmsg_neigh_add(buf, sizeof(buf), 0, &ip, mac, NUD_PERMANENT),
			 -EINVAL);
	assert_int_equal(mseg_nlmsg_neigh_add(buf, 40, 6, &ip, mac, NUD_PERMANENT), -EMSGSIZE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_veth_peer_born_in_container),
	    cmocka_unit_test(test_veth_same_namespace_and_defaults),
	    cmocka_unit_test(test_veth_bad_names_and_small_buffers),
	    cmocka_unit_test(test_link_get_set_del),
	    cmocka_unit_test(test_addr),
	    cmocka_unit_test(test_route_connected_gateway_default),
	    cmocka_unit_test(test_route_del),
	    cmocka_unit_test(test_neigh),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
