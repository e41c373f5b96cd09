// SPDX-License-Identifier: Apache-2.0
/*
 * The nft batch builders without a kernel: build -> serialise -> parse back with libnftnl ->
 * compare, as libnftnl's own tests do; plus the sequence-number bookkeeping that names the
 * object of a kernel error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdlib.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include "agent/datapath_nft.h"
#include "bpf/abi.h"

/* The messages of a finished batch, BEGIN and END included. */
struct msgs {
	const struct nlmsghdr *m[256];
	size_t n;
};

static void split(const void *buf, size_t len, struct msgs *out)
{
	int left = (int)len;

	out->n = 0;
	for (const struct nlmsghdr *h = buf; mnl_nlmsg_ok(h, left); h = mnl_nlmsg_next(h, &left)) {
		assert_true(out->n < 256);
		out->m[out->n++] = h;
	}
	assert_int_equal(left, 0);
}

/*
 * libnftnl numbers the nests of a message's elements 1, 2, 3...: the kernel takes any
 * number, but libnftnl's own parser wants NFTA_LIST_ELEM on each. A copy with the numbers
 * normalised parses; the original bytes are what the kernel gets.
 */
static int elems_parse(const struct nlmsghdr *h, struct nftnl_set *s)
{
	static char copy[256 * 1024];
	struct nlmsghdr *c = (struct nlmsghdr *)copy;
	struct nlattr *a, *el;

	assert_true(h->nlmsg_len <= sizeof(copy));
	memcpy(copy, h, h->nlmsg_len);
	mnl_attr_for_each(a, c, sizeof(struct nfgenmsg)) if (mnl_attr_get_type(a) ==
							     NFTA_SET_ELEM_LIST_ELEMENTS)
	    mnl_attr_for_each_nested(el, a)
		el->nla_type = (el->nla_type & ~NLA_TYPE_MASK) | NFTA_LIST_ELEM;
	return nftnl_set_elems_nlmsg_parse(c, s);
}

static uint16_t nft_type(const struct nlmsghdr *h)
{
	assert_int_equal(h->nlmsg_type >> 8, NFNL_SUBSYS_NFTABLES);
	return h->nlmsg_type & 0xff;
}

static void test_batch_framing_and_sequence(void **state)
{
	struct mseg_nft_batch *b;
	const void *buf;
	size_t len;
	struct msgs ms;

	assert_int_equal(mseg_nft_batch_new(&b, 1000), 0);
	assert_int_equal(mseg_nft_batch_table_add(b), 0);
	assert_int_equal(mseg_nft_batch_chain_add(b, "ep_x_a_in", -1, 0, "hello"), 0);
	assert_int_equal(mseg_nft_batch_counter_add(b, "allow_p1_ing0_in"), 0);
	assert_int_equal(mseg_nft_batch_count(b), 3);
	assert_int_equal(mseg_nft_batch_finish(b, &buf, &len), 0);
	split(buf, len, &ms);
	assert_int_equal(ms.n, 5);
	assert_int_equal(ms.m[0]->nlmsg_type, NFNL_MSG_BATCH_BEGIN);
	assert_int_equal(ms.m[4]->nlmsg_type, NFNL_MSG_BATCH_END);
	/* one sequence number per message, in order; none asks for an ack: nfnetlink reports
	 * an error with the failing message's number anyway, and 30,000 acks of a success
	 * would cost the kernel and the reader for nothing */
	for (size_t i = 0; i < ms.n; i++)
		assert_int_equal(ms.m[i]->nlmsg_seq, 1000 + i);
	for (size_t i = 1; i + 1 < ms.n; i++)
		assert_false(ms.m[i]->nlmsg_flags & NLM_F_ACK);
	/* an error for seq 1002 names the chain */
	assert_string_equal(mseg_nft_batch_what(b, 1001), "table inet mseg");
	assert_string_equal(mseg_nft_batch_what(b, 1002), "chain ep_x_a_in");
	assert_string_equal(mseg_nft_batch_what(b, 1003), "counter allow_p1_ing0_in");
	assert_null(mseg_nft_batch_what(b, 999));
	assert_null(mseg_nft_batch_what(b, 2000));
	/* finishing twice returns the same bytes */
	const void *buf2;
	size_t len2;
	assert_int_equal(mseg_nft_batch_finish(b, &buf2, &len2), 0);
	assert_int_equal(len, len2);
	/* a finished batch takes no more messages */
	assert_int_equal(mseg_nft_batch_table_del(b), -EINVAL);
	mseg_nft_batch_free(b);
	mseg_nft_batch_free(NULL);
}

static void test_table_chain_round_trip(void **state)
{
	struct mseg_nft_batch *b;
	const void *buf;
	size_t len;
	struct msgs ms;

	assert_int_equal(mseg_nft_batch_new(&b, 1), 0);
	assert_int_equal(mseg_nft_batch_table_add(b), 0);
	assert_int_equal(mseg_nft_batch_chain_add(b, "forward", NF_INET_FORWARD, 0, NULL), 0);
	assert_int_equal(mseg_nft_batch_chain_add(b, "ep_x_a_out", -1, 0, "egress of x/a"), 0);
	assert_int_equal(mseg_nft_batch_chain_flush(b, "ep_x_a_out"), 0);
	assert_int_equal(mseg_nft_batch_chain_del(b, "ep_x_a_out"), 0);
	assert_int_equal(mseg_nft_batch_finish(b, &buf, &len), 0);
	split(buf, len, &ms);
	assert_int_equal(ms.n, 7);

	struct nftnl_table *t = nftnl_table_alloc();
	assert_int_equal(nft_type(ms.m[1]), NFT_MSG_NEWTABLE);
	assert_int_equal(nftnl_table_nlmsg_parse(ms.m[1], t), 0);
	assert_string_equal(nftnl_table_get_str(t, NFTNL_TABLE_NAME), "mseg");
	assert_int_equal(nftnl_table_get_u32(t, NFTNL_TABLE_FAMILY), NFPROTO_INET);
	nftnl_table_free(t);

	struct nftnl_chain *c = nftnl_chain_alloc();
	assert_int_equal(nft_type(ms.m[2]), NFT_MSG_NEWCHAIN);
	assert_int_equal(nftnl_chain_nlmsg_parse(ms.m[2], c), 0);
	assert_string_equal(nftnl_chain_get_str(c, NFTNL_CHAIN_NAME), "forward");
	assert_string_equal(nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE), "filter");
	assert_int_equal(nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM), NF_INET_FORWARD);
	assert_int_equal(nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY), NF_ACCEPT);
	nftnl_chain_free(c);

	c = nftnl_chain_alloc();
	assert_int_equal(nftnl_chain_nlmsg_parse(ms.m[3], c), 0);
	assert_string_equal(nftnl_chain_get_str(c, NFTNL_CHAIN_NAME), "ep_x_a_out");
	assert_false(nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM));
	uint32_t ulen;
	const char *u = nftnl_chain_get_data(c, NFTNL_CHAIN_USERDATA, &ulen);
	assert_non_null(u);
	/* the comment TLV: type, length, "egress of x/a\0" */
	assert_int_equal(ulen, 2 + sizeof("egress of x/a"));
	assert_string_equal(u + 2, "egress of x/a");
	nftnl_chain_free(c);

	/* flush: DELRULE naming only the chain; delete: DELCHAIN */
	struct nftnl_rule *r = nftnl_rule_alloc();
	assert_int_equal(nft_type(ms.m[4]), NFT_MSG_DELRULE);
	assert_int_equal(nftnl_rule_nlmsg_parse(ms.m[4], r), 0);
	assert_string_equal(nftnl_rule_get_str(r, NFTNL_RULE_CHAIN), "ep_x_a_out");
	assert_false(nftnl_rule_is_set(r, NFTNL_RULE_HANDLE));
	nftnl_rule_free(r);
	assert_int_equal(nft_type(ms.m[5]), NFT_MSG_DELCHAIN);
	mseg_nft_batch_free(b);
}

static void test_set_and_elements_round_trip(void **state)
{
	struct mseg_nft_batch *b;
	const void *buf;
	size_t len;
	struct msgs ms;
	struct mseg_nft_elem e[3];

	mseg_nft_elem_addr_proto_port(&e[0], 0x0ac80100, 0x0ac801ff, 6, 80, 90);
	strcpy(e[0].chain, "allow_p1_ing0_in");
	e[0].jump = false;
	mseg_nft_elem_addr_proto_port(&e[1], 0x0ac80200, 0x0ac80200, 17, 53, 53);
	strcpy(e[1].chain, "deny_p2_ing1_in");
	e[1].jump = false;
	mseg_nft_elem_ifname(&e[2], "veth1");
	strcpy(e[2].chain, "ep_x_a_out");
	e[2].jump = true;

	assert_int_equal(mseg_nft_batch_new(&b, 1), 0);
	assert_int_equal(
	    mseg_nft_batch_set_add(b, "ep_x_a_in_cls", MSEG_NFT_SET_ADDR_PROTO_PORT, NULL), 0);
	assert_int_equal(mseg_nft_batch_elems(b, true, "ep_x_a_in_cls", e, 2), 0);
	assert_int_equal(mseg_nft_batch_elems(b, false, "ep_x_a_in_cls", e, 1), 0);
	assert_int_equal(mseg_nft_batch_elems(b, true, "ep_out", &e[2], 1), 0);
	assert_int_equal(mseg_nft_batch_set_flush(b, "ep_x_a_in_cls"), 0);
	assert_int_equal(mseg_nft_batch_finish(b, &buf, &len), 0);
	split(buf, len, &ms);
	assert_int_equal(ms.n, 7);

	struct nftnl_set *s = nftnl_set_alloc();
	assert_int_equal(nft_type(ms.m[1]), NFT_MSG_NEWSET);
	assert_int_equal(nftnl_set_nlmsg_parse(ms.m[1], s), 0);
	assert_string_equal(nftnl_set_get_str(s, NFTNL_SET_NAME), "ep_x_a_in_cls");
	assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN), 12);
	/* nft prints this key type as ipv4_addr . inet_proto . inet_service */
	assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_KEY_TYPE), 29453);
	assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_DATA_TYPE), NFT_DATA_VERDICT);
	assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_FLAGS),
			 NFT_SET_MAP | NFT_SET_INTERVAL | NFT_SET_CONCAT);
	assert_true(nftnl_set_is_set(s, NFTNL_SET_ID));
	nftnl_set_free(s);

	/* the additions: keys, ends and verdicts as built */
	s = nftnl_set_alloc();
	assert_int_equal(nft_type(ms.m[2]), NFT_MSG_NEWSETELEM);
	assert_int_equal(elems_parse(ms.m[2], s), 0);
	struct nftnl_set_elems_iter *it = nftnl_set_elems_iter_create(s);
	size_t i = 0;
	for (struct nftnl_set_elem *x = nftnl_set_elems_iter_next(it); x;
	     x = nftnl_set_elems_iter_next(it), i++) {
		uint32_t klen;
		const uint8_t *k = nftnl_set_elem_get(x, NFTNL_SET_ELEM_KEY, &klen);
		const uint8_t *ke = nftnl_set_elem_get(x, NFTNL_SET_ELEM_KEY_END, &klen);

		assert_true(i < 2);
		assert_int_equal(klen, 12);
		assert_memory_equal(k, e[i].key, 12);
		assert_memory_equal(ke, e[i].key_end, 12);
		assert_int_equal((int)nftnl_set_elem_get_u32(x, NFTNL_SET_ELEM_VERDICT), NFT_GOTO);
		assert_string_equal(nftnl_set_elem_get_str(x, NFTNL_SET_ELEM_CHAIN), e[i].chain);
	}
	assert_int_equal(i, 2);
	nftnl_set_elems_iter_destroy(it);
	nftnl_set_free(s);
	/* key layout: address, protocol in a 4-byte field, port in network order */
	static const uint8_t want[12] = {10, 200, 1, 0, 6, 0, 0, 0, 0, 80, 0, 0};
	assert_memory_equal(e[0].key, want, 12);

	/* the deletion carries keys only */
	s = nftnl_set_alloc();
	assert_int_equal(nft_type(ms.m[3]), NFT_MSG_DELSETELEM);
	assert_int_equal(elems_parse(ms.m[3], s), 0);
	it = nftnl_set_elems_iter_create(s);
	struct nftnl_set_elem *x = nftnl_set_elems_iter_next(it);
	assert_non_null(x);
	assert_false(nftnl_set_elem_is_set(x, NFTNL_SET_ELEM_CHAIN));
	assert_null(nftnl_set_elems_iter_next(it));
	nftnl_set_elems_iter_destroy(it);
	nftnl_set_free(s);

	/* the interface dispatch element jumps */
	s = nftnl_set_alloc();
	assert_int_equal(elems_parse(ms.m[4], s), 0);
	it = nftnl_set_elems_iter_create(s);
	x = nftnl_set_elems_iter_next(it);
	uint32_t klen;
	assert_string_equal((const char *)nftnl_set_elem_get(x, NFTNL_SET_ELEM_KEY, &klen),
			    "veth1");
	assert_int_equal(klen, 16);
	assert_int_equal((int)nftnl_set_elem_get_u32(x, NFTNL_SET_ELEM_VERDICT), NFT_JUMP);
	nftnl_set_elems_iter_destroy(it);
	nftnl_set_free(s);

	/* flush: DELSETELEM without elements */
	s = nftnl_set_alloc();
	assert_int_equal(nft_type(ms.m[5]), NFT_MSG_DELSETELEM);
	assert_int_equal(elems_parse(ms.m[5], s), 0);
	it = nftnl_set_elems_iter_create(s);
	assert_null(nftnl_set_elems_iter_next(it));
	nftnl_set_elems_iter_destroy(it);
	nftnl_set_free(s);
	mseg_nft_batch_free(b);
}

static int count_counters(struct nftnl_expr *e, void *data)
{
	size_t *n = data;

	if (!strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), "counter"))
		(*n)++;
	return 0;
}

/* A plain allow is a `return` element carrying its decision's name as its comment, counted
 * by the counter every endpoint map gives its elements (the interface maps count nothing). */
static void test_return_elements_and_counted_maps(void **state)
{
	struct mseg_nft_batch *b;
	const void *buf;
	size_t len, n_ctr;
	struct msgs ms;
	struct mseg_nft_elem e[2];

	mseg_nft_elem_addr_proto_port(&e[0], 0x0ac80100, 0x0ac80100, 17, 5001, 5001);
	strcpy(e[0].chain, "allow_p1_ing7_in");
	e[0].jump = false;
	e[0].ret = true;
	mseg_nft_elem_addr_proto_port(&e[1], 0x0ac80200, 0x0ac80200, 6, 22, 22);
	strcpy(e[1].chain, "deny_p2_ing0_in");
	e[1].jump = false;
	e[1].ret = false;
	/* the same key and decision, once returning and once going to a chain: two elements */
	struct mseg_nft_elem g = e[0];
	g.ret = false;
	assert_true(mseg_nft_elem_cmp(&e[0], &g) != 0);

	assert_int_equal(mseg_nft_batch_new(&b, 1), 0);
	assert_int_equal(
	    mseg_nft_batch_set_add(b, "ep_x_a_in_cls", MSEG_NFT_SET_ADDR_PROTO_PORT, NULL), 0);
	assert_int_equal(mseg_nft_batch_set_add(b, "ep_in", MSEG_NFT_SET_IFNAME, NULL), 0);
	assert_int_equal(mseg_nft_batch_elems(b, true, "ep_x_a_in_cls", e, 2), 0);
	assert_int_equal(mseg_nft_batch_finish(b, &buf, &len), 0);
	split(buf, len, &ms);
	assert_int_equal(ms.n, 5);

	struct nftnl_set *s = nftnl_set_alloc();
	assert_int_equal(nftnl_set_nlmsg_parse(ms.m[1], s), 0);
	n_ctr = 0;
	nftnl_set_expr_foreach(s, count_counters, &n_ctr);
	assert_int_equal(n_ctr, 1);
	nftnl_set_free(s);
	s = nftnl_set_alloc();
	assert_int_equal(nftnl_set_nlmsg_parse(ms.m[2], s), 0);
	n_ctr = 0;
	nftnl_set_expr_foreach(s, count_counters, &n_ctr);
	assert_int_equal(n_ctr, 0);
	nftnl_set_free(s);

	s = nftnl_set_alloc();
	assert_int_equal(elems_parse(ms.m[3], s), 0);
	assert_string_equal(nftnl_set_get_str(s, NFTNL_SET_NAME), "ep_x_a_in_cls");
	struct nftnl_set_elems_iter *it = nftnl_set_elems_iter_create(s);
	struct nftnl_set_elem *x = nftnl_set_elems_iter_next(it);
	uint32_t ulen;
	assert_non_null(x);
	assert_int_equal((int)nftnl_set_elem_get_u32(x, NFTNL_SET_ELEM_VERDICT), NFT_RETURN);
	assert_false(nftnl_set_elem_is_set(x, NFTNL_SET_ELEM_CHAIN));
	const uint8_t *u = nftnl_set_elem_get(x, NFTNL_SET_ELEM_USERDATA, &ulen);
	/* one record: type comment, length with the NUL, the name */
	assert_int_equal(ulen, 2 + sizeof("allow_p1_ing7_in"));
	assert_int_equal(u[0], NFTNL_UDATA_SET_ELEM_COMMENT);
	assert_int_equal(u[1], sizeof("allow_p1_ing7_in"));
	assert_string_equal((const char *)u + 2, "allow_p1_ing7_in");
	x = nftnl_set_elems_iter_next(it);
	assert_non_null(x);
	assert_int_equal((int)nftnl_set_elem_get_u32(x, NFTNL_SET_ELEM_VERDICT), NFT_GOTO);
	assert_string_equal(nftnl_set_elem_get_str(x, NFTNL_SET_ELEM_CHAIN), "deny_p2_ing0_in");
	assert_false(nftnl_set_elem_is_set(x, NFTNL_SET_ELEM_USERDATA));
	assert_null(nftnl_set_elems_iter_next(it));
	nftnl_set_elems_iter_destroy(it);
	nftnl_set_free(s);
	mseg_nft_batch_free(b);
}

static void test_many_elements_are_chunked(void **state)
{
	struct mseg_nft_batch *b;
	struct mseg_nft_elem *e = calloc(1000, sizeof(*e));
	const void *buf;
	size_t len, total = 0;
	struct msgs ms;

	for (size_t i = 0; i < 1000; i++) {
		mseg_nft_elem_proto_port(&e[i], 6, (uint16_t)(i * 10), (uint16_t)(i * 10 + 5));
		strcpy(e[i].chain, "allow_default_in");
	}
	assert_int_equal(mseg_nft_batch_new(&b, 1), 0);
	assert_int_equal(mseg_nft_batch_elems(b, true, "ep_x_a_in_any", e, 1000), 0);
	assert_int_equal(mseg_nft_batch_finish(b, &buf, &len), 0);
	split(buf, len, &ms);
	assert_true(ms.n > 3);
	for (size_t i = 1; i + 1 < ms.n; i++) {
		struct nftnl_set *s = nftnl_set_alloc();
		struct nftnl_set_elems_iter *it;

		assert_int_equal(elems_parse(ms.m[i], s), 0);
		it = nftnl_set_elems_iter_create(s);
		for (struct nftnl_set_elem *x = nftnl_set_elems_iter_next(it); x;
		     x = nftnl_set_elems_iter_next(it)) {
			uint32_t klen;
			const uint8_t *k = nftnl_set_elem_get(x, NFTNL_SET_ELEM_KEY, &klen);

			assert_memory_equal(k, e[total].key, 8);
			total++;
		}
		nftnl_set_elems_iter_destroy(it);
		nftnl_set_free(s);
	}
	assert_int_equal(total, 1000);
	mseg_nft_batch_free(b);
	free(e);
}

/* The expressions of one NEWRULE message, by name, in order. */
static size_t rule_exprs(const struct nlmsghdr *h, const char **names, size_t max)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nftnl_expr_iter *it;
	size_t n = 0;

	assert_int_equal(nft_type(h), NFT_MSG_NEWRULE);
	assert_int_equal(nftnl_rule_nlmsg_parse(h, r), 0);
	it = nftnl_expr_iter_create(r);
	for (struct nftnl_expr *e = nftnl_expr_iter_next(it); e; e = nftnl_expr_iter_next(it)) {
		assert_true(n < max);
		names[n++] = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
	}
	nftnl_expr_iter_destroy(it);
	nftnl_rule_free(r);
	return n;
}

static void test_rules_round_trip(void **state)
{
	struct mseg_dp_endpoint ep = {
	    .id = 1, .ifname = "veth1", .mac = {2, 0, 0, 0, 0, 1}, .namespace = "x", .name = "a"};
	struct mseg_nft_decision deny = {.dir = MSEG_DIR_INGRESS,
					 .verdict = MSEG_VERDICT_DENY,
					 .reason = MSEG_DROP_ISOLATED,
					 .by = {.kind = MSEG_DECIDED_ISOLATION, .policy = 3}};
	struct mseg_nft_decision allow = {.dir = MSEG_DIR_INGRESS,
					  .verdict = MSEG_VERDICT_ALLOW,
					  .by = {.kind = MSEG_DECIDED_RULE, .policy = 3}};
	const char *names[32];
	struct mseg_nft_batch *b;
	const void *buf;
	size_t len, n;
	struct msgs ms;

	ep.ip =
	    (struct mseg_cidr){.family = MSEG_AF_INET, .prefixlen = 32, .addr = {10, 200, 1, 10}};
	assert_int_equal(mseg_nft_batch_new(&b, 1), 0);
	assert_int_equal(mseg_nft_batch_rules_endpoint(
			     b, "ep_x_a_out", MSEG_DIR_EGRESS, &ep, "drop_spoofed_mac_out",
			     "drop_spoofed_ip_out", "drop_unsupported_l3_out"),
			 0);
	assert_int_equal(mseg_nft_batch_rules_endpoint(b, "ep_x_a_in", MSEG_DIR_INGRESS, NULL, NULL,
						       NULL, "drop_unsupported_l3_in"),
			 0);
	/* egress needs the endpoint for anti-spoofing */
	assert_int_equal(
	    mseg_nft_batch_rules_endpoint(b, "ep_x_a_out", MSEG_DIR_EGRESS, NULL, NULL, NULL, "x"),
	    -EINVAL);
	assert_int_equal(mseg_nft_batch_rules_decision(b, "deny_iso_p3_in", &deny, 7, false), 0);
	assert_int_equal(mseg_nft_batch_rules_decision(b, "allow_p3_ing0_in", &allow, 7, false), 0);
	assert_int_equal(mseg_nft_batch_finish(b, &buf, &len), 0);
	split(buf, len, &ms);
	/* egress: l3, mac, ip, reply, 6 lookups; ingress: l3, reply, 6 lookups (the failed
	 * call added the first rule before refusing); then 2 decisions */
	assert_int_equal(ms.n, 2 + 10 + 8 + 1 + 2);

	/* the MAC check: iiftype ether, link-layer source, != , goto */
	n = rule_exprs(ms.m[2], names, 32);
	assert_int_equal(n, 5);
	assert_string_equal(names[2], "payload");
	assert_string_equal(names[4], "immediate");
	/* the first class lookup: l4proto == icmp, nfproto, saddr, l4proto, byteorder, th,
	 * lookup */
	n = rule_exprs(ms.m[5], names, 32);
	assert_int_equal(n, 9);
	assert_string_equal(names[8], "lookup");
	/* the deny decision: counter, log, drop; the allow: counter, return */
	n = rule_exprs(ms.m[ms.n - 3], names, 32);
	assert_int_equal(n, 3);
	assert_string_equal(names[0], "objref");
	assert_string_equal(names[1], "log");

	struct nftnl_rule *r = nftnl_rule_alloc();
	assert_int_equal(nftnl_rule_nlmsg_parse(ms.m[ms.n - 3], r), 0);
	struct nftnl_expr_iter *it = nftnl_expr_iter_create(r);
	nftnl_expr_iter_next(it);
	struct nftnl_expr *log = nftnl_expr_iter_next(it);
	assert_string_equal(nftnl_expr_get_str(log, NFTNL_EXPR_LOG_PREFIX), "mseg:D:i:2:I:3:i:0");
	assert_int_equal(nftnl_expr_get_u16(log, NFTNL_EXPR_LOG_GROUP), 7);
	nftnl_expr_iter_destroy(it);
	nftnl_rule_free(r);
	n = rule_exprs(ms.m[ms.n - 2], names, 32);
	assert_int_equal(n, 2);
	mseg_nft_batch_free(b);

	/* msegd --flows: the allow gets "ct state new counter log F return" in front, the deny
	 * and audit chains stay as they are */
	assert_int_equal(mseg_nft_batch_new(&b, 1), 0);
	assert_int_equal(mseg_nft_batch_rules_decision(b, "deny_iso_p3_in", &deny, 7, true), 0);
	assert_int_equal(mseg_nft_batch_rules_decision(b, "allow_p3_ing0_in", &allow, 7, true), 0);
	assert_int_equal(mseg_nft_batch_finish(b, &buf, &len), 0);
	split(buf, len, &ms);
	assert_int_equal(ms.n, 2 + 1 + 2);
	n = rule_exprs(ms.m[1], names, 32);
	assert_int_equal(n, 3); /* the deny: unchanged */
	n = rule_exprs(ms.m[2], names, 32);
	assert_int_equal(n, 6);
	assert_string_equal(names[0], "ct");
	assert_string_equal(names[1], "bitwise");
	assert_string_equal(names[2], "cmp");
	assert_string_equal(names[3], "objref");
	assert_string_equal(names[4], "log");
	assert_string_equal(names[5], "immediate");
	r = nftnl_rule_alloc();
	assert_int_equal(nftnl_rule_nlmsg_parse(ms.m[2], r), 0);
	it = nftnl_expr_iter_create(r);
	for (int i = 0; i < 5; i++)
		log = nftnl_expr_iter_next(it);
	assert_string_equal(nftnl_expr_get_str(log, NFTNL_EXPR_LOG_PREFIX), "mseg:F:i:0:R:3:i:0");
	nftnl_expr_iter_destroy(it);
	nftnl_rule_free(r);
	n = rule_exprs(ms.m[3], names, 32);
	assert_int_equal(n, 2); /* then every packet: counter, return */
	mseg_nft_batch_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_batch_framing_and_sequence),
	    cmocka_unit_test(test_table_chain_round_trip),
	    cmocka_unit_test(test_set_and_elements_round_trip),
	    cmocka_unit_test(test_return_elements_and_counted_maps),
	    cmocka_unit_test(test_many_elements_are_chunked),
	    cmocka_unit_test(test_rules_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
