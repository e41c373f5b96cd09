// SPDX-License-Identifier: Apache-2.0
/*
 * The named counters of table inet mseg, read with one NFT_MSG_GETOBJ dump: each decision
 * chain counts the packets it decides in a counter of its own name, and the maps' `return`
 * elements (the plain allows, which have no chain) count theirs in their own counters, named
 * by their comments: together, the per-rule hits that bpf keeps in its rule_hits map.
 */
#include "agent/datapath_nft.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/object.h>
#include <libnftnl/set.h>
#include <libnftnl/udata.h>

#include "lib/macro.h"

#define DUMP_BUF (64 * 1024)

struct dump_ctx {
	mseg_nft_counter_fn fn;
	void *userdata;
	int r;
};

static int obj_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *c = data;
	struct nftnl_obj *o = nftnl_obj_alloc();
	const char *name;
	int r;

	if (!o) {
		c->r = -ENOMEM;
		return MNL_CB_ERROR;
	}
	if (nftnl_obj_nlmsg_parse(nlh, o) < 0 ||
	    nftnl_obj_get_u32(o, NFTNL_OBJ_TYPE) != NFT_OBJECT_COUNTER) {
		nftnl_obj_free(o);
		return MNL_CB_OK; /* not a counter: nothing to report */
	}
	name = nftnl_obj_get_str(o, NFTNL_OBJ_NAME);
	r = name ? c->fn(name, nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_PKTS),
			 nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_BYTES), c->userdata)
		 : 0;
	nftnl_obj_free(o);
	if (r < 0) {
		c->r = r;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

/* Runs a dump request to its end, each message through cb. */
static int dump_run(struct mnl_socket *nl, uint32_t seq, struct nlmsghdr *req, mnl_cb_t cb,
		    struct dump_ctx *c)
{
	/* dump messages come as large as the reader's buffer allows: room for many elements */
	_cleanup_free_ char *buf = malloc(DUMP_BUF);
	ssize_t n;
	int r;

	if (!buf)
		return -ENOMEM;
	if (mnl_socket_sendto(nl, req, req->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(nl, buf, DUMP_BUF);
		if (n < 0)
			return -errno;
		r = mnl_cb_run(buf, (size_t)n, seq, mnl_socket_get_portid(nl), cb, c);
		if (r < 0)
			/* the callback's error, else the kernel's (errno, e.g. ENOENT: no table) */
			return c->r < 0 ? c->r : -errno;
		if (r == MNL_CB_STOP)
			return 0;
	}
}

int mseg_nft_counters_dump(struct mnl_socket *nl, uint32_t seq, mseg_nft_counter_fn fn,
			   void *userdata)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct dump_ctx c = {.fn = fn, .userdata = userdata};
	struct nftnl_obj *o = nftnl_obj_alloc();
	struct nlmsghdr *nlh;

	if (!o)
		return -ENOMEM;
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETOBJ, NFPROTO_INET, NLM_F_DUMP, seq);
	nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, MSEG_NFT_TABLE);
	nftnl_obj_set_u32(o, NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
	nftnl_obj_nlmsg_build_payload(nlh, o);
	nftnl_obj_free(o);
	return dump_run(nl, seq, nlh, obj_cb, &c);
}

/* The comment of an element's userdata (type-length-value records), or NULL. */
static const char *elem_comment(const uint8_t *u, uint32_t len)
{
	for (uint32_t i = 0; i + 2 <= len && i + 2 + u[i + 1] <= len; i += 2u + u[i + 1])
		if (u[i] == NFTNL_UDATA_SET_ELEM_COMMENT && u[i + 1] > 0 &&
		    memchr(u + i + 2, 0, u[i + 1]))
			return (const char *)u + i + 2;
	return NULL;
}

struct ctr {
	uint64_t packets, bytes;
	bool found;
};

static int ctr_cb(struct nftnl_expr *e, void *data)
{
	struct ctr *c = data;
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);

	if (name && !strcmp(name, "counter")) {
		c->packets = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
		c->bytes = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_BYTES);
		c->found = true;
	}
	return 0;
}

static int elems_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *c = data;
	struct nftnl_set *s = nftnl_set_alloc();
	struct nftnl_set_elems_iter *it = NULL;
	int r = 0;

	if (!s) {
		c->r = -ENOMEM;
		return MNL_CB_ERROR;
	}
	if (nftnl_set_elems_nlmsg_parse(nlh, s) < 0) {
		nftnl_set_free(s);
		return MNL_CB_OK; /* nothing we can read */
	}
	it = nftnl_set_elems_iter_create(s);
	if (!it)
		r = -ENOMEM;
	for (struct nftnl_set_elem *e = it ? nftnl_set_elems_iter_next(it) : NULL; e && r == 0;
	     e = nftnl_set_elems_iter_next(it)) {
		uint32_t ulen = 0;
		const uint8_t *u = nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_USERDATA)
				       ? nftnl_set_elem_get(e, NFTNL_SET_ELEM_USERDATA, &ulen)
				       : NULL;
		const char *name = u ? elem_comment(u, ulen) : NULL;
		struct ctr ctr = {0};

		if (!name)
			continue; /* not a commented allow: its decision chain counts it */
		nftnl_set_elem_expr_foreach(e, ctr_cb, &ctr);
		if (ctr.found)
			r = c->fn(name, ctr.packets, ctr.bytes, c->userdata);
	}
	if (it)
		nftnl_set_elems_iter_destroy(it);
	nftnl_set_free(s);
	if (r < 0) {
		c->r = r;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

int mseg_nft_elem_counters_dump(struct mnl_socket *nl, uint32_t seq, const char *set,
				mseg_nft_counter_fn fn, void *userdata)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct dump_ctx c = {.fn = fn, .userdata = userdata};
	struct nlmsghdr *nlh;

	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, NFPROTO_INET, NLM_F_DUMP, seq);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, MSEG_NFT_TABLE);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set);
	return dump_run(nl, seq, nlh, elems_cb, &c);
}

static bool hit_matches(const struct mseg_decider *a, const struct mseg_decider *b)
{
	if (a->kind != b->kind || a->policy != b->policy || a->dir != b->dir)
		return false;
	return a->kind != MSEG_DECIDED_RULE || a->rule == b->rule;
}

bool mseg_nft_hits_find(const struct mseg_nft_hit *hits, size_t n, const struct mseg_decider *by,
			uint64_t *packets, uint64_t *bytes)
{
	for (size_t i = 0; i < n; i++)
		if (hit_matches(&hits[i].by, by)) {
			*packets = hits[i].packets;
			*bytes = hits[i].bytes;
			return true;
		}
	return false;
}

struct hits {
	struct mseg_nft_hit *v;
	size_t n, cap;
};

static int hit_add(const char *name, uint64_t packets, uint64_t bytes, void *userdata)
{
	struct hits *h = userdata;
	struct mseg_decider by;

	/* other counters (special drops, someone else's) and the node defaults name no rule */
	if (mseg_nft_decision_name_parse(name, &by) < 0 ||
	    (by.kind != MSEG_DECIDED_RULE && by.kind != MSEG_DECIDED_ISOLATION))
		return 0;
	/* one rule may decide through several chains (plain and audited variants) */
	for (size_t i = 0; i < h->n; i++)
		if (hit_matches(&h->v[i].by, &by)) {
			h->v[i].packets += packets;
			h->v[i].bytes += bytes;
			return 0;
		}
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 16;
		struct mseg_nft_hit *p = realloc(h->v, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		h->v = p;
		h->cap = cap;
	}
	h->v[h->n++] = (struct mseg_nft_hit){.by = by, .packets = packets, .bytes = bytes};
	return 0;
}

int mseg_nft_hits_dump(struct mnl_socket *nl, uint32_t *seq, const char *const *sets, size_t n_sets,
		       struct mseg_nft_hit **ret, size_t *n_ret)
{
	struct hits h = {0};
	int r = mseg_nft_counters_dump(nl, (*seq)++, hit_add, &h);

	for (size_t i = 0; i < n_sets && r == 0; i++)
		r = mseg_nft_elem_counters_dump(nl, (*seq)++, sets[i], hit_add, &h);
	if (r < 0) {
		free(h.v);
		return r;
	}
	*ret = h.v;
	*n_ret = h.n;
	return 0;
}
