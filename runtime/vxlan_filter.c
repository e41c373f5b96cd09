// SPDX-License-Identifier: Apache-2.0
/*
 * The underlay filter of the overlay: VXLAN packets only from known nodes (DESIGN.md §7).
 * VXLAN itself accepts encapsulated frames from any source address, so without this anyone
 * on the underlay could inject packets into the pod network with any inner source. One table
 * of our own, inet mseg_overlay, changed in one atomic nfnetlink batch (see vxlan.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

#include "macro.h"
#include "runtime/vxlan.h"

#define CHAIN "input"
#define BATCH_SIZE (64u * 1024u)

static int put_payload_cmp(struct nftnl_rule *r, enum nft_payload_bases base, uint32_t off,
			   const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload"), *c = nftnl_expr_alloc("cmp");

	if (!e || !c) {
		nftnl_expr_free(e);
		nftnl_expr_free(c);
		return -ENOMEM;
	}
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	nftnl_rule_add_expr(r, e);
	nftnl_expr_set_u32(c, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(c, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
	nftnl_expr_set(c, NFTNL_EXPR_CMP_DATA, data, len);
	nftnl_rule_add_expr(r, c);
	return 0;
}

static int put_meta_cmp(struct nftnl_rule *r, enum nft_meta_keys key, uint8_t value)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta"), *c = nftnl_expr_alloc("cmp");

	if (!e || !c) {
		nftnl_expr_free(e);
		nftnl_expr_free(c);
		return -ENOMEM;
	}
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	nftnl_rule_add_expr(r, e);
	nftnl_expr_set_u32(c, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(c, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
	nftnl_expr_set(c, NFTNL_EXPR_CMP_DATA, &value, sizeof(value));
	nftnl_rule_add_expr(r, c);
	return 0;
}

/* meta nfproto ipv4 meta l4proto udp udp dport PORT ip saddr != @nodes counter name X drop */
static struct nftnl_rule *build_rule(uint16_t port)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nftnl_expr *e;
	uint16_t nport = htons(port);

	if (!r)
		return NULL;
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, MSEG_OVERLAY_TABLE);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, CHAIN);
	if (put_meta_cmp(r, NFT_META_NFPROTO, NFPROTO_IPV4) < 0 ||
	    put_meta_cmp(r, NFT_META_L4PROTO, IPPROTO_UDP) < 0 ||
	    put_payload_cmp(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, &nport, 2) < 0)
		goto fail;

	e = nftnl_expr_alloc("payload");
	if (!e)
		goto fail;
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_NETWORK_HEADER);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, 12); /* IPv4 source address */
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, 4);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	nftnl_rule_add_expr(r, e);

	e = nftnl_expr_alloc("lookup");
	if (!e)
		goto fail;
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, MSEG_OVERLAY_SET);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
	nftnl_rule_add_expr(r, e);

	e = nftnl_expr_alloc("objref");
	if (!e)
		goto fail;
	nftnl_expr_set_u32(e, NFTNL_EXPR_OBJREF_IMM_TYPE, NFT_OBJECT_COUNTER);
	nftnl_expr_set_str(e, NFTNL_EXPR_OBJREF_IMM_NAME, MSEG_OVERLAY_COUNTER);
	nftnl_rule_add_expr(r, e);

	e = nftnl_expr_alloc("immediate");
	if (!e)
		goto fail;
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, NF_DROP);
	nftnl_rule_add_expr(r, e);
	return r;
fail:
	nftnl_rule_free(r);
	return NULL;
}

/* Sends the batch and drains every ack; the first error wins. */
static int batch_send(struct mnl_nlmsg_batch *b, uint32_t seq_first, uint32_t seq_last)
{
	uint8_t buf[MNL_SOCKET_BUFFER_SIZE] __attribute__((aligned(8)));
	struct mnl_socket *nl;
	struct timeval tv = {.tv_sec = 2};
	int r = 0, err = 0;
	ssize_t n;

	nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = -errno;
		goto out;
	}
	/* Never hang on an answer the kernel does not send. */
	(void)setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (mnl_socket_sendto(nl, mnl_nlmsg_batch_head(b), mnl_nlmsg_batch_size(b)) < 0) {
		r = -errno;
		goto out;
	}
	/* Every message was sent with NLM_F_ACK: one answer each, in order. */
	for (uint32_t acked = seq_first; acked <= seq_last;) {
		struct nlmsghdr *nlh;

		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto out;
		}
		for (nlh = (struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, (int)n);
		     nlh = mnl_nlmsg_next(nlh, (int *)&n)) {
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

				if (e->error && !err)
					err = e->error;
			}
			if (nlh->nlmsg_seq >= acked)
				acked = nlh->nlmsg_seq + 1;
		}
	}
	r = err;
out:
	mnl_socket_close(nl);
	return r;
}

static struct nlmsghdr *msg_start(struct mnl_nlmsg_batch *b, uint16_t type, uint16_t flags,
				  uint32_t seq)
{
	return nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(b), type, NFPROTO_INET,
				     flags | NLM_F_ACK, seq);
}

static void put_set_elems(struct nftnl_set *s, const struct mseg_cidr *nodes, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct nftnl_set_elem *el = nftnl_set_elem_alloc();

		if (!el)
			continue;
		nftnl_set_elem_set(el, NFTNL_SET_ELEM_KEY, nodes[i].addr, 4);
		nftnl_set_elem_add(s, el);
	}
}

int mseg_overlay_filter_apply(uint16_t port, const struct mseg_cidr *nodes, size_t n_nodes)
{
	_cleanup_free_ char *buf = NULL;
	struct mnl_nlmsg_batch *b = NULL;
	struct nftnl_table *t = NULL;
	struct nftnl_chain *c = NULL;
	struct nftnl_obj *o = NULL;
	struct nftnl_set *s = NULL;
	struct nftnl_rule *rl = NULL;
	uint32_t seq = (uint32_t)time(NULL), seq_first;
	int r = -ENOMEM;

	for (size_t i = 0; i < n_nodes; i++)
		if (nodes[i].family != MSEG_AF_INET || nodes[i].prefixlen != 32)
			return -EINVAL;
	/* Each element costs well under 64 bytes; the rest is a few hundred. */
	if (n_nodes > (BATCH_SIZE - 4096) / 64)
		return -E2BIG;
	buf = malloc(BATCH_SIZE);
	b = buf ? mnl_nlmsg_batch_start(buf, BATCH_SIZE) : NULL;
	t = nftnl_table_alloc();
	c = nftnl_chain_alloc();
	o = nftnl_obj_alloc();
	s = nftnl_set_alloc();
	rl = build_rule(port ? port : MSEG_VXLAN_PORT);
	if (!b || !t || !c || !o || !s || !rl)
		goto out;

	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, MSEG_OVERLAY_TABLE);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_str(s, NFTNL_SET_TABLE, MSEG_OVERLAY_TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, MSEG_OVERLAY_SET);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, 7); /* ipv4_addr, as nft names it */
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, 4);
	nftnl_set_set_u32(s, NFTNL_SET_ID, 1);
	nftnl_obj_set_u32(o, NFTNL_OBJ_FAMILY, NFPROTO_INET);
	nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, MSEG_OVERLAY_TABLE);
	nftnl_obj_set_str(o, NFTNL_OBJ_NAME, MSEG_OVERLAY_COUNTER);
	nftnl_obj_set_u32(o, NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, MSEG_OVERLAY_TABLE);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, CHAIN);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, NF_INET_LOCAL_IN);
	/* A drop in any base chain is final, so the priority only makes it early: mangle. */
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, -150);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);

	seq_first = seq;
	nftnl_batch_begin(mnl_nlmsg_batch_current(b), seq++);
	mnl_nlmsg_batch_next(b);
	/* CREATE without EXCL everywhere: the first apply makes them, later ones reuse them. */
	nftnl_table_nlmsg_build_payload(msg_start(b, NFT_MSG_NEWTABLE, NLM_F_CREATE, seq++), t);
	mnl_nlmsg_batch_next(b);
	nftnl_obj_nlmsg_build_payload(msg_start(b, NFT_MSG_NEWOBJ, NLM_F_CREATE, seq++), o);
	mnl_nlmsg_batch_next(b);
	nftnl_set_nlmsg_build_payload(msg_start(b, NFT_MSG_NEWSET, NLM_F_CREATE, seq++), s);
	mnl_nlmsg_batch_next(b);
	/* A set message with no elements flushes the set; then the current node list. */
	nftnl_set_elems_nlmsg_build_payload(msg_start(b, NFT_MSG_DELSETELEM, 0, seq++), s);
	mnl_nlmsg_batch_next(b);
	if (n_nodes) {
		put_set_elems(s, nodes, n_nodes);
		nftnl_set_elems_nlmsg_build_payload(
		    msg_start(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, seq++), s);
		mnl_nlmsg_batch_next(b);
	}
	nftnl_chain_nlmsg_build_payload(msg_start(b, NFT_MSG_NEWCHAIN, NLM_F_CREATE, seq++), c);
	mnl_nlmsg_batch_next(b);
	/* A rule message naming only the chain deletes all its rules: the rule is rebuilt. */
	{
		struct nftnl_rule *flush = nftnl_rule_alloc();

		if (!flush)
			goto out;
		nftnl_rule_set_u32(flush, NFTNL_RULE_FAMILY, NFPROTO_INET);
		nftnl_rule_set_str(flush, NFTNL_RULE_TABLE, MSEG_OVERLAY_TABLE);
		nftnl_rule_set_str(flush, NFTNL_RULE_CHAIN, CHAIN);
		nftnl_rule_nlmsg_build_payload(msg_start(b, NFT_MSG_DELRULE, 0, seq++), flush);
		mnl_nlmsg_batch_next(b);
		nftnl_rule_free(flush);
	}
	nftnl_rule_nlmsg_build_payload(
	    msg_start(b, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, seq++), rl);
	mnl_nlmsg_batch_next(b);
	nftnl_batch_end(mnl_nlmsg_batch_current(b), seq);
	mnl_nlmsg_batch_next(b);
	/* Batch begin/end carry no ack; the messages in between answer with seq_first+1.. */
	r = batch_send(b, seq_first + 1, seq - 1);
out:
	if (b)
		mnl_nlmsg_batch_stop(b);
	nftnl_table_free(t);
	nftnl_chain_free(c);
	nftnl_obj_free(o);
	nftnl_set_free(s);
	nftnl_rule_free(rl);
	return r;
}

int mseg_overlay_filter_remove(void)
{
	_cleanup_free_ char *buf = malloc(4096);
	struct mnl_nlmsg_batch *b;
	struct nftnl_table *t;
	uint32_t seq = (uint32_t)time(NULL);
	int r;

	if (!buf)
		return -ENOMEM;
	t = nftnl_table_alloc();
	if (!t)
		return -ENOMEM;
	b = mnl_nlmsg_batch_start(buf, 4096);
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, MSEG_OVERLAY_TABLE);
	nftnl_batch_begin(mnl_nlmsg_batch_current(b), seq);
	mnl_nlmsg_batch_next(b);
	nftnl_table_nlmsg_build_payload(msg_start(b, NFT_MSG_DELTABLE, 0, seq + 1), t);
	mnl_nlmsg_batch_next(b);
	nftnl_batch_end(mnl_nlmsg_batch_current(b), seq + 2);
	mnl_nlmsg_batch_next(b);
	r = batch_send(b, seq + 1, seq + 1);
	mnl_nlmsg_batch_stop(b);
	nftnl_table_free(t);
	return r == -ENOENT ? 0 : r;
}

struct counter_reply {
	uint64_t packets, bytes;
	bool found;
};

static int counter_cb(const struct nlmsghdr *nlh, void *data)
{
	struct counter_reply *cr = data;
	struct nftnl_obj *o = nftnl_obj_alloc();

	if (!o)
		return MNL_CB_ERROR;
	if (nftnl_obj_nlmsg_parse(nlh, o) == 0) {
		cr->packets = nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_PKTS);
		cr->bytes = nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_BYTES);
		cr->found = true;
	}
	nftnl_obj_free(o);
	return MNL_CB_OK;
}

int mseg_overlay_filter_counter(uint64_t *packets, uint64_t *bytes)
{
	uint8_t buf[MNL_SOCKET_BUFFER_SIZE] __attribute__((aligned(8)));
	struct counter_reply cr = {0};
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	struct nftnl_obj *o;
	uint32_t seq = (uint32_t)time(NULL), portid;
	ssize_t n;
	int r;

	o = nftnl_obj_alloc();
	if (!o)
		return -ENOMEM;
	nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, MSEG_OVERLAY_TABLE);
	nftnl_obj_set_str(o, NFTNL_OBJ_NAME, MSEG_OVERLAY_COUNTER);
	nftnl_obj_set_u32(o, NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
	nlh = nftnl_nlmsg_build_hdr((char *)buf, NFT_MSG_GETOBJ, NFPROTO_INET, NLM_F_ACK, seq);
	nftnl_obj_nlmsg_build_payload(nlh, o);
	nftnl_obj_free(o);

	nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		r = -errno;
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	do {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0 && errno == EINTR) {
			r = MNL_CB_OK;
			continue;
		}
		if (n < 0) {
			r = -errno;
			goto out;
		}
		errno = 0;
		r = mnl_cb_run(buf, (size_t)n, seq, portid, counter_cb, &cr);
		if (r < 0) {
			r = errno ? -errno : -EIO;
			goto out;
		}
	} while (r == MNL_CB_OK && !cr.found);
	r = cr.found ? 0 : -ENOENT;
	if (packets)
		*packets = cr.packets;
	if (bytes)
		*bytes = cr.bytes;
out:
	mnl_socket_close(nl);
	return r;
}
