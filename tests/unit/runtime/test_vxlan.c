// SPDX-License-Identifier: Apache-2.0
/* runtime/vxlan.h without a kernel: the builders' bytes and the overlay addressing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include "policy/cidr.h"
#include "runtime/vxlan.h"

#include "nlattr_helpers.h"

static uint8_t buf[1024] __attribute__((aligned(8)));
#define NLH ((struct nlmsghdr *)buf)

static const uint8_t mac1[6] = {0x02, 0x00, 0x0a, 0xc8, 0x02, 0x00};

static void test_vxlan_add_bytes(void **state)
{
	struct mseg_vxlan_config cfg = {.ifname = "mseg_vxlan",
					.vni = 0x123456,
					.local = cidr("10.250.0.1"),
					.mtu = 1450,
					.mac = mac1,
					.underlay_ifindex = 7};
	struct attrs a, li, d;
	const struct ifinfomsg *ifm;

	assert_int_equal(mseg_nlmsg_vxlan_add(buf, sizeof(buf), &cfg), 0);
	assert_int_equal(NLH->nlmsg_type, RTM_NEWLINK);
	assert_int_equal(NLH->nlmsg_flags, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL);
	ifm = mnl_nlmsg_get_payload(NLH);
	assert_int_equal(ifm->ifi_family, AF_UNSPEC);
	assert_int_equal(ifm->ifi_index, 0);
	a = parse(NLH, sizeof(*ifm));
	assert_string_equal(mnl_attr_get_str(a.tb[IFLA_IFNAME]), "mseg_vxlan");
	assert_int_equal(mnl_attr_get_u32(a.tb[IFLA_MTU]), 1450);
	assert_memory_equal(mnl_attr_get_payload(a.tb[IFLA_ADDRESS]), mac1, 6);
	li = parse_nested(a.tb[IFLA_LINKINFO]);
	assert_string_equal(mnl_attr_get_str(li.tb[IFLA_INFO_KIND]), "vxlan");
	d = parse_nested(li.tb[IFLA_INFO_DATA]);
	assert_int_equal(mnl_attr_get_u32(d.tb[IFLA_VXLAN_ID]), 0x123456);
	assert_memory_equal(mnl_attr_get_payload(d.tb[IFLA_VXLAN_LOCAL]),
			    ((uint8_t[]){10, 250, 0, 1}), 4);
	/* Default port, in network byte order. */
	assert_int_equal(mnl_attr_get_u16(d.tb[IFLA_VXLAN_PORT]), htons(4789));
	assert_int_equal(mnl_attr_get_u8(d.tb[IFLA_VXLAN_LEARNING]), 0);
	assert_int_equal(mnl_attr_get_u32(d.tb[IFLA_VXLAN_LINK]), 7);
	/* Static FDB only: no remote, no group. */
	assert_null(d.tb[IFLA_VXLAN_GROUP]);

	cfg.port = 8472;
	cfg.mac = NULL;
	cfg.mtu = 0;
	cfg.underlay_ifindex = 0;
	assert_int_equal(mseg_nlmsg_vxlan_add(buf, sizeof(buf), &cfg), 0);
	a = parse(NLH, sizeof(*ifm));
	assert_null(a.tb[IFLA_ADDRESS]);
	assert_null(a.tb[IFLA_MTU]);
	d = parse_nested(parse_nested(a.tb[IFLA_LINKINFO]).tb[IFLA_INFO_DATA]);
	assert_int_equal(mnl_attr_get_u16(d.tb[IFLA_VXLAN_PORT]), htons(8472));
	assert_null(d.tb[IFLA_VXLAN_LINK]);
}

static void test_vxlan_add_rejects(void **state)
{
	struct mseg_vxlan_config ok = {.ifname = "vx", .vni = 1, .local = cidr("10.0.0.1")};
	struct mseg_vxlan_config c;

	c = ok;
	c.vni = 0;
	assert_int_equal(mseg_nlmsg_vxlan_add(buf, sizeof(buf), &c), -EINVAL);
	c.vni = 0x1000000;
	assert_int_equal(mseg_nlmsg_vxlan_add(buf, sizeof(buf), &c), -EINVAL);
	c = ok;
	c.ifname = "a-name-too-long-for-linux";
	assert_int_equal(mseg_nlmsg_vxlan_add(buf, sizeof(buf), &c), -EINVAL);
	c = ok;
	c.local = cidr("10.0.0.0/24");
	assert_int_equal(mseg_nlmsg_vxlan_add(buf, sizeof(buf), &c), -EINVAL);
	assert_int_equal(mseg_nlmsg_vxlan_add(buf, sizeof(buf), NULL), -EINVAL);
	/* Too small a buffer is reported, never overrun. */
	assert_int_equal(mseg_nlmsg_vxlan_add(buf, 40, &ok), -EMSGSIZE);
	assert_int_equal(mseg_nlmsg_vxlan_add(buf, 8, &ok), -EMSGSIZE);
}

static void test_fdb_bytes(void **state)
{
	struct mseg_cidr dst = cidr("10.250.0.3");
	static const uint8_t zero[6];
	const struct ndmsg *ndm;
	struct attrs a;

	assert_int_equal(mseg_nlmsg_fdb_add(buf, sizeof(buf), 9, zero, &dst, true), 0);
	assert_int_equal(NLH->nlmsg_type, RTM_NEWNEIGH);
	/* The BUM entry gets one more destination per peer: append, never replace. */
	assert_int_equal(NLH->nlmsg_flags, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_APPEND);
	ndm = mnl_nlmsg_get_payload(NLH);
	assert_int_equal(ndm->ndm_family, AF_BRIDGE);
	assert_int_equal(ndm->ndm_ifindex, 9);
	assert_int_equal(ndm->ndm_flags, NTF_SELF);
	assert_int_equal(ndm->ndm_state, NUD_PERMANENT);
	a = parse(NLH, sizeof(*ndm));
	assert_memory_equal(mnl_attr_get_payload(a.tb[NDA_LLADDR]), zero, 6);
	assert_memory_equal(mnl_attr_get_payload(a.tb[NDA_DST]), ((uint8_t[]){10, 250, 0, 3}), 4);
	assert_int_equal(mnl_attr_get_payload_len(a.tb[NDA_DST]), 4);

	assert_int_equal(mseg_nlmsg_fdb_add(buf, sizeof(buf), 9, mac1, &dst, false), 0);
	assert_int_equal(NLH->nlmsg_flags, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE);

	assert_int_equal(mseg_nlmsg_fdb_del(buf, sizeof(buf), 9, zero, &dst), 0);
	assert_int_equal(NLH->nlmsg_type, RTM_DELNEIGH);
	assert_int_equal(NLH->nlmsg_flags, NLM_F_REQUEST);
	a = parse(NLH, sizeof(*ndm));
	/* The destination names which of the BUM entry's remotes goes. */
	assert_non_null(a.tb[NDA_DST]);
	assert_non_null(a.tb[NDA_LLADDR]);

	assert_int_equal(mseg_nlmsg_fdb_add(buf, sizeof(buf), 0, zero, &dst, true), -EINVAL);
	assert_int_equal(mseg_nlmsg_fdb_add(buf, sizeof(buf), 9, NULL, &dst, true), -EINVAL);
	dst = cidr("10.250.0.0/24");
	assert_int_equal(mseg_nlmsg_fdb_add(buf, sizeof(buf), 9, zero, &dst, true), -EINVAL);
}

static void test_route_onlink_bytes(void **state)
{
	struct mseg_cidr dst = cidr("10.200.2.0/24"), gw = cidr("10.200.2.0");
	const struct rtmsg *rtm;
	struct attrs a;

	assert_int_equal(mseg_nlmsg_route_onlink_add(buf, sizeof(buf), &dst, &gw, 5), 0);
	assert_int_equal(NLH->nlmsg_type, RTM_NEWROUTE);
	assert_int_equal(NLH->nlmsg_flags, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE);
	rtm = mnl_nlmsg_get_payload(NLH);
	assert_int_equal(rtm->rtm_family, AF_INET);
	assert_int_equal(rtm->rtm_dst_len, 24);
	assert_true(rtm->rtm_flags & RTNH_F_ONLINK);
	assert_int_equal(rtm->rtm_scope, RT_SCOPE_UNIVERSE);
	assert_int_equal(rtm->rtm_table, RT_TABLE_MAIN);
	a = parse(NLH, sizeof(*rtm));
	assert_memory_equal(mnl_attr_get_payload(a.tb[RTA_DST]), ((uint8_t[]){10, 200, 2, 0}), 4);
	assert_memory_equal(mnl_attr_get_payload(a.tb[RTA_GATEWAY]), ((uint8_t[]){10, 200, 2, 0}),
			    4);
	assert_int_equal(mnl_attr_get_u32(a.tb[RTA_OIF]), 5);

	assert_int_equal(mseg_nlmsg_route_onlink_add(buf, sizeof(buf), &dst, &gw, 0), -EINVAL);
	assert_int_equal(mseg_nlmsg_route_onlink_add(buf, sizeof(buf), &dst, NULL, 5), -EINVAL);
	assert_int_equal(mseg_nlmsg_route_onlink_add(buf, sizeof(buf), &dst, &dst, 5), -EINVAL);
}

static void test_pod_cidr(void **state)
{
	struct mseg_cidr cluster = cidr("10.200.0.0/16"), pod, gw;
	char a[MSEG_CIDR_STRLEN], b[MSEG_CIDR_STRLEN];

	assert_int_equal(mseg_vxlan_pod_cidr(&cluster, 24, 3, &pod, &gw), 0);
	assert_string_equal(mseg_cidr_format(&pod, false, a), "10.200.3.0/24");
	assert_string_equal(mseg_cidr_format(&gw, false, b), "10.200.3.0/32");
	assert_int_equal(mseg_vxlan_pod_cidr(&cluster, 24, 255, &pod, NULL), 0);
	assert_string_equal(mseg_cidr_format(&pod, false, a), "10.200.255.0/24");
	assert_int_equal(mseg_vxlan_pod_cidr(&cluster, 24, 256, &pod, NULL), -ERANGE);
	/* Smaller pod CIDRs: /26 number 5 of 10.200.0.0/16 is 10.200.1.64/26. */
	assert_int_equal(mseg_vxlan_pod_cidr(&cluster, 26, 5, &pod, &gw), 0);
	assert_string_equal(mseg_cidr_format(&pod, false, a), "10.200.1.64/26");
	assert_string_equal(mseg_cidr_format(&gw, true, b), "10.200.1.64");
	/* A /8 cluster of /24s: index 65536 is the first out of range. */
	cluster = cidr("10.0.0.0/8");
	assert_int_equal(mseg_vxlan_pod_cidr(&cluster, 24, 65535, &pod, NULL), 0);
	assert_string_equal(mseg_cidr_format(&pod, false, a), "10.255.255.0/24");
	assert_int_equal(mseg_vxlan_pod_cidr(&cluster, 24, 65536, &pod, NULL), -ERANGE);
	assert_int_equal(mseg_vxlan_pod_cidr(&cluster, 8, 0, &pod, NULL), -EINVAL);
	assert_int_equal(mseg_vxlan_pod_cidr(&cluster, 31, 0, &pod, NULL), -EINVAL);
}

static void test_peer_init_and_mac(void **state)
{
	struct mseg_cidr ul = cidr("10.250.0.2"), pod = cidr("10.200.2.0/24");
	struct mseg_vxlan_peer p;
	char a[MSEG_CIDR_STRLEN];
	uint8_t m[6];

	assert_int_equal(mseg_vxlan_peer_init(&p, &ul, &pod), 0);
	assert_string_equal(mseg_cidr_format(&p.gateway, false, a), "10.200.2.0/32");
	assert_string_equal(mseg_cidr_format(&p.pod_cidr, false, a), "10.200.2.0/24");
	assert_memory_equal(p.mac, mac1, 6);
	mseg_vxlan_mac(&p.gateway, m);
	assert_memory_equal(m, mac1, 6);
	/* Host bits in the pod CIDR are cleared (a caller passing "10.200.2.7/24"). */
	pod.addr[3] = 7;
	assert_int_equal(mseg_vxlan_peer_init(&p, &ul, &pod), 0);
	assert_string_equal(mseg_cidr_format(&p.pod_cidr, false, a), "10.200.2.0/24");
	pod = cidr("10.200.4.128/25");
	assert_int_equal(mseg_vxlan_peer_init(&p, &ul, &pod), 0);
	assert_string_equal(mseg_cidr_format(&p.gateway, true, a), "10.200.4.128");

	ul = cidr("10.250.0.0/24");
	assert_int_equal(mseg_vxlan_peer_init(&p, &ul, &pod), -EINVAL);
	ul = cidr("10.250.0.2");
	pod = cidr("10.200.4.0/31");
	assert_int_equal(mseg_vxlan_peer_init(&p, &ul, &pod), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vxlan_add_bytes), cmocka_unit_test(test_vxlan_add_rejects),
	    cmocka_unit_test(test_fdb_bytes),	    cmocka_unit_test(test_route_onlink_bytes),
	    cmocka_unit_test(test_pod_cidr),	    cmocka_unit_test(test_peer_init_and_mac),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
