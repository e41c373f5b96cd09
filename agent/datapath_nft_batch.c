// SPDX-License-Identifier: Apache-2.0
/*
 * nfnetlink batches for table inet mseg: builders that serialise tables, chains, sets,
 * elements and counters into one growing buffer (no kernel needed, so unit tests parse them
 * back), and the one function that sends a batch and maps the kernel's answers back to the
 * objects by sequence number, as nftables' src/mnl.c does.
 */
#include "agent/datapath_nft.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include "lib/macro.h"

/* Room reserved before building one message other than elements (libnftnl writes without
 * bounds: a chain, rule or set message is well under 1 KiB); element messages reserve their
 * own. Small, so that the buffer of a small change stays on the heap (no mmap, no faults). */
#define MSG_ROOM (32u * 1024u)
/* Elements per NEWSETELEM message: the kernel takes a list, so a few large messages instead
 * of one per element (nft chunks by its 128 KiB batch page in the same way) */
#define ELEMS_PER_MSG 256

struct mseg_nft_batch {
	char *buf;
	size_t len, cap;
	uint32_t seq_first, seq; /* seq: the next sequence number */
	char **what;		 /* [seq - seq_first]: the object of that message */
	size_t n_what, cap_what;
	bool finished;
	uint32_t set_id;
};

static int reserve(struct mseg_nft_batch *b, size_t need)
{
	if (b->cap - b->len >= need)
		return 0;
	size_t cap = b->cap ? b->cap : MSG_ROOM * 2;
	while (cap - b->len < need)
		cap *= 2;
	char *p = realloc(b->buf, cap);
	if (!p)
		return -ENOMEM;
	/* libnftnl builders write headers with explicit lengths; zero the new room so that
	 * padding bytes are defined (the buffer is compared bytewise in tests) */
	memset(p + b->cap, 0, cap - b->cap);
	b->buf = p;
	b->cap = cap;
	return 0;
}

static int remember(struct mseg_nft_batch *b, uint32_t seq, const char *kind, const char *name)
{
	if (b->n_what == b->cap_what) {
		size_t cap = b->cap_what ? b->cap_what * 2 : 64;
		char **w = realloc(b->what, cap * sizeof(*w));

		if (!w)
			return -ENOMEM;
		b->what = w;
		b->cap_what = cap;
	}
	char *s = NULL;
	if (asprintf(&s, "%s%s%s", kind, name ? " " : "", name ? name : "") < 0)
		return -ENOMEM;
	b->what[seq - b->seq_first] = s;
	b->n_what = seq - b->seq_first + 1;
	return 0;
}

int mseg_nft_batch_new(struct mseg_nft_batch **ret, uint32_t seq_start)
{
	struct mseg_nft_batch *b = calloc(1, sizeof(*b));
	int r;

	if (!b)
		return -ENOMEM;
	b->seq_first = b->seq = seq_start;
	r = reserve(b, MSG_ROOM);
	if (r == 0)
		r = remember(b, b->seq, "batch begin", NULL);
	if (r < 0) {
		mseg_nft_batch_free(b);
		return r;
	}
	nftnl_batch_begin(b->buf + b->len, b->seq++);
	b->len += mnl_nlmsg_size(sizeof(struct nfgenmsg));
	*ret = b;
	return 0;
}

void mseg_nft_batch_free(struct mseg_nft_batch *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n_what; i++)
		free(b->what[i]);
	free(b->what);
	free(b->buf);
	free(b);
}

size_t mseg_nft_batch_count(const struct mseg_nft_batch *b)
{
	return b->seq - b->seq_first - 1 - (b->finished ? 1 : 0);
}

int mseg_nft_batch_finish(struct mseg_nft_batch *b, const void **buf, size_t *len)
{
	int r;

	if (!b->finished) {
		r = reserve(b, MSG_ROOM);
		if (r == 0)
			r = remember(b, b->seq, "batch end", NULL);
		if (r < 0)
			return r;
		nftnl_batch_end(b->buf + b->len, b->seq++);
		b->len += mnl_nlmsg_size(sizeof(struct nfgenmsg));
		b->finished = true;
	}
	*buf = b->buf;
	*len = b->len;
	return 0;
}

const char *mseg_nft_batch_what(const struct mseg_nft_batch *b, uint32_t seq)
{
	if (seq < b->seq_first || seq - b->seq_first >= b->n_what)
		return NULL;
	return b->what[seq - b->seq_first];
}

/* Starts one message: room, header, and what it is about. */
static int msg_begin(struct mseg_nft_batch *b, uint16_t type, uint16_t flags, struct nlmsghdr **nlh,
		     const char *kind, const char *name)
{
	int r;

	if (b->finished)
		return -EINVAL;
	r = reserve(b, MSG_ROOM);
	if (r < 0)
		return r;
	r = remember(b, b->seq, kind, name);
	if (r < 0)
		return r;
	*nlh = nftnl_nlmsg_build_hdr(b->buf + b->len, type, NFPROTO_INET, flags, b->seq++);
	return 0;
}

static void msg_end(struct mseg_nft_batch *b, struct nlmsghdr *nlh)
{
	b->len += NLMSG_ALIGN(nlh->nlmsg_len);
}

/* ---- tables, chains, counters ------------------------------------------------------------ */

static int table_msg(struct mseg_nft_batch *b, uint16_t type, uint16_t flags)
{
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;
	int r;

	if (!t)
		return -ENOMEM;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, MSEG_NFT_TABLE);
	r = msg_begin(b, type, flags, &nlh, "table inet", MSEG_NFT_TABLE);
	if (r == 0) {
		nftnl_table_nlmsg_build_payload(nlh, t);
		msg_end(b, nlh);
	}
	nftnl_table_free(t);
	return r;
}

int mseg_nft_batch_table_add(struct mseg_nft_batch *b)
{
	return table_msg(b, NFT_MSG_NEWTABLE, NLM_F_CREATE);
}

int mseg_nft_batch_table_del(struct mseg_nft_batch *b)
{
	return table_msg(b, NFT_MSG_DELTABLE, 0);
}

static int put_comment(struct nftnl_udata_buf **ret, uint8_t type, const char *comment)
{
	struct nftnl_udata_buf *u = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);
	char c[NFTNL_UDATA_COMMENT_MAXLEN];

	if (!u)
		return -ENOMEM;
	/* nft rejects longer comments; cut, as a comment is for people only */
	snprintf(c, sizeof(c), "%s", comment);
	if (!nftnl_udata_put_strz(u, type, c)) {
		nftnl_udata_buf_free(u);
		return -ENOBUFS;
	}
	*ret = u;
	return 0;
}

int mseg_nft_batch_chain_add(struct mseg_nft_batch *b, const char *name, int hook, int prio,
			     const char *comment)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nftnl_udata_buf *u = NULL;
	struct nlmsghdr *nlh;
	int r = 0;

	if (!c)
		return -ENOMEM;
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, MSEG_NFT_TABLE);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	if (hook >= 0) {
		nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, (uint32_t)hook);
		nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, prio);
		nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
		nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	}
	if (comment) {
		r = put_comment(&u, NFTNL_UDATA_CHAIN_COMMENT, comment);
		if (r == 0)
			nftnl_chain_set_data(c, NFTNL_CHAIN_USERDATA, nftnl_udata_buf_data(u),
					     nftnl_udata_buf_len(u));
	}
	if (r == 0)
		r = msg_begin(b, NFT_MSG_NEWCHAIN, NLM_F_CREATE, &nlh, "chain", name);
	if (r == 0) {
		nftnl_chain_nlmsg_build_payload(nlh, c);
		msg_end(b, nlh);
	}
	nftnl_udata_buf_free(u);
	nftnl_chain_free(c);
	return r;
}

int mseg_nft_batch_chain_flush(struct mseg_nft_batch *b, const char *name)
{
	struct nftnl_rule *rl = nftnl_rule_alloc();
	struct nlmsghdr *nlh;
	int r;

	if (!rl)
		return -ENOMEM;
	nftnl_rule_set_str(rl, NFTNL_RULE_TABLE, MSEG_NFT_TABLE);
	nftnl_rule_set_str(rl, NFTNL_RULE_CHAIN, name);
	r = msg_begin(b, NFT_MSG_DELRULE, 0, &nlh, "flush of chain", name);
	if (r == 0) {
		nftnl_rule_nlmsg_build_payload(nlh, rl);
		msg_end(b, nlh);
	}
	nftnl_rule_free(rl);
	return r;
}

int mseg_nft_batch_chain_del(struct mseg_nft_batch *b, const char *name)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nlmsghdr *nlh;
	int r;

	if (!c)
		return -ENOMEM;
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, MSEG_NFT_TABLE);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	r = msg_begin(b, NFT_MSG_DELCHAIN, 0, &nlh, "deletion of chain", name);
	if (r == 0) {
		nftnl_chain_nlmsg_build_payload(nlh, c);
		msg_end(b, nlh);
	}
	nftnl_chain_free(c);
	return r;
}

static int counter_msg(struct mseg_nft_batch *b, const char *name, bool add)
{
	struct nftnl_obj *o = nftnl_obj_alloc();
	struct nlmsghdr *nlh;
	int r;

	if (!o)
		return -ENOMEM;
	nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, MSEG_NFT_TABLE);
	nftnl_obj_set_str(o, NFTNL_OBJ_NAME, name);
	nftnl_obj_set_u32(o, NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
	r = msg_begin(b, add ? NFT_MSG_NEWOBJ : NFT_MSG_DELOBJ, add ? NLM_F_CREATE : 0, &nlh,
		      add ? "counter" : "deletion of counter", name);
	if (r == 0) {
		nftnl_obj_nlmsg_build_payload(nlh, o);
		msg_end(b, nlh);
	}
	nftnl_obj_free(o);
	return r;
}

int mseg_nft_batch_counter_add(struct mseg_nft_batch *b, const char *name)
{
	return counter_msg(b, name, true);
}

int mseg_nft_batch_counter_del(struct mseg_nft_batch *b, const char *name)
{
	return counter_msg(b, name, false);
}

int mseg_nft_batch_rule_append(struct mseg_nft_batch *b, struct nftnl_rule *rl, const char *chain)
{
	struct nlmsghdr *nlh;
	int r;

	nftnl_rule_set_str(rl, NFTNL_RULE_TABLE, MSEG_NFT_TABLE);
	nftnl_rule_set_str(rl, NFTNL_RULE_CHAIN, chain);
	r = msg_begin(b, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, &nlh, "rule in chain",
		      chain);
	if (r < 0)
		return r;
	nftnl_rule_nlmsg_build_payload(nlh, rl);
	msg_end(b, nlh);
	return 0;
}

/* ---- sets and elements ------------------------------------------------------------------- */

/* nftables' datatype numbers (include/datatype.h) and how it combines them for a concat:
 * they only tell `nft list` how to print keys. */
#define NFT_TYPE_NFPROTO 2
#define NFT_TYPE_IPADDR 7
#define NFT_TYPE_INET_PROTOCOL 12
#define NFT_TYPE_INET_SERVICE 13
#define NFT_TYPE_IFNAME 41
#define NFT_TYPE_BITS 6
#define BYTEORDER_HOST 1

struct set_layout {
	uint32_t key_type;
	uint32_t key_len;
	uint8_t fields[3];
	uint8_t n_fields;
	uint32_t key_byteorder;
};

static const struct set_layout layouts[] = {
    [MSEG_NFT_SET_IFNAME] = {NFT_TYPE_IFNAME, 16, {0}, 0, BYTEORDER_HOST},
    [MSEG_NFT_SET_ADDR_PROTO_PORT] = {(NFT_TYPE_IPADDR << (2 * NFT_TYPE_BITS)) |
					  (NFT_TYPE_INET_PROTOCOL << NFT_TYPE_BITS) |
					  NFT_TYPE_INET_SERVICE,
				      12,
				      {4, 1, 2},
				      3,
				      0},
    [MSEG_NFT_SET_ADDR_PROTO] =
	{(NFT_TYPE_IPADDR << NFT_TYPE_BITS) | NFT_TYPE_INET_PROTOCOL, 8, {4, 1}, 2, 0},
    [MSEG_NFT_SET_PROTO_PORT] =
	{(NFT_TYPE_INET_PROTOCOL << NFT_TYPE_BITS) | NFT_TYPE_INET_SERVICE, 8, {1, 2}, 2, 0},
    [MSEG_NFT_SET_NFPROTO] = {NFT_TYPE_NFPROTO, 1, {0}, 0, 0},
};

static struct nftnl_set *set_new(const char *name)
{
	struct nftnl_set *s = nftnl_set_alloc();

	if (!s)
		return NULL;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, MSEG_NFT_TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	return s;
}

int mseg_nft_batch_set_add(struct mseg_nft_batch *b, const char *name, enum mseg_nft_set_kind kind,
			   const char *comment)
{
	const struct set_layout *l = &layouts[kind];
	struct nftnl_set *s = set_new(name);
	struct nftnl_udata_buf *u = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);
	char c[NFTNL_UDATA_COMMENT_MAXLEN];
	struct nlmsghdr *nlh;
	uint32_t flags = NFT_SET_MAP;
	int r = -ENOMEM;

	if (!s || !u)
		goto out;
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, l->key_type);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, l->key_len);
	nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
	/* a verdict's length is the kernel's business; nft sends 0 */
	nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, 0);
	/* required by the kernel: names a set within its transaction */
	nftnl_set_set_u32(s, NFTNL_SET_ID, ++b->set_id);
	if (l->n_fields) {
		/* concatenated ranges: the pipapo set type, which takes port ranges and
		 * address intervals in one lookup */
		flags |= NFT_SET_INTERVAL | NFT_SET_CONCAT;
		nftnl_set_set_data(s, NFTNL_SET_DESC_CONCAT, l->fields, l->n_fields);
	}
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, flags);
	if (kind != MSEG_NFT_SET_IFNAME) {
		/* every element counts its packets: a plain allow is a `return` element, and
		 * its counter is where that rule's hits are read (no chain per allow rule) */
		struct nftnl_expr *ctr = nftnl_expr_alloc("counter");

		if (!ctr)
			goto out;
		nftnl_set_add_expr(s, ctr); /* the set owns it now */
	}
	nftnl_udata_put_u32(u, NFTNL_UDATA_SET_KEYBYTEORDER, l->key_byteorder);
	nftnl_udata_put_u32(u, NFTNL_UDATA_SET_DATABYTEORDER, 0);
	if (comment) {
		snprintf(c, sizeof(c), "%s", comment);
		nftnl_udata_put_strz(u, NFTNL_UDATA_SET_COMMENT, c);
	}
	nftnl_set_set_data(s, NFTNL_SET_USERDATA, nftnl_udata_buf_data(u), nftnl_udata_buf_len(u));
	r = msg_begin(b, NFT_MSG_NEWSET, NLM_F_CREATE, &nlh, "map", name);
	if (r == 0) {
		nftnl_set_nlmsg_build_payload(nlh, s);
		msg_end(b, nlh);
	}
out:
	nftnl_udata_buf_free(u);
	nftnl_set_free(s);
	return r;
}

int mseg_nft_batch_set_del(struct mseg_nft_batch *b, const char *name)
{
	struct nftnl_set *s = set_new(name);
	struct nlmsghdr *nlh;
	int r;

	if (!s)
		return -ENOMEM;
	r = msg_begin(b, NFT_MSG_DELSET, 0, &nlh, "deletion of map", name);
	if (r == 0) {
		nftnl_set_nlmsg_build_payload(nlh, s);
		msg_end(b, nlh);
	}
	nftnl_set_free(s);
	return r;
}

int mseg_nft_batch_set_flush(struct mseg_nft_batch *b, const char *name)
{
	struct nftnl_set *s = set_new(name);
	struct nlmsghdr *nlh;
	int r;

	if (!s)
		return -ENOMEM;
	/* DELSETELEM without elements empties the set */
	r = msg_begin(b, NFT_MSG_DELSETELEM, 0, &nlh, "flush of map", name);
	if (r == 0) {
		nftnl_set_elems_nlmsg_build_payload(nlh, s);
		msg_end(b, nlh);
	}
	nftnl_set_free(s);
	return r;
}

/* The most one element takes in a message: key and key_end nests, a verdict naming a chain,
 * a comment naming the decision, and the attribute headers around them. */
#define ELEM_ROOM (3 * 32 + 2 * (8 + MSEG_NFT_NAME_MAX))

static void put_data(struct nlmsghdr *nlh, uint16_t type, const void *v, size_t len)
{
	struct nlattr *nest = mnl_attr_nest_start(nlh, type);

	mnl_attr_put(nlh, NFTA_DATA_VALUE, len, v);
	mnl_attr_nest_end(nlh, nest);
}

/*
 * One element message, written attribute by attribute as libnftnl would (so that it parses
 * them back): at 10,000 elements, libnftnl's object per element (allocations, string copies)
 * cost as much as the kernel's work on them.
 */
static int elems_chunk(struct mseg_nft_batch *b, bool add, const char *set,
		       const struct mseg_nft_elem *elems, size_t n)
{
	struct nlmsghdr *nlh;
	struct nlattr *list;
	int r;

	r = reserve(b, MSG_ROOM + n * ELEM_ROOM);
	if (r == 0)
		r = msg_begin(b, add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM,
			      add ? NLM_F_CREATE : 0, &nlh,
			      add ? "elements of map" : "deletion of elements of map", set);
	if (r < 0)
		return r;
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, MSEG_NFT_TABLE);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set);
	list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
	for (size_t i = 0; i < n; i++) {
		const struct mseg_nft_elem *e = &elems[i];
		struct nlattr *el = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);

		put_data(nlh, NFTA_SET_ELEM_KEY, e->key, e->key_len);
		if (e->key_len == 8 || e->key_len == 12)
			put_data(nlh, NFTA_SET_ELEM_KEY_END, e->key_end, e->key_len);
		if (add) {
			struct nlattr *data = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_DATA);
			struct nlattr *verdict = mnl_attr_nest_start(nlh, NFTA_DATA_VERDICT);
			int code = e->ret ? NFT_RETURN : e->jump ? NFT_JUMP : NFT_GOTO;

			mnl_attr_put_u32(nlh, NFTA_VERDICT_CODE, htonl((uint32_t)code));
			if (!e->ret)
				mnl_attr_put_strz(nlh, NFTA_VERDICT_CHAIN, e->chain);
			mnl_attr_nest_end(nlh, verdict);
			mnl_attr_nest_end(nlh, data);
			if (e->ret) {
				/* the decision it stands for, as nft prints element comments:
				 * where the rule hits of its counter belong */
				struct {
					uint8_t type, len;
					char s[MSEG_NFT_NAME_MAX];
				} u;
				size_t l = strnlen(e->chain, NFTNL_UDATA_COMMENT_MAXLEN - 1);

				u.type = NFTNL_UDATA_SET_ELEM_COMMENT;
				u.len = (uint8_t)(l + 1);
				memcpy(u.s, e->chain, l);
				u.s[l] = 0;
				mnl_attr_put(nlh, NFTA_SET_ELEM_USERDATA, 2 + l + 1, &u);
			}
		}
		mnl_attr_nest_end(nlh, el);
	}
	mnl_attr_nest_end(nlh, list);
	msg_end(b, nlh);
	return 0;
}

int mseg_nft_batch_elems(struct mseg_nft_batch *b, bool add, const char *set,
			 const struct mseg_nft_elem *elems, size_t n)
{
	for (size_t i = 0; i < n; i += ELEMS_PER_MSG) {
		size_t k = n - i < ELEMS_PER_MSG ? n - i : ELEMS_PER_MSG;
		int r = elems_chunk(b, add, set, elems + i, k);

		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- element keys ------------------------------------------------------------------------ */

/* Every field of a concatenation occupies whole 32-bit registers; addresses and ports are in
 * network order, as the payload expressions load them. */
static void put_addr(uint8_t *p, uint32_t host)
{
	p[0] = (uint8_t)(host >> 24);
	p[1] = (uint8_t)(host >> 16);
	p[2] = (uint8_t)(host >> 8);
	p[3] = (uint8_t)host;
}

static void put_port(uint8_t *p, uint16_t port)
{
	p[0] = (uint8_t)(port >> 8);
	p[1] = (uint8_t)port;
}

/* A key constructor starts a new element: a goto until the caller says otherwise. */
static void elem_clear(struct mseg_nft_elem *e)
{
	memset(e->key, 0, sizeof(e->key));
	memset(e->key_end, 0, sizeof(e->key_end));
	e->jump = false;
	e->ret = false;
}

void mseg_nft_elem_addr_proto_port(struct mseg_nft_elem *e, uint32_t addr_lo, uint32_t addr_hi,
				   uint8_t proto, uint16_t port_lo, uint16_t port_hi)
{
	elem_clear(e);
	put_addr(e->key, addr_lo);
	put_addr(e->key_end, addr_hi);
	e->key[4] = e->key_end[4] = proto;
	put_port(e->key + 8, port_lo);
	put_port(e->key_end + 8, port_hi);
	e->key_len = 12;
}

void mseg_nft_elem_addr_proto(struct mseg_nft_elem *e, uint32_t addr_lo, uint32_t addr_hi,
			      uint8_t proto_lo, uint8_t proto_hi)
{
	elem_clear(e);
	put_addr(e->key, addr_lo);
	put_addr(e->key_end, addr_hi);
	e->key[4] = proto_lo;
	e->key_end[4] = proto_hi;
	e->key_len = 8;
}

void mseg_nft_elem_proto_port(struct mseg_nft_elem *e, uint8_t proto, uint16_t port_lo,
			      uint16_t port_hi)
{
	elem_clear(e);
	e->key[0] = e->key_end[0] = proto;
	put_port(e->key + 4, port_lo);
	put_port(e->key_end + 4, port_hi);
	e->key_len = 8;
}

void mseg_nft_elem_nfproto(struct mseg_nft_elem *e, uint8_t nfproto)
{
	elem_clear(e);
	e->key[0] = nfproto;
	e->key_len = 1;
}

void mseg_nft_elem_ifname(struct mseg_nft_elem *e, const char *ifname)
{
	elem_clear(e);
	strncpy((char *)e->key, ifname, IF_NAMESIZE - 1);
	e->key_len = 16;
}

int mseg_nft_elem_cmp(const struct mseg_nft_elem *a, const struct mseg_nft_elem *b)
{
	int c;

	if (a->key_len != b->key_len)
		return a->key_len < b->key_len ? -1 : 1;
	c = memcmp(a->key, b->key, a->key_len);
	if (c)
		return c;
	c = memcmp(a->key_end, b->key_end, a->key_len);
	if (c)
		return c;
	if (a->jump != b->jump)
		return a->jump ? 1 : -1;
	if (a->ret != b->ret)
		return a->ret ? 1 : -1;
	return strcmp(a->chain, b->chain);
}

/* ---- sending ----------------------------------------------------------------------------- */

int mseg_nft_batch_send(struct mseg_nft_batch *b, struct mnl_socket *nl, char *err, size_t errlen)
{
	const void *buf;
	size_t len;
	int fd = mnl_socket_get_fd(nl), first_err = 0, r;
	uint32_t err_seq = 0;
	char rbuf[64 * 1024];

	r = mseg_nft_batch_finish(b, &buf, &len);
	if (r < 0)
		return r;
	/* The kernel takes a batch as one netlink message train in one skb: the send buffer
	 * must hold all of it (root may raise it past the sysctl limit). */
	int sndbuf = (int)(len + 64 * 1024);
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	/* Every message asks for an ack, and all acks are queued before sendmsg() returns: the
	 * receive buffer must hold one small skb per message (its truesize, not the 36 bytes of
	 * the ack), or a large batch fails with ENOBUFS after the kernel applied it. */
	int rcvbuf = (int)((b->seq - b->seq_first + 16) * 1024);
	if (rcvbuf > 256 * 1024 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (mnl_socket_sendto(nl, buf, len) < 0) {
		r = -errno;
		snprintf(err, errlen, "sending the batch (%zu bytes): %s", len, strerror(-r));
		return r;
	}
	/* nfnetlink processes the whole batch inside sendmsg(): every answer is queued by now.
	 * Drain them all, keeping the first error and the message it answers. */
	for (;;) {
		ssize_t n = recv(fd, rbuf, sizeof(rbuf), MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			r = -errno;
			snprintf(err, errlen, "reading the kernel's answers: %s", strerror(-r));
			return r;
		}
		int left = (int)n;
		for (const struct nlmsghdr *h = (const struct nlmsghdr *)rbuf;
		     mnl_nlmsg_ok(h, left); h = mnl_nlmsg_next(h, &left)) {
			if (h->nlmsg_type != NLMSG_ERROR)
				continue;
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(h);
			if (e->error && !first_err) {
				first_err = e->error;
				err_seq = e->msg.nlmsg_seq;
			}
		}
	}
	if (first_err) {
		const char *what = mseg_nft_batch_what(b, err_seq);

		snprintf(err, errlen, "%s: %s", what ? what : "unknown object",
			 strerror(-first_err));
		return first_err;
	}
	return 0;
}
