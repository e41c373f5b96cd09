// SPDX-License-Identifier: Apache-2.0
/*
 * The same-node fast path (bpf/tc.bpf.c, mseg_local_deliver): a packet one local endpoint sends
 * to another is decided for both sides by the source's program and handed to the destination
 * with bpf_redirect_peer(). Checked with BPF_PROG_TEST_RUN in a sandbox namespace that routes
 * like a node (forwarding on, a /32 route and a neighbour per endpoint): the redirect, the
 * packet as the node would have forwarded it, the destination side's verdicts, conntrack,
 * counters and events, and every case left to the kernel. Needs root and BPF.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "tests/unit/bpf/bpf_fixture.h"

#define OK 0	   /* TC_ACT_OK: the node routes it */
#define SHOT 2	   /* TC_ACT_SHOT */
#define REDIRECT 7 /* TC_ACT_REDIRECT: bpf_redirect_peer() */

#define IP_A 0x0a000001u /* 10.0.0.1, endpoint 1 on veth fpa */
#define IP_B 0x0a000002u /* 10.0.0.2, endpoint 2 on veth fpb */
#define IP_X 0x0a000009u /* 10.0.0.9, routed through fpx: not an endpoint */
#define IP_N 0x0a00000au /* 10.0.0.10, routed, but no neighbour entry */
#define ID_A 256
#define ID_B 257

#define IN MSEG_DIR_INGRESS
#define EG MSEG_DIR_EGRESS
#define SYN 0x02
#define ACK 0x10
#define SYNACK 0x12

static const uint8_t mac_a[6] = {2, 0, 0, 0, 0, 0xa};
static const uint8_t mac_b[6] = {2, 0, 0, 0, 0, 0xb};
static const uint8_t mac_x[6] = {2, 0, 0, 0, 0, 0x9};
static uint8_t mac_gw_a[6], mac_gw_b[6]; /* the host-side veths' own MACs */

static int if_a, if_b, if_x;

/* B accepts TCP 8000 from A and denies everything else from A; A accepts nothing new. */
static struct mseg_table_entry table[] = {
    {2, IN, 6, 8000, 8000, ID_A, MSEG_VERDICT_ALLOW, 0, {MSEG_DECIDED_RULE, 10, 0, IN}, {0}},
    {2, IN, 0, 0, 65535, ID_A, MSEG_VERDICT_DENY, 0, {MSEG_DECIDED_RULE, 11, 0, IN}, {0}},
};
static struct mseg_endpoint_default defaults_in[] = {
    {1, MSEG_VERDICT_DENY, 0, {MSEG_DECIDED_ISOLATION, 12, 0, IN}, {0}},
    {2, MSEG_VERDICT_DENY, 0, {MSEG_DECIDED_ISOLATION, 10, 0, IN}, {0}},
};
static struct mseg_endpoint_default defaults_eg[] = {
    {1, MSEG_VERDICT_ALLOW, 0, {MSEG_DECIDED_DEFAULT, 0, 0, EG}, {0}},
    {2, MSEG_VERDICT_ALLOW, 0, {MSEG_DECIDED_DEFAULT, 0, 0, EG}, {0}},
};
static struct mseg_ipcache_entry ipcache[2];

/* /sys shows the host's interfaces, not the sandbox's: ask the sandbox's own socket. */
static int read_mac(const char *ifname, uint8_t mac[6])
{
	struct ifreq ifr = {0};
	int fd, r = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		r = -errno;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
	return r;
}

/* The sandbox routes like a node: forwarding on, a /32 and a neighbour per container. */
static int route_like_a_node(void)
{
	static const char *const cmds[] = {
	    "sysctl -qw net.ipv4.ip_forward=1",
	    "ip route add 10.0.0.1/32 dev fpa",
	    "ip neigh replace 10.0.0.1 lladdr 02:00:00:00:00:0a dev fpa nud permanent",
	    "ip route add 10.0.0.2/32 dev fpb",
	    "ip neigh replace 10.0.0.2 lladdr 02:00:00:00:00:0b dev fpb nud permanent",
	    "ip route add 10.0.0.9/32 dev fpx",
	    "ip neigh replace 10.0.0.9 lladdr 02:00:00:00:00:09 dev fpx nud permanent",
	    "ip route add 10.0.0.10/32 dev fpb",
	};

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (system(cmds[i]) != 0) {
			snprintf(skip_why, sizeof(skip_why), "'%s' failed", cmds[i]);
			return -EIO;
		}
	return 0;
}

static int setup(void **state)
{
	struct mseg_table_diff d = {
	    .added = table,
	    .n_added = sizeof(table) / sizeof(table[0]),
	    .ipcache_added = ipcache,
	    .n_ipcache_added = 2,
	    .defaults_changed = {defaults_in, defaults_eg},
	    .n_defaults_changed = {2, 2},
	};
	static const char *const names[] = {"fpa", "fpb", "fpx"};
	int ifs[3];

	(void)state;
	if (fixture_enter(names, ifs, 3) < 0)
		return 0;
	if_a = ifs[0];
	if_b = ifs[1];
	if_x = ifs[2];
	if (route_like_a_node() < 0)
		return 0;
	if (read_mac("fpa", mac_gw_a) < 0 || read_mac("fpb", mac_gw_b) < 0) {
		snprintf(skip_why, sizeof(skip_why), "cannot read the veths' MACs");
		return 0;
	}
	if (fixture_open() < 0)
		return 0;
	ipcache[0] = (struct mseg_ipcache_entry){mseg_cidr_from_v4(IP_A, 32), ID_A, ID_A};
	ipcache[1] = (struct mseg_ipcache_entry){mseg_cidr_from_v4(IP_B, 32), ID_B, ID_B};
	assert_int_equal(mseg_datapath_bpf.apply(dp, &d), 0);
	assert_int_equal(endpoint_add(1, if_a, IP_A, mac_a, ID_A), 0);
	assert_int_equal(endpoint_add(2, if_b, IP_B, mac_b, ID_B), 0);
	return 0;
}

/* The packet after a run, for the rewrite checks. */
static uint8_t out[MSEG_BPF_PKT_MAX + 256];

/* Runs the program of direction dir on buf as if on ifindex; returns the tc verdict. */
static uint32_t run(int dir, int ifindex, const uint8_t *buf, size_t len)
{
	struct __sk_buff ctx = {.ifindex = (uint32_t)ifindex};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = buf, .data_size_in = (uint32_t)len,
		    .data_out = out, .data_size_out = sizeof(out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);

	memset(out, 0, sizeof(out));
	assert_int_equal(bpf_prog_test_run_opts(mseg_datapath_bpf_prog_fd(dp, dir), &o), 0);
	return o.retval;
}

/* A TCP packet leaving the endpoint with MAC smac, addressed to its gateway (the host veth). */
static size_t tcp(uint8_t *buf, const uint8_t *smac, const uint8_t *gw, uint32_t s, uint16_t sport,
		  uint32_t d, uint16_t dport, uint8_t flags)
{
	struct mseg_bpf_pkt p = {
	    .saddr = s, .daddr = d, .proto = 6, .sport = sport, .dport = dport, .tcp_flags = flags};

	memcpy(p.smac, smac, 6);
	memcpy(p.dmac, gw, 6);
	return mseg_bpf_pkt_build(&p, buf);
}

static uint32_t from_ep(int ifindex, const uint8_t *smac, const uint8_t *gw, uint32_t s,
			uint16_t sport, uint32_t d, uint16_t dport, uint8_t flags)
{
	uint8_t buf[MSEG_BPF_PKT_MAX];
	size_t len = tcp(buf, smac, gw, s, sport, d, dport, flags);

	return run(EG, ifindex, buf, len);
}

static uint64_t counter(uint16_t reason, int dir)
{
	struct mseg_counter c;

	assert_int_equal(mseg_datapath_bpf_counter(dp, MSEG_COUNTER_INDEX(reason, dir), &c), 0);
	return c.packets;
}

static void test_redirected_and_rewritten(void **state)
{
	uint64_t a_out, b_in;
	uint8_t *ip = out + 14;

	(void)state;
	NEED_BPF();
	a_out = counter(MSEG_DROP_NONE, EG);
	b_in = counter(MSEG_DROP_NONE, IN);
	assert_int_equal(from_ep(if_a, mac_a, mac_gw_a, IP_A, 41000, IP_B, 8000, SYN), REDIRECT);
	/* As the node forwards it: to the container's MAC from the veth's, TTL one less, the
	 * header checksum still right. */
	assert_memory_equal(out, mac_b, 6);
	assert_memory_equal(out + 6, mac_gw_b, 6);
	assert_int_equal(ip[8], 63);
	assert_int_equal(mseg_bpf_ip_csum(ip), (uint16_t)(ip[10] << 8 | ip[11]));
	/* Both sides decided and counted: A's egress and B's ingress. */
	assert_int_equal(counter(MSEG_DROP_NONE, EG), a_out + 1);
	assert_int_equal(counter(MSEG_DROP_NONE, IN), b_in + 1);

	/* B approved the flow on its side: its reply passes through conntrack (and is itself
	 * delivered straight to A, whose side approved it when the request left). */
	assert_int_equal(from_ep(if_b, mac_b, mac_gw_b, IP_B, 8000, IP_A, 41000, SYNACK), REDIRECT);
	assert_memory_equal(out, mac_a, 6);
	assert_memory_equal(out + 6, mac_gw_a, 6);
	assert_int_equal(from_ep(if_a, mac_a, mac_gw_a, IP_A, 41000, IP_B, 8000, ACK), REDIRECT);
	/* A never approved anything inbound: a forged "reply" from B to another port of A is a
	 * new flow for A's ingress, which is isolated. */
	assert_int_equal(from_ep(if_b, mac_b, mac_gw_b, IP_B, 8000, IP_A, 41001, ACK), SHOT);
	drain_events();
	assert_int_equal(n_events, 1);
	assert_int_equal(events[0].endpoint, 1);
	assert_int_equal(events[0].dir, IN);
	assert_int_equal(events[0].reason, MSEG_DROP_ISOLATED);
}

static void test_destination_ingress_denies(void **state)
{
	uint64_t denied, a_out;

	(void)state;
	NEED_BPF();
	denied = counter(MSEG_DROP_POLICY_DENY, IN);
	a_out = counter(MSEG_DROP_NONE, EG);
	drain_events();
	/* A's egress allows it (default allow); B's ingress denies it by policy 11's rule. */
	assert_int_equal(from_ep(if_a, mac_a, mac_gw_a, IP_A, 41002, IP_B, 9999, SYN), SHOT);
	assert_int_equal(counter(MSEG_DROP_NONE, EG), a_out + 1);
	assert_int_equal(counter(MSEG_DROP_POLICY_DENY, IN), denied + 1);
	drain_events();
	assert_int_equal(n_events, 1);
	assert_int_equal(events[0].endpoint, 2);
	assert_int_equal(events[0].dir, IN);
	assert_int_equal(events[0].reason, MSEG_DROP_POLICY_DENY);
	assert_int_equal(events[0].decided_by.policy, 11);
	assert_int_equal(events[0].src_identity, ID_A);
	assert_int_equal(events[0].dst_identity, ID_B);
	/* The captured packet is the forwarded one, as B's own program would have seen it. */
	assert_true(events[0].pkt_len >= 34);
	assert_memory_equal(events[0].pkt, mac_b, 6);
	assert_int_equal(events[0].pkt[14 + 8], 63);
}

/* What the node would treat specially stays with the node: TC_ACT_OK, B's side untouched. */
static void test_left_to_the_kernel(void **state)
{
	uint8_t buf[MSEG_BPF_PKT_MAX];
	uint64_t b_in;
	size_t len;

	(void)state;
	NEED_BPF();
	b_in = counter(MSEG_DROP_NONE, IN);
	/* Not an endpoint: routed through another interface (say, the VXLAN device). */
	assert_int_equal(from_ep(if_a, mac_a, mac_gw_a, IP_A, 41003, IP_X, 8000, SYN), OK);
	/* No neighbour entry yet: the node resolves it. */
	assert_int_equal(from_ep(if_a, mac_a, mac_gw_a, IP_A, 41004, IP_N, 8000, SYN), OK);
	/* TTL 1: the node answers with ICMP time exceeded. */
	len = tcp(buf, mac_a, mac_gw_a, IP_A, 41005, IP_B, 8000, SYN);
	buf[14 + 8] = 1;
	buf[14 + 10] = (uint8_t)(mseg_bpf_ip_csum(buf + 14) >> 8);
	buf[14 + 11] = (uint8_t)mseg_bpf_ip_csum(buf + 14);
	assert_int_equal(run(EG, if_a, buf, len), OK);
	/* A bad header checksum: the node drops it. */
	len = tcp(buf, mac_a, mac_gw_a, IP_A, 41006, IP_B, 8000, SYN);
	buf[14 + 11] ^= 0xff;
	assert_int_equal(run(EG, if_a, buf, len), OK);
	/* Not addressed to the node's MAC (another host's frame): never forwarded. */
	assert_int_equal(from_ep(if_a, mac_a, mac_x, IP_A, 41007, IP_B, 8000, SYN), OK);
	assert_int_equal(counter(MSEG_DROP_NONE, IN), b_in);

	/* Forwarding off: the node would not forward, so neither do we. */
	assert_int_equal(system("sysctl -qw net.ipv4.ip_forward=0"), 0);
	assert_int_equal(from_ep(if_a, mac_a, mac_gw_a, IP_A, 41008, IP_B, 8000, SYN), OK);
	assert_int_equal(system("sysctl -qw net.ipv4.ip_forward=1"), 0);
	assert_int_equal(counter(MSEG_DROP_NONE, IN), b_in);
	drain_events();
}

/* The destination's own program (tc egress) still decides alone what arrives the slow way. */
static void test_slow_path_unchanged(void **state)
{
	uint8_t buf[MSEG_BPF_PKT_MAX];
	size_t len;

	(void)state;
	NEED_BPF();
	len = tcp(buf, mac_gw_b, mac_b, IP_A, 41009, IP_B, 8000, SYN);
	assert_int_equal(run(IN, if_b, buf, len), OK);
	len = tcp(buf, mac_gw_b, mac_b, IP_A, 41010, IP_B, 8001, SYN);
	assert_int_equal(run(IN, if_b, buf, len), SHOT);
	drain_events();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_redirected_and_rewritten),
	    cmocka_unit_test(test_destination_ingress_denies),
	    cmocka_unit_test(test_left_to_the_kernel),
	    cmocka_unit_test(test_slow_path_unchanged),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
