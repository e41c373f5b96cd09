// SPDX-License-Identifier: Apache-2.0
/*
 * The tc programs' verdicts on crafted packets (BPF_PROG_TEST_RUN), with maps filled through
 * the backend's own apply(): allowed, denied by rule, isolated, default deny, port range
 * edges, protocol-specific before any-protocol, class before MSEG_ID_ANY, conntrack replies
 * (and forged ones), anti-spoofing, unknown endpoints, audit, events and counters, restart
 * adoption and purge. Runs in its own network and mount namespace; needs root and BPF.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "tests/unit/bpf/bpf_fixture.h"

#define OK 0   /* TC_ACT_OK */
#define SHOT 2 /* TC_ACT_SHOT */

#define IP_A 0x0a000001u /* 10.0.0.1, endpoint 1, identity 256 */
#define IP_B 0x0a000002u /* 10.0.0.2, endpoint 2, identity 257 */
#define IP_C 0x0a000003u /* 10.0.0.3, endpoint 3, identity 258 */
#define IP_WORLD 0x08080808u
#define ID_A 256
#define ID_B 257
#define ID_C 258
#define CLASS_NET (1u << 24) /* MSEG_CLASS_CIDR_BASE: 192.168.0.0/16 */

static const uint8_t mac_a[6] = {2, 0, 0, 0, 0, 0xa};
static const uint8_t mac_b[6] = {2, 0, 0, 0, 0, 0xb};
static const uint8_t mac_c[6] = {2, 0, 0, 0, 0, 0xc};
static const uint8_t mac_gw[6] = {2, 0, 0, 0, 0, 0xee};

static int if_a, if_b, if_c, if_unknown;

#define IN MSEG_DIR_INGRESS
#define EG MSEG_DIR_EGRESS
#define ALLOW MSEG_VERDICT_ALLOW
#define DENY MSEG_VERDICT_DENY

/* The hand-built table every test starts from (see each test for what it relies on). */
static struct mseg_table_entry table[] = {
    /* B ingress from A: TCP 8000-8080 allowed (policy 10 rule 0) ... */
    {2, IN, 6, 8000, 8080, ID_A, ALLOW, 0, {MSEG_DECIDED_RULE, 10, 0, IN}, {0}},
    /* ... every other protocol/port from A denied by a deny rule (policy 11 rule 0) */
    {2, IN, 0, 0, 65535, ID_A, DENY, 0, {MSEG_DECIDED_RULE, 11, 0, IN}, {0}},
    /* B ingress from anyone: UDP 53 (policy 10 rule 1) */
    {2, IN, 17, 53, 53, 0, ALLOW, 0, {MSEG_DECIDED_RULE, 10, 1, IN}, {0}},
    /* B ingress from C: ICMP echo request, any code (type 8 << 8 | 0..255) */
    {2, IN, 1, 0x0800, 0x08ff, ID_C, ALLOW, 0, {MSEG_DECIDED_RULE, 10, 2, IN}, {0}},
    /* A egress to C: TCP 25 denied (policy 12 rule 0) */
    {1, EG, 6, 25, 25, ID_C, DENY, 0, {MSEG_DECIDED_RULE, 12, 0, EG}, {0}},
    /* B ingress from the CIDR class of 192.168.0.0/16 (an ipBlock): TCP 8443 */
    {2, IN, 6, 8443, 8443, CLASS_NET, ALLOW, 0, {MSEG_DECIDED_RULE, 14, 0, IN}, {0}},
    /* A ingress from anyone: TCP 9000 allowed, but an audit-mode policy would deny */
    {1,
     IN,
     6,
     9000,
     9000,
     0,
     ALLOW,
     1,
     {MSEG_DECIDED_RULE, 13, 0, IN},
     {MSEG_DECIDED_RULE, 20, 3, IN}},
};

static struct mseg_endpoint_default defaults_in[] = {
    {1, DENY, 0, {MSEG_DECIDED_ISOLATION, 13, 0, IN}, {0}},
    {2, DENY, 0, {MSEG_DECIDED_ISOLATION, 10, 0, IN}, {0}},
    {3, DENY, 0, {MSEG_DECIDED_DEFAULT, 0, 0, IN}, {0}},
};

static struct mseg_endpoint_default defaults_eg[] = {
    {1, ALLOW, 0, {MSEG_DECIDED_DEFAULT, 0, 0, EG}, {0}},
    {2, DENY, 0, {MSEG_DECIDED_ISOLATION, 10, 0, EG}, {0}},
    {3, ALLOW, 0, {MSEG_DECIDED_DEFAULT, 0, 0, EG}, {0}},
};

static struct mseg_ipcache_entry ipcache[4];

static int endpoint_del(int ifindex)
{
	uint32_t key = (uint32_t)ifindex;

	return bpf_map_delete_elem(mseg_datapath_bpf_map_fd(dp, "mseg_endpoints"), &key);
}

static int setup(void **state)
{
	struct mseg_table_diff d = {
	    .added = table,
	    .n_added = sizeof(table) / sizeof(table[0]),
	    .ipcache_added = ipcache,
	    .n_ipcache_added = 4,
	    .defaults_changed = {defaults_in, defaults_eg},
	    .n_defaults_changed = {3, 3},
	};
	static const char *const names[] = {"mta", "mtb", "mtc", "mtx"};
	int ifs[4];

	(void)state;
	if (fixture_enter(names, ifs, 4) < 0)
		return 0;
	if_a = ifs[0];
	if_b = ifs[1];
	if_c = ifs[2];
	if_unknown = ifs[3];
	if (fixture_open() < 0)
		return 0;
	ipcache[0] = (struct mseg_ipcache_entry){mseg_cidr_from_v4(IP_A, 32), ID_A, ID_A};
	ipcache[1] = (struct mseg_ipcache_entry){mseg_cidr_from_v4(IP_B, 32), ID_B, ID_B};
	ipcache[2] = (struct mseg_ipcache_entry){mseg_cidr_from_v4(IP_C, 32), ID_C, ID_C};
	ipcache[3] = (struct mseg_ipcache_entry){mseg_cidr_from_v4(0xc0a80000, 16), MSEG_ID_WORLD,
						 CLASS_NET};
	assert_int_equal(mseg_datapath_bpf.apply(dp, &d), 0);
	assert_int_equal(endpoint_add(1, if_a, IP_A, mac_a, ID_A), 0);
	assert_int_equal(endpoint_add(2, if_b, IP_B, mac_b, ID_B), 0);
	assert_int_equal(endpoint_add(3, if_c, IP_C, mac_c, ID_C), 0);
	return 0;
}

/* Sends a packet from the endpoint on ifindex (its tc ingress: its egress policy). */
static uint32_t from_ep(int ifindex, const struct mseg_bpf_pkt *p)
{
	uint8_t buf[MSEG_BPF_PKT_MAX];
	size_t len = mseg_bpf_pkt_build(p, buf);
	uint32_t ret = 99;

	assert_int_equal(
	    mseg_bpf_test_run(mseg_datapath_bpf_prog_fd(dp, EG), ifindex, buf, len, 1, &ret, NULL),
	    0);
	return ret;
}

/* Delivers a packet to the endpoint on ifindex (its tc egress: its ingress policy). */
static uint32_t to_ep(int ifindex, const struct mseg_bpf_pkt *p)
{
	uint8_t buf[MSEG_BPF_PKT_MAX];
	size_t len = mseg_bpf_pkt_build(p, buf);
	uint32_t ret = 99;

	assert_int_equal(
	    mseg_bpf_test_run(mseg_datapath_bpf_prog_fd(dp, IN), ifindex, buf, len, 1, &ret, NULL),
	    0);
	return ret;
}

static struct mseg_bpf_pkt tcp(const uint8_t *smac, uint32_t s, uint16_t sport, uint32_t d,
			       uint16_t dport, uint8_t flags)
{
	struct mseg_bpf_pkt p = {
	    .saddr = s, .daddr = d, .proto = 6, .sport = sport, .dport = dport, .tcp_flags = flags};

	memcpy(p.smac, smac, 6);
	memcpy(p.dmac, mac_gw, 6);
	return p;
}

static struct mseg_bpf_pkt udp(const uint8_t *smac, uint32_t s, uint16_t sport, uint32_t d,
			       uint16_t dport)
{
	struct mseg_bpf_pkt p = tcp(smac, s, sport, d, dport, 0);

	p.proto = 17;
	return p;
}

#define SYN 0x02
#define ACK 0x10
#define SYNACK 0x12

/* The one event of the last run: checks verdict, reason and deciding rule. */
static const struct mseg_dp_event *one_event(uint8_t verdict, uint16_t reason)
{
	drain_events();
	assert_int_equal(n_events, 1);
	assert_int_equal(events[0].verdict, verdict);
	if (events[0].reason != reason)
		fail_msg("reason %s, expected %s", mseg_drop_reason_name(events[0].reason),
			 mseg_drop_reason_name(reason));
	return &events[0];
}

static void test_allowed_both_sides(void **state)
{
	NEED_BPF();
	struct mseg_bpf_pkt p = tcp(mac_a, IP_A, 40000, IP_B, 8000, SYN);

	drain_events();
	assert_int_equal(from_ep(if_a, &p), OK); /* A's egress: default allow */
	assert_int_equal(to_ep(if_b, &p), OK);	 /* B's ingress: policy 10 rule 0 */
	drain_events();
	assert_int_equal(n_events, 0); /* allowed flows are not reported unless asked */
}

static void test_port_range_edges(void **state)
{
	NEED_BPF();
	static const struct {
		uint16_t port;
		uint32_t ret;
	} cases[] = {{7999, SHOT}, {8000, OK}, {8001, OK},   {8063, OK}, {8064, OK},
		     {8079, OK},   {8080, OK}, {8081, SHOT}, {0, SHOT},	 {65535, SHOT}};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mseg_bpf_pkt p = tcp(mac_a, IP_A, 41000, IP_B, cases[i].port, SYN);

		drain_events();
		if (to_ep(if_b, &p) != cases[i].ret)
			fail_msg("TCP port %u: expected %u", cases[i].port, cases[i].ret);
		if (cases[i].ret == SHOT) {
			/* outside the range: the any-protocol deny rule decides */
			const struct mseg_dp_event *ev =
			    one_event(MSEG_EVENT_DROPPED, MSEG_DROP_POLICY_DENY);

			assert_int_equal(ev->decided_by.policy, 11);
			assert_int_equal(ev->decided_by.rule, 0);
		}
	}
}

static void test_proto_specific_before_any(void **state)
{
	NEED_BPF();
	/* From A, UDP 53: the class's any-protocol deny wins over MSEG_ID_ANY's UDP 53 allow
	 * (the contract: the class's entries first; the compiler folds ANY rules into them). */
	struct mseg_bpf_pkt p = udp(mac_a, IP_A, 5353, IP_B, 53);

	drain_events();
	assert_int_equal(to_ep(if_b, &p), SHOT);
	assert_int_equal(one_event(MSEG_EVENT_DROPPED, MSEG_DROP_POLICY_DENY)->decided_by.policy,
			 11);
	/* From C (no entries for its class except ICMP): falls back to MSEG_ID_ANY's UDP 53. */
	p = udp(mac_c, IP_C, 5353, IP_B, 53);
	assert_int_equal(to_ep(if_b, &p), OK);
	p.dport = 54;
	drain_events();
	assert_int_equal(to_ep(if_b, &p), SHOT);
	/* C's class has an ICMP group, UDP has none: nothing matches, B is isolated */
	assert_int_equal(one_event(MSEG_EVENT_DROPPED, MSEG_DROP_ISOLATED)->decided_by.policy, 10);
}

static void test_isolated_and_default_deny(void **state)
{
	NEED_BPF();
	struct mseg_bpf_pkt p = tcp(mac_gw, IP_WORLD, 1234, IP_B, 8000, SYN);
	const struct mseg_dp_event *ev;

	drain_events();
	assert_int_equal(to_ep(if_b, &p), SHOT); /* world: no entries, B isolated */
	ev = one_event(MSEG_EVENT_DROPPED, MSEG_DROP_ISOLATED);
	assert_int_equal(ev->decided_by.kind, MSEG_DECIDED_ISOLATION);
	assert_int_equal(ev->src_identity, MSEG_ID_WORLD);
	assert_int_equal(ev->dst_identity, ID_B);

	p = tcp(mac_a, IP_A, 1234, IP_C, 80, SYN);
	assert_int_equal(from_ep(if_a, &p), OK);
	drain_events();
	assert_int_equal(to_ep(if_c, &p), SHOT); /* C: --default-deny */
	ev = one_event(MSEG_EVENT_DROPPED, MSEG_DROP_DEFAULT_DENY);
	assert_int_equal(ev->decided_by.kind, MSEG_DECIDED_DEFAULT);
}

static void test_ipcache_prefix_class(void **state)
{
	NEED_BPF();
	/* 192.168.5.5 is no endpoint: the LPM part of the ipcache gives its CIDR class. */
	struct mseg_bpf_pkt p = tcp(mac_gw, 0xc0a80505, 1234, IP_B, 8443, SYN);
	const struct mseg_dp_event *ev;

	assert_int_equal(to_ep(if_b, &p), OK);
	p.saddr = 0xc0a90505; /* 192.169.5.5: outside, world */
	drain_events();
	assert_int_equal(to_ep(if_b, &p), SHOT);
	ev = one_event(MSEG_EVENT_DROPPED, MSEG_DROP_ISOLATED);
	assert_int_equal(ev->src_identity, MSEG_ID_WORLD);
}

static void test_egress_deny_rule(void **state)
{
	NEED_BPF();
	struct mseg_bpf_pkt p = tcp(mac_a, IP_A, 1234, IP_C, 25, SYN);
	const struct mseg_dp_event *ev;

	drain_events();
	assert_int_equal(from_ep(if_a, &p), SHOT);
	ev = one_event(MSEG_EVENT_DROPPED, MSEG_DROP_POLICY_DENY);
	assert_int_equal(ev->dir, MSEG_DIR_EGRESS);
	assert_int_equal(ev->endpoint, 1);
	assert_int_equal(ev->decided_by.policy, 12);
	assert_int_equal(ev->decided_by.dir, MSEG_DIR_EGRESS);
	p.dport = 26;
	assert_int_equal(from_ep(if_a, &p), OK);
}

static void test_reply_via_conntrack(void **state)
{
	NEED_BPF();
	struct mseg_bpf_pkt syn = tcp(mac_a, IP_A, 42000, IP_B, 8000, SYN);
	struct mseg_bpf_pkt synack = tcp(mac_b, IP_B, 8000, IP_A, 42000, SYNACK);

	/* Before the flow exists, B's answer is just a packet B's isolated egress denies. */
	drain_events();
	assert_int_equal(from_ep(if_b, &synack), SHOT);
	one_event(MSEG_EVENT_DROPPED, MSEG_DROP_ISOLATED);

	assert_int_equal(from_ep(if_a, &syn), OK);
	assert_int_equal(to_ep(if_b, &syn), OK);
	/* Both sides approved: the reply leaves B and enters A (whose ingress is isolated). */
	assert_int_equal(from_ep(if_b, &synack), OK);
	assert_int_equal(to_ep(if_a, &synack), OK);
	/* A reply to a port the flow does not use is not a reply. */
	synack.dport = 42001;
	assert_int_equal(to_ep(if_a, &synack), SHOT);
}

static void test_forged_reply_of_denied_side(void **state)
{
	NEED_BPF();
	/* A may send to B:22 (A's egress allows) but B's ingress denies it (deny rule). */
	struct mseg_bpf_pkt syn = tcp(mac_a, IP_A, 43000, IP_B, 22, SYN);
	struct mseg_bpf_pkt forged = tcp(mac_b, IP_B, 22, IP_A, 43000, SYNACK);

	assert_int_equal(from_ep(if_a, &syn), OK);
	assert_int_equal(to_ep(if_b, &syn), SHOT);
	/* B never approved the flow: its "reply" is a new packet, and B's egress is isolated. */
	drain_events();
	assert_int_equal(from_ep(if_b, &forged), SHOT);
	one_event(MSEG_EVENT_DROPPED, MSEG_DROP_ISOLATED);
}

static void test_policy_change_cuts_flow(void **state)
{
	NEED_BPF();
	struct mseg_bpf_pkt syn = tcp(mac_a, IP_A, 44000, IP_B, 8001, SYN);
	struct mseg_bpf_pkt data = tcp(mac_a, IP_A, 44000, IP_B, 8001, ACK);
	struct mseg_bpf_pkt reply = tcp(mac_b, IP_B, 8001, IP_A, 44000, ACK);
	struct mseg_table_diff d = {.removed = &table[0], .n_removed = 1};
	struct mseg_table_diff back = {.added = &table[0], .n_added = 1};

	assert_int_equal(from_ep(if_a, &syn), OK);
	assert_int_equal(to_ep(if_b, &syn), OK);
	assert_int_equal(from_ep(if_b, &reply), OK);

	/* The allow entry goes: the next packet of the established flow is denied by what is
	 * left (the any-protocol deny), and B's replies stop with it. */
	assert_int_equal(mseg_datapath_bpf.apply(dp, &d), 0);
	assert_int_equal(to_ep(if_b, &data), SHOT);
	assert_int_equal(from_ep(if_b, &reply), SHOT);

	assert_int_equal(mseg_datapath_bpf.apply(dp, &back), 0);
	assert_int_equal(to_ep(if_b, &data), OK);
	assert_int_equal(from_ep(if_b, &reply), OK);
}

/* The plen_mask of the group header for (endpoint, remote, dir, proto), read from the map; -1 if
 * none. */
static int group_plen_mask(uint32_t ep, uint32_t remote, uint8_t dir, uint8_t proto)
{
	struct mseg_policy_key k = {.endpoint = ep,
				    .remote = remote,
				    .dir = dir,
				    .proto = proto,
				    .plen = MSEG_POLICY_GROUP};
	struct mseg_policy_group g;
	int fd = mseg_datapath_bpf_map_fd(dp, "mseg_policy_groups");

	assert_true(fd >= 0);
	if (bpf_map_lookup_elem(fd, &k, &g) < 0)
		return -1;
	return (int)g.plen_mask;
}

static void test_incremental_range_change(void **state)
{
	NEED_BPF();
	struct mseg_table_entry narrower = table[0];
	struct mseg_table_diff shrink = {
	    .removed = &table[0], .n_removed = 1, .added = &narrower, .n_added = 1};
	struct mseg_table_diff grow = {
	    .removed = &narrower, .n_removed = 1, .added = &table[0], .n_added = 1};
	struct mseg_table_diff drop = {.removed = &table[0], .n_removed = 1};
	struct mseg_table_diff back = {.added = &table[0], .n_added = 1};
	static const uint16_t ports[] = {7999, 8000, 8040, 8041, 8063, 8064, 8080, 8081};
	int before = group_plen_mask(2, ID_A, IN, 6);

	/* 8000-8080 = 8000/10, 8064/12, 8080/16 */
	assert_int_equal(before, (1 << 10) | (1 << 12) | (1 << 16));
	narrower.port_hi = 8040; /* 8000/11 (8000-8031), 8032/13 (-8039), 8040/16 */
	assert_int_equal(mseg_datapath_bpf.apply(dp, &shrink), 0);
	assert_int_equal(group_plen_mask(2, ID_A, IN, 6), (1 << 11) | (1 << 13) | (1 << 16));
	for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
		struct mseg_bpf_pkt p = tcp(mac_a, IP_A, 48000, IP_B, ports[i], SYN);
		uint32_t want = ports[i] >= 8000 && ports[i] <= 8040 ? OK : SHOT;

		if (to_ep(if_b, &p) != want)
			fail_msg("after shrinking to 8000-8040: port %u", ports[i]);
	}
	assert_int_equal(mseg_datapath_bpf.apply(dp, &grow), 0);
	assert_int_equal(group_plen_mask(2, ID_A, IN, 6), before);
	/* The group's last entry goes: so does its header. */
	assert_int_equal(mseg_datapath_bpf.apply(dp, &drop), 0);
	assert_int_equal(group_plen_mask(2, ID_A, IN, 6), -1);
	assert_int_equal(mseg_datapath_bpf.apply(dp, &back), 0);
	assert_int_equal(group_plen_mask(2, ID_A, IN, 6), before);
	drain_events();
}

static void test_icmp_echo(void **state)
{
	NEED_BPF();
	struct mseg_bpf_pkt req = {
	    .saddr = IP_C, .daddr = IP_B, .proto = 1, .sport = 8, .icmp_id = 0x1234};
	struct mseg_bpf_pkt rep = {
	    .saddr = IP_B, .daddr = IP_C, .proto = 1, .sport = 0, .icmp_id = 0x1234};

	memcpy(req.smac, mac_c, 6);
	memcpy(rep.smac, mac_b, 6);
	assert_int_equal(from_ep(if_c, &req), OK);
	assert_int_equal(to_ep(if_b, &req), OK);   /* ICMP type 8, any code, from C */
	assert_int_equal(from_ep(if_b, &rep), OK); /* the echo reply through conntrack */
	assert_int_equal(to_ep(if_c, &rep), OK);
	rep.icmp_id = 0x9999;
	assert_int_equal(from_ep(if_b, &rep), SHOT); /* no such echo: B's egress isolated */
	req.sport = 13;				     /* timestamp request: not in the ICMP entry */
	assert_int_equal(to_ep(if_b, &req), SHOT);
	req.sport = 8;
	req.dport = 1; /* type 8 code 1: still inside 0x0800-0x08ff */
	assert_int_equal(to_ep(if_b, &req), OK);
}

static void test_anti_spoofing(void **state)
{
	NEED_BPF();
	struct mseg_bpf_pkt p = tcp(mac_a, IP_A + 100, 1, IP_B, 8000, SYN);
	uint8_t buf[MSEG_BPF_PKT_MAX];
	uint8_t bad_mac[6] = {2, 0, 0, 0, 0, 0x66};
	uint32_t ret;
	size_t len;

	drain_events();
	assert_int_equal(from_ep(if_a, &p), SHOT);
	assert_int_equal(one_event(MSEG_EVENT_DROPPED, MSEG_DROP_SPOOFED_IP)->saddr.addr[3], 101);
	p = tcp(bad_mac, IP_A, 1, IP_B, 8000, SYN);
	assert_int_equal(from_ep(if_a, &p), SHOT);
	one_event(MSEG_EVENT_DROPPED, MSEG_DROP_SPOOFED_MAC);

	/* ARP: the container's own is fine, a claim on B's address is not. */
	len = mseg_bpf_arp_build(mac_a, 1, mac_a, IP_A, 0xa9fe0101, buf);
	assert_int_equal(
	    mseg_bpf_test_run(mseg_datapath_bpf_prog_fd(dp, EG), if_a, buf, len, 1, &ret, NULL), 0);
	assert_int_equal(ret, OK);
	len = mseg_bpf_arp_build(mac_a, 2, mac_a, IP_B, 0xa9fe0101, buf);
	assert_int_equal(
	    mseg_bpf_test_run(mseg_datapath_bpf_prog_fd(dp, EG), if_a, buf, len, 1, &ret, NULL), 0);
	assert_int_equal(ret, SHOT);
	one_event(MSEG_EVENT_DROPPED, MSEG_DROP_SPOOFED_ARP);
	len = mseg_bpf_arp_build(mac_a, 2, bad_mac, IP_A, 0xa9fe0101, buf);
	assert_int_equal(
	    mseg_bpf_test_run(mseg_datapath_bpf_prog_fd(dp, EG), if_a, buf, len, 1, &ret, NULL), 0);
	assert_int_equal(ret, SHOT);

	/* Not IPv4 nor ARP (an IPv6 ethertype): dropped as unsupported. */
	p = tcp(mac_a, IP_A, 1, IP_B, 8000, SYN);
	p.ethertype = 0x86dd;
	drain_events();
	assert_int_equal(from_ep(if_a, &p), SHOT);
	one_event(MSEG_EVENT_DROPPED, MSEG_DROP_UNSUPPORTED_L3);
	/* A non-first fragment has no ports to decide on. */
	p = tcp(mac_a, IP_A, 1, IP_B, 8000, SYN);
	p.frag_off = 100;
	assert_int_equal(from_ep(if_a, &p), SHOT);
	one_event(MSEG_EVENT_DROPPED, MSEG_DROP_FRAGMENT);
}

static void test_unknown_endpoint(void **state)
{
	NEED_BPF();
	struct mseg_bpf_pkt p = tcp(mac_a, IP_A, 1, IP_B, 8000, SYN);
	const struct mseg_dp_event *ev;

	drain_events();
	assert_int_equal(from_ep(if_unknown, &p), SHOT);
	ev = one_event(MSEG_EVENT_DROPPED, MSEG_DROP_UNKNOWN_ENDPOINT);
	assert_int_equal(ev->endpoint, 0);
	assert_int_equal(to_ep(if_unknown, &p), SHOT);
}

static void test_no_policy_and_malformed(void **state)
{
	NEED_BPF();
	struct mseg_bpf_pkt p = tcp(mac_a, IP_A, 1, IP_B, 8000, SYN);
	uint8_t buf[MSEG_BPF_PKT_MAX];
	uint32_t ret;
	size_t len;

	/* An endpoint whose defaults never arrived: nothing passes until they do. */
	assert_int_equal(endpoint_add(9, if_unknown, IP_A, mac_a, ID_A), 0);
	drain_events();
	assert_int_equal(from_ep(if_unknown, &p), SHOT);
	assert_int_equal(one_event(MSEG_EVENT_DROPPED, MSEG_DROP_NO_POLICY)->endpoint, 9);

	/* A TCP header cut short. */
	len = mseg_bpf_pkt_build(&p, buf);
	assert_int_equal(mseg_bpf_test_run(mseg_datapath_bpf_prog_fd(dp, EG), if_a, buf, len - 10,
					   1, &ret, NULL),
			 0);
	assert_int_equal(ret, SHOT);
	one_event(MSEG_EVENT_DROPPED, MSEG_DROP_MALFORMED);
	assert_int_equal(endpoint_del(if_unknown), 0);
}

static void test_audit_passes_with_event(void **state)
{
	NEED_BPF();
	struct mseg_bpf_pkt p = tcp(mac_gw, IP_WORLD, 5555, IP_A, 9000, SYN);
	const struct mseg_dp_event *ev;

	drain_events();
	assert_int_equal(to_ep(if_a, &p), OK);
	ev = one_event(MSEG_EVENT_AUDIT, MSEG_DROP_POLICY_DENY);
	assert_int_equal(ev->decided_by.policy, 20); /* the audit policy's rule */
	assert_int_equal(ev->decided_by.rule, 3);
	/* The same flow again: known to conntrack, not reported twice. */
	p.tcp_flags = ACK;
	assert_int_equal(to_ep(if_a, &p), OK);
	drain_events();
	assert_int_equal(n_events, 0);
}

static void test_event_contents(void **state)
{
	NEED_BPF();
	struct mseg_bpf_pkt p = tcp(mac_a, IP_A, 45000, IP_B, 7000, SYN);
	uint8_t buf[MSEG_BPF_PKT_MAX];
	size_t len;
	const struct mseg_dp_event *ev;
	struct timespec now;

	p.payload = 300; /* longer than the capture */
	len = mseg_bpf_pkt_build(&p, buf);
	drain_events();
	assert_int_equal(to_ep(if_b, &p), SHOT);
	ev = one_event(MSEG_EVENT_DROPPED, MSEG_DROP_POLICY_DENY);
	clock_gettime(CLOCK_REALTIME, &now);
	assert_true(ev->time_ns <= (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec);
	assert_true(ev->time_ns + 10ull * 1000000000ull > (uint64_t)now.tv_sec * 1000000000ull);
	assert_int_equal(ev->endpoint, 2);
	assert_int_equal(ev->dir, MSEG_DIR_INGRESS);
	assert_int_equal(ev->proto, 6);
	assert_int_equal(ev->saddr.family, MSEG_AF_INET);
	assert_int_equal(mseg_cidr_v4(&ev->saddr), IP_A);
	assert_int_equal(mseg_cidr_v4(&ev->daddr), IP_B);
	assert_int_equal(ev->sport, 45000);
	assert_int_equal(ev->dport, 7000);
	assert_int_equal(ev->src_identity, ID_A);
	assert_int_equal(ev->dst_identity, ID_B);
	assert_int_equal(ev->decided_by.kind, MSEG_DECIDED_RULE);
	assert_int_equal(ev->decided_by.policy, 11);
	assert_int_equal(ev->pkt_len, 128);
	assert_true(len > 128);
	assert_memory_equal(ev->pkt, buf, 128);

	/* Allowed new flows are reported when asked. */
	assert_int_equal(mseg_datapath_bpf_set_flags(dp, MSEG_CFG_EVENTS_ALLOWED), 0);
	p = tcp(mac_a, IP_A, 45001, IP_B, 8000, SYN);
	assert_int_equal(to_ep(if_b, &p), OK);
	ev = one_event(MSEG_EVENT_FORWARDED, MSEG_DROP_NONE);
	assert_int_equal(ev->decided_by.policy, 10);
	assert_int_equal(mseg_datapath_bpf_set_flags(dp, 0), 0);
}

static void test_counters(void **state)
{
	NEED_BPF();
	struct mseg_bpf_pkt p = tcp(mac_gw, IP_WORLD, 1, IP_B, 1, SYN);
	struct mseg_counter before, after, hits0, hits1;
	struct mseg_rule_ref ref = {
	    .policy = 10, .rule = 0, .dir = IN, .kind = MSEG_ABI_DECIDED_RULE};
	uint32_t idx = MSEG_COUNTER_INDEX(MSEG_DROP_ISOLATED, MSEG_DIR_INGRESS);

	assert_int_equal(mseg_datapath_bpf_counter(dp, idx, &before), 0);
	assert_int_equal(to_ep(if_b, &p), SHOT);
	assert_int_equal(to_ep(if_b, &p), SHOT);
	assert_int_equal(mseg_datapath_bpf_counter(dp, idx, &after), 0);
	assert_int_equal(after.packets - before.packets, 2);
	assert_int_equal(after.bytes - before.bytes, 2 * (14 + 20 + 20));

	memset(&hits0, 0, sizeof(hits0));
	mseg_datapath_bpf_rule_hits(dp, &ref, &hits0);
	p = tcp(mac_a, IP_A, 46000, IP_B, 8050, SYN);
	assert_int_equal(to_ep(if_b, &p), OK);
	assert_int_equal(mseg_datapath_bpf_rule_hits(dp, &ref, &hits1), 0);
	assert_int_equal(hits1.packets - hits0.packets, 1);
	drain_events();
}

/* The id of the program at mseg's (handle, priority) on a tc hook, 0 when none. */
static uint32_t tc_prog(int ifindex, enum bpf_tc_attach_point point)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, q, .handle = 1, .priority = 1);

	return bpf_tc_query(&hook, &q) == 0 ? q.prog_id : 0;
}

/* Last: closes and reopens (adopting the pins), then attaches to a real interface. */
static void test_restart_adopts_and_attach(void **state)
{
	NEED_BPF();
	struct mseg_datapath_config cfg = {.bpf_dir = bpf_dir};
	struct mseg_bpf_pkt syn = tcp(mac_a, IP_A, 47000, IP_B, 8000, SYN);
	struct mseg_bpf_pkt reply = tcp(mac_b, IP_B, 8000, IP_A, 47000, SYNACK);
	struct mseg_dp_endpoint ep = {.id = 2, .ifindex = if_b, .identity = ID_B};
	uint32_t id_before[2], id_after[2];
	struct bpf_prog_info info;
	uint32_t info_len = sizeof(info);
	struct stat st;

	assert_int_equal(from_ep(if_a, &syn), OK);
	assert_int_equal(to_ep(if_b, &syn), OK);
	for (int d = 0; d < 2; d++) {
		memset(&info, 0, sizeof(info));
		info_len = sizeof(info);
		assert_int_equal(
		    bpf_obj_get_info_by_fd(mseg_datapath_bpf_prog_fd(dp, d), &info, &info_len), 0);
		id_before[d] = info.id;
	}

	/* A restarted agent: same programs (by tag), same maps, same conntrack. */
	mseg_datapath_bpf.close(dp);
	dp = NULL;
	assert_int_equal(mseg_datapath_bpf.open(&cfg, &dp), 0);
	for (int d = 0; d < 2; d++) {
		memset(&info, 0, sizeof(info));
		info_len = sizeof(info);
		assert_int_equal(
		    bpf_obj_get_info_by_fd(mseg_datapath_bpf_prog_fd(dp, d), &info, &info_len), 0);
		id_after[d] = info.id;
		assert_int_equal(id_after[d], id_before[d]);
	}
	assert_int_equal(from_ep(if_b, &reply), OK); /* conntrack kept */
	syn.sport = 47001;
	assert_int_equal(to_ep(if_b, &syn), OK); /* rules kept */
	syn.dport = 7999;
	assert_int_equal(to_ep(if_b, &syn), SHOT);
	drain_events();

	/* Attach to B's real veth; attaching again changes nothing. */
	ep.ip = mseg_cidr_from_v4(IP_B, 32);
	memcpy(ep.mac, mac_b, 6);
	strcpy(ep.ifname, "mtb");
	assert_int_equal(mseg_datapath_bpf.endpoint_attach(dp, &ep), 0);
	assert_int_equal(tc_prog(if_b, BPF_TC_INGRESS), id_after[MSEG_DIR_EGRESS]);
	assert_int_equal(tc_prog(if_b, BPF_TC_EGRESS), id_after[MSEG_DIR_INGRESS]);
	assert_int_equal(mseg_datapath_bpf.endpoint_attach(dp, &ep), 0);
	assert_int_equal(tc_prog(if_b, BPF_TC_INGRESS), id_after[MSEG_DIR_EGRESS]);
	assert_int_equal(tc_prog(if_b, BPF_TC_EGRESS), id_after[MSEG_DIR_INGRESS]);

	/* Detach removes the filters and the endpoint. */
	assert_int_equal(mseg_datapath_bpf.endpoint_detach(dp, 2), 0);
	assert_int_equal(tc_prog(if_b, BPF_TC_INGRESS), 0);
	assert_int_equal(tc_prog(if_b, BPF_TC_EGRESS), 0);
	assert_int_equal(mseg_datapath_bpf.endpoint_detach(dp, 2), -ENOENT);
	assert_int_equal(mseg_datapath_bpf.endpoint_attach(dp, &ep), 0);

	/* Purge: filters gone from every interface, nothing left pinned. */
	mseg_datapath_bpf.close(dp);
	dp = NULL;
	assert_int_equal(tc_prog(if_b, BPF_TC_INGRESS), id_after[MSEG_DIR_EGRESS]);
	assert_int_equal(mseg_datapath_bpf.purge(&cfg), 0);
	assert_int_equal(tc_prog(if_b, BPF_TC_INGRESS), 0);
	assert_int_equal(tc_prog(if_b, BPF_TC_EGRESS), 0);
	{
		char path[128];

		snprintf(path, sizeof(path), "%s/mseg_policy", bpf_dir);
		assert_int_not_equal(stat(path, &st), 0);
		snprintf(path, sizeof(path), "%s/" MSEG_PIN_PROG_FROM_EP, bpf_dir);
		assert_int_not_equal(stat(path, &st), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_allowed_both_sides),
	    cmocka_unit_test(test_port_range_edges),
	    cmocka_unit_test(test_proto_specific_before_any),
	    cmocka_unit_test(test_isolated_and_default_deny),
	    cmocka_unit_test(test_ipcache_prefix_class),
	    cmocka_unit_test(test_egress_deny_rule),
	    cmocka_unit_test(test_reply_via_conntrack),
	    cmocka_unit_test(test_forged_reply_of_denied_side),
	    cmocka_unit_test(test_policy_change_cuts_flow),
	    cmocka_unit_test(test_incremental_range_change),
	    cmocka_unit_test(test_icmp_echo),
	    cmocka_unit_test(test_anti_spoofing),
	    cmocka_unit_test(test_unknown_endpoint),
	    cmocka_unit_test(test_no_policy_and_malformed),
	    cmocka_unit_test(test_audit_passes_with_event),
	    cmocka_unit_test(test_event_contents),
	    cmocka_unit_test(test_counters),
	    cmocka_unit_test(test_restart_adopts_and_attach),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
