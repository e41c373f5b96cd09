// SPDX-License-Identifier: Apache-2.0
/* nfnetlink_log messages into datapath events, on messages built by hand (no kernel). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <string.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>

#include "agent/nflog.h"
#include "bpf/abi.h"

/* An IPv4 header (20 bytes) plus 4 bytes of transport header. */
static const uint8_t tcp_pkt[] = {
    0x45, 0,	0, 40, 0,  1,	0x40, 0,  64, 6, 0, 0, /* DF, TTL 64, TCP */
    10,	  200,	1, 11, 10, 200, 1,    10,	       /* 10.200.1.11 -> 10.200.1.10 */
    0xc3, 0x50, 0, 80,				       /* 50000 -> 80 */
};

static struct nlmsghdr *packet_msg(char *buf, const char *prefix, size_t prefix_len,
				   const uint8_t *pkt, size_t pkt_len, bool ts)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *g;
	struct nfulnl_msg_packet_hdr hdr = {.hw_protocol = htons(0x0800), .hook = 2};

	nlh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = AF_INET;
	g->res_id = htons(7);
	mnl_attr_put(nlh, NFULA_PACKET_HDR, sizeof(hdr), &hdr);
	if (prefix)
		mnl_attr_put(nlh, NFULA_PREFIX, prefix_len, prefix);
	mnl_attr_put_u32(nlh, NFULA_IFINDEX_INDEV, htonl(12));
	mnl_attr_put_u32(nlh, NFULA_IFINDEX_OUTDEV, htonl(14));
	if (ts) {
		struct nfulnl_msg_packet_timestamp t = {.sec = htobe64(1700000000),
							.usec = htobe64(250)};

		mnl_attr_put(nlh, NFULA_TIMESTAMP, sizeof(t), &t);
	}
	if (pkt)
		mnl_attr_put(nlh, NFULA_PAYLOAD, pkt_len, pkt);
	return nlh;
}

static void test_parse_and_decode_tcp_drop(void **state)
{
	char buf[1024];
	const char prefix[] = "mseg:D:i:2:I:3:i:0";
	struct nlmsghdr *nlh =
	    packet_msg(buf, prefix, sizeof(prefix), tcp_pkt, sizeof(tcp_pkt), true);
	struct mseg_nflog_packet p;
	struct mseg_dp_event ev;

	assert_int_equal(mseg_nflog_msg_parse(nlh, &p), 0);
	assert_string_equal(p.prefix, prefix);
	assert_int_equal(p.indev, 12);
	assert_int_equal(p.outdev, 14);
	assert_int_equal(p.hw_protocol, 0x0800);
	assert_int_equal(p.time_ns, 1700000000ull * 1000000000ull + 250000ull);
	assert_int_equal(p.payload_len, sizeof(tcp_pkt));

	assert_int_equal(mseg_nflog_decode(&p, &ev), 0);
	assert_int_equal(ev.verdict, MSEG_EVENT_DROPPED);
	assert_int_equal(ev.dir, 0);
	assert_int_equal(ev.reason, MSEG_DROP_ISOLATED);
	assert_int_equal(ev.decided_by.kind, MSEG_DECIDED_ISOLATION);
	assert_int_equal(ev.decided_by.policy, 3);
	assert_int_equal(ev.proto, 6);
	assert_int_equal(ev.sport, 50000);
	assert_int_equal(ev.dport, 80);
	assert_int_equal(ev.saddr.family, MSEG_AF_INET);
	assert_int_equal(ev.saddr.prefixlen, 32);
	assert_memory_equal(ev.saddr.addr, tcp_pkt + 12, 4);
	assert_memory_equal(ev.daddr.addr, tcp_pkt + 16, 4);
	assert_int_equal(ev.pkt_len, sizeof(tcp_pkt));
	assert_memory_equal(ev.pkt, tcp_pkt, sizeof(tcp_pkt));
	assert_int_equal(ev.time_ns, p.time_ns);
}

static void test_decode_icmp_and_fragments(void **state)
{
	uint8_t pkt[sizeof(tcp_pkt)];
	struct mseg_nflog_packet p = {
	    .prefix = "mseg:A:o:1:R:9:e:2", .payload = pkt, .payload_len = sizeof(pkt)};
	struct mseg_dp_event ev;

	memcpy(pkt, tcp_pkt, sizeof(pkt));
	pkt[9] = 1; /* ICMP echo request: type 8 code 0 */
	pkt[20] = 8;
	pkt[21] = 0;
	assert_int_equal(mseg_nflog_decode(&p, &ev), 0);
	assert_int_equal(ev.verdict, MSEG_EVENT_AUDIT);
	assert_int_equal(ev.dir, 1);
	assert_int_equal(ev.decided_by.rule, 2);
	assert_int_equal(ev.sport, 8);
	assert_int_equal(ev.dport, 0);
	/* no timestamp from the kernel: now */
	assert_true(ev.time_ns > 1600000000ull * 1000000000ull);

	/* a non-first fragment has no ports */
	pkt[9] = 6;
	pkt[6] = 0;
	pkt[7] = 10;
	assert_int_equal(mseg_nflog_decode(&p, &ev), 0);
	assert_int_equal(ev.proto, 6);
	assert_int_equal(ev.sport, 0);
	assert_int_equal(ev.dport, 0);

	/* too short for IPv4: the decision only */
	p.payload_len = 10;
	assert_int_equal(mseg_nflog_decode(&p, &ev), 0);
	assert_int_equal(ev.saddr.family, 0);
	assert_int_equal(ev.pkt_len, 10);
}

static void test_rejects_foreign_and_malformed(void **state)
{
	char buf[1024];
	const char bad_prefix[] = "somebody else";
	struct mseg_nflog_packet p;
	struct mseg_dp_event ev;
	struct nlmsghdr *nlh;

	/* another rule's log line: parsed, but not an mseg event */
	nlh = packet_msg(buf, bad_prefix, sizeof(bad_prefix), tcp_pkt, sizeof(tcp_pkt), false);
	assert_int_equal(mseg_nflog_msg_parse(nlh, &p), 0);
	assert_int_equal(mseg_nflog_decode(&p, &ev), -EINVAL);
	/* no prefix at all */
	nlh = packet_msg(buf, NULL, 0, tcp_pkt, sizeof(tcp_pkt), false);
	assert_int_equal(mseg_nflog_msg_parse(nlh, &p), 0);
	assert_null(p.prefix);
	assert_int_equal(mseg_nflog_decode(&p, &ev), -EINVAL);
	/* a prefix without its NUL */
	nlh = packet_msg(buf, "mseg:D:i:2:I:3:i:0", 18, tcp_pkt, sizeof(tcp_pkt), false);
	assert_int_equal(mseg_nflog_msg_parse(nlh, &p), -EINVAL);
	/* not a packet message */
	nlh = packet_msg(buf, NULL, 0, NULL, 0, false);
	nlh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;
	assert_int_equal(mseg_nflog_msg_parse(nlh, &p), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_and_decode_tcp_drop),
	    cmocka_unit_test(test_decode_icmp_and_fragments),
	    cmocka_unit_test(test_rejects_foreign_and_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
