// SPDX-License-Identifier: Apache-2.0
/*
 * The nftables backend (msegd --datapath nft): the compiled rule table of policy/compile.h as
 * one table inet mseg, changed only through batch transactions sized to what changed.
 *
 * The backend keeps a mirror of what it programmed: the table entries, defaults and ipcache
 * it was given, and per endpoint map the exact elements in the kernel. A change computes the
 * new elements of the maps it touches, sends the difference (deletions, then additions) in
 * one batch, and only then commits the mirror; a failed batch leaves kernel and mirror as
 * they were, since the kernel aborts the whole transaction.
 */
#include "agent/datapath_nft.h"
#include "agent/datapath_nft_internal.h"

#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/table.h>

#include "agent/nflog.h"
#include "bpf/abi.h"
#include "lib/macro.h"
#include "policy/cidr.h"

const char *const mseg_nft_map_suffix[N_MAPS] = {"_cls", "_clsany", "_any", "_rest"};
static const enum mseg_nft_set_kind map_set_kind[N_MAPS] = {
    MSEG_NFT_SET_ADDR_PROTO_PORT, MSEG_NFT_SET_ADDR_PROTO, MSEG_NFT_SET_PROTO_PORT,
    MSEG_NFT_SET_NFPROTO};

/* The drops no policy decides, made once with the table. */
static const struct mseg_nft_decision special_decs[] = {
    {.dir = MSEG_DIR_EGRESS, .reason = MSEG_DROP_SPOOFED_MAC, .special = true},
    {.dir = MSEG_DIR_EGRESS, .reason = MSEG_DROP_SPOOFED_IP, .special = true},
    {.dir = MSEG_DIR_EGRESS, .reason = MSEG_DROP_UNSUPPORTED_L3, .special = true},
    {.dir = MSEG_DIR_INGRESS, .reason = MSEG_DROP_UNSUPPORTED_L3, .special = true},
    {.dir = MSEG_DIR_EGRESS, .reason = MSEG_DROP_NO_POLICY, .special = true},
    {.dir = MSEG_DIR_INGRESS, .reason = MSEG_DROP_NO_POLICY, .special = true},
};

/* ---- small containers -------------------------------------------------------------------- */

static int elemvec_push(struct elemvec *v, const struct mseg_nft_elem *e)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 8;
		struct mseg_nft_elem *p = realloc(v->v, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		v->v = p;
		v->cap = cap;
	}
	v->v[v->n++] = *e;
	return 0;
}

static void elemvec_free(struct elemvec *v)
{
	free(v->v);
	*v = (struct elemvec){0};
}

static int elem_qcmp(const void *a, const void *b)
{
	return mseg_nft_elem_cmp(a, b);
}

static struct nft_ep *ep_find(struct mseg_datapath *dp, uint32_t id, size_t *idx)
{
	for (size_t i = 0; i < dp->n_eps; i++)
		if (dp->eps[i]->ep.id == id) {
			if (idx)
				*idx = i;
			return dp->eps[i];
		}
	return NULL;
}

static void ep_free(struct nft_ep *e)
{
	if (!e)
		return;
	for (int d = 0; d < 2; d++)
		for (int m = 0; m < N_MAPS; m++) {
			elemvec_free(&e->prog[d][m]);
			elemvec_free(&e->next[d][m]);
		}
	free(e);
}

/* ---- decisions --------------------------------------------------------------------------- */

static struct dec *dec_find(struct mseg_datapath *dp, const char *name, size_t *pos)
{
	size_t lo = 0, hi = dp->n_decs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(dp->decs[mid]->name, name);

		if (c == 0) {
			*pos = mid;
			return dp->decs[mid];
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*pos = lo;
	return NULL;
}

/* The decision chain for d, made known to the mirror (not yet programmed) when new. */
static int dec_get(struct mseg_datapath *dp, const struct mseg_nft_decision *d, struct dec **ret)
{
	char name[MSEG_NFT_NAME_MAX];
	struct dec *x, **v;
	size_t pos;
	int r;

	r = mseg_nft_decision_name(name, sizeof(name), d);
	if (r < 0)
		return r;
	x = dec_find(dp, name, &pos);
	if (x) {
		*ret = x;
		return 0;
	}
	x = calloc(1, sizeof(*x));
	v = realloc(dp->decs, (dp->n_decs + 1) * sizeof(*v));
	if (!x || !v) {
		free(x);
		if (v)
			dp->decs = v;
		return -ENOMEM;
	}
	dp->decs = v;
	x->d = *d;
	memcpy(x->name, name, sizeof(name));
	memmove(v + pos + 1, v + pos, (dp->n_decs - pos) * sizeof(*v));
	v[pos] = x;
	dp->n_decs++;
	*ret = x;
	return 0;
}

/* Forgets decisions nothing uses and the kernel does not hold (after a batch or its failure). */
static void decs_gc(struct mseg_datapath *dp)
{
	size_t k = 0;

	for (size_t i = 0; i < dp->n_decs; i++) {
		struct dec *x = dp->decs[i];

		x->pending = 0;
		if (!x->programmed && x->refs == 0)
			free(x);
		else
			dp->decs[k++] = x;
	}
	dp->n_decs = k;
}

static uint16_t deny_reason(const struct mseg_decider *by)
{
	switch (by->kind) {
	case MSEG_DECIDED_RULE:
		return MSEG_DROP_POLICY_DENY;
	case MSEG_DECIDED_ISOLATION:
		return MSEG_DROP_ISOLATED;
	case MSEG_DECIDED_DEFAULT:
		return MSEG_DROP_DEFAULT_DENY;
	}
	return MSEG_DROP_POLICY_DENY;
}

static struct mseg_nft_decision decision_of(uint8_t dir, uint8_t verdict, uint8_t audit,
					    const struct mseg_decider *by,
					    const struct mseg_decider *audit_by)
{
	struct mseg_nft_decision d = {
	    .dir = dir,
	    .verdict = verdict == MSEG_VERDICT_ALLOW ? MSEG_VERDICT_ALLOW : MSEG_VERDICT_DENY,
	    .audit = verdict == MSEG_VERDICT_ALLOW && audit,
	    .by = *by,
	};

	if (d.verdict == MSEG_VERDICT_DENY)
		d.reason = deny_reason(by);
	else if (d.audit) {
		d.audit_by = *audit_by;
		d.reason = deny_reason(audit_by);
	}
	return d;
}

/* ---- element planning -------------------------------------------------------------------- */

/* A plain allow: no log line unless --flows logs new connections. */
static bool decision_plain_allow(const struct mseg_nft_decision *d)
{
	return !d->special && d->verdict == MSEG_VERDICT_ALLOW && !d->audit;
}

static int plan_elem(struct mseg_datapath *dp, struct elemvec *v, struct mseg_nft_elem *e,
		     const struct mseg_nft_decision *d)
{
	struct dec *x;
	int r;

	e->jump = false;
	e->ret = !dp->flows && decision_plain_allow(d);
	if (e->ret) {
		/* no chain to go to: the element returns, named after its decision */
		r = mseg_nft_decision_name(e->chain, sizeof(e->chain), d);
		if (r < 0)
			return r;
		return elemvec_push(v, e);
	}
	r = dec_get(dp, d, &x);
	if (r < 0)
		return r;
	memcpy(e->chain, x->name, sizeof(e->chain));
	return elemvec_push(v, e);
}

/* The elements of the four maps of (endpoint, dir) for the state in src. */
static int plan_endpoint_dir(struct mseg_datapath *dp, const struct mseg_nft_mirror *src,
			     uint32_t id, uint8_t dir, struct elemvec out[N_MAPS])
{
	const struct mseg_endpoint_default *def;
	struct mseg_nft_decision d;
	struct mseg_nft_elem e;
	bool have_rest = false;
	size_t n_mine, first = mseg_nft_mirror_entries_of(src, id, dir, &n_mine);
	int r;

	for (size_t i = first; i < first + n_mine; i++) {
		const struct mseg_table_entry *t = &src->entries[i];

		d = decision_of(dir, t->verdict, t->audit, &t->decided_by, &t->audit_by);
		if (t->remote == MSEG_ID_ANY) {
			if (t->proto == MSEG_PROTO_ANY) {
				/* the contract's last step before the default; the compiler
				 * only makes full-range entries for any protocol */
				if (t->port_lo != 0 || t->port_hi != 65535)
					return -EOPNOTSUPP;
				mseg_nft_elem_nfproto(&e, NFPROTO_IPV4);
				r = plan_elem(dp, &out[MAP_REST], &e, &d);
				have_rest = true;
			} else {
				mseg_nft_elem_proto_port(&e, t->proto, t->port_lo, t->port_hi);
				r = plan_elem(dp, &out[MAP_ANY], &e, &d);
			}
			if (r < 0)
				return r;
			continue;
		}
		size_t n_iv;
		const struct mseg_nft_interval *iv =
		    mseg_nft_class_intervals(src, t->remote, &n_iv);
		if (t->proto == MSEG_PROTO_ANY && (t->port_lo != 0 || t->port_hi != 65535))
			return -EOPNOTSUPP;
		for (size_t k = 0; k < n_iv; k++) {
			if (t->proto == MSEG_PROTO_ANY) {
				mseg_nft_elem_addr_proto(&e, iv[k].lo, iv[k].hi, 0, 255);
				r = plan_elem(dp, &out[MAP_CLSANY], &e, &d);
			} else {
				mseg_nft_elem_addr_proto_port(&e, iv[k].lo, iv[k].hi, t->proto,
							      t->port_lo, t->port_hi);
				r = plan_elem(dp, &out[MAP_CLS], &e, &d);
			}
			if (r < 0)
				return r;
		}
	}
	if (!have_rest) {
		def = mseg_nft_mirror_default(src, dir, id);
		if (def)
			d = decision_of(dir, def->verdict, def->audit, &def->decided_by,
					&def->audit_by);
		else
			/* fail closed: an endpoint attached before its policy is known */
			d = (struct mseg_nft_decision){
			    .dir = dir, .reason = MSEG_DROP_NO_POLICY, .special = true};
		mseg_nft_elem_nfproto(&e, NFPROTO_IPV4);
		r = plan_elem(dp, &out[MAP_REST], &e, &d);
		if (r < 0)
			return r;
	}
	for (int m = 0; m < N_MAPS; m++)
		if (out[m].n > 1)
			qsort(out[m].v, out[m].n, sizeof(*out[m].v), elem_qcmp);
	return 0;
}

static int dec_pending(struct mseg_datapath *dp, const char *name, long delta)
{
	size_t pos;
	struct dec *x = dec_find(dp, name, &pos);

	if (!x)
		return -ENOENT;
	x->pending += delta;
	return 0;
}

/*
 * The difference prog -> next of one map, deletions or additions: with b NULL, only counted
 * into the decisions' pending references; else only emitted.
 */
static int emit_diff(struct mseg_datapath *dp, struct mseg_nft_batch *b, const char *set,
		     const struct elemvec *prog, const struct elemvec *next, bool add)
{
	_cleanup_free_ struct mseg_nft_elem *out = NULL;
	const struct elemvec *from = add ? next : prog, *other = add ? prog : next;
	size_t n = 0, i = 0, j = 0;
	int r;

	if (from->n == 0)
		return 0;
	out = malloc(from->n * sizeof(*out));
	if (!out)
		return -ENOMEM;
	while (i < from->n) {
		int c = j < other->n ? mseg_nft_elem_cmp(&from->v[i], &other->v[j]) : -1;

		if (c == 0) {
			i++;
			j++;
		} else if (c < 0) {
			out[n++] = from->v[i];
			if (!b && !from->v[i].ret) {
				r = dec_pending(dp, from->v[i].chain, add ? 1 : -1);
				if (r < 0)
					return r;
			}
			i++;
		} else
			j++;
	}
	return b ? mseg_nft_batch_elems(b, add, set, out, n) : 0;
}

/* ---- batches ----------------------------------------------------------------------------- */

static int batch_new(struct mseg_datapath *dp, struct mseg_nft_batch **b)
{
	int r = mseg_nft_batch_new(b, dp->seq);

	return r;
}

static int batch_send(struct mseg_datapath *dp, struct mseg_nft_batch *b)
{
	int r;

	/* nothing changed (a diff that moves no element): no transaction, the kernel would
	 * still take the nfnetlink mutex and bump the generation for it */
	if (mseg_nft_batch_count(b) == 0)
		return 0;
	r = mseg_nft_batch_send(b, dp->nl, dp->err, sizeof(dp->err));

	/* sequence numbers keep increasing over the socket's life */
	dp->seq += (uint32_t)mseg_nft_batch_count(b) + 2;
	return r;
}

static int decision_create(struct mseg_datapath *dp, struct mseg_nft_batch *b, struct dec *x)
{
	char comment[128];
	int r;

	if (x->d.special)
		snprintf(comment, sizeof(comment), "drop: reason %u", (unsigned)x->d.reason);
	else if (x->d.by.kind == MSEG_DECIDED_RULE)
		snprintf(comment, sizeof(comment), "%s by policy id %u, %s rule %u",
			 x->d.verdict == MSEG_VERDICT_ALLOW ? (x->d.audit ? "audit" : "allow")
							    : "deny",
			 x->d.by.policy, x->d.by.dir == MSEG_DIR_INGRESS ? "ingress" : "egress",
			 (unsigned)x->d.by.rule);
	else if (x->d.by.kind == MSEG_DECIDED_ISOLATION)
		snprintf(comment, sizeof(comment), "isolated by policy id %u", x->d.by.policy);
	else
		snprintf(comment, sizeof(comment), "node default");
	r = mseg_nft_batch_counter_add(b, x->name);
	if (r == 0)
		r = mseg_nft_batch_chain_add(b, x->name, -1, 0, comment);
	if (r == 0 && dp->adopted)
		r = mseg_nft_batch_chain_flush(b, x->name);
	if (r == 0)
		r = mseg_nft_batch_rules_decision(b, x->name, &x->d, dp->cfg.nflog_group,
						  dp->flows);
	return r;
}

static int decision_delete(struct mseg_nft_batch *b, struct dec *x)
{
	int r = mseg_nft_batch_chain_flush(b, x->name);

	if (r == 0)
		r = mseg_nft_batch_chain_del(b, x->name);
	if (r == 0)
		r = mseg_nft_batch_counter_del(b, x->name);
	return r;
}

/* Phase 1 of every batch: decision chains that planned elements need and the kernel lacks. */
static int decisions_create_needed(struct mseg_datapath *dp, struct mseg_nft_batch *b)
{
	for (size_t i = 0; i < dp->n_decs; i++) {
		struct dec *x = dp->decs[i];

		if (!x->programmed && (long)x->refs + x->pending > 0) {
			int r = decision_create(dp, b, x);

			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* Last phase: decision chains nothing points at any more (specials stay with the table). */
static int decisions_delete_unused(struct mseg_datapath *dp, struct mseg_nft_batch *b)
{
	for (size_t i = 0; i < dp->n_decs; i++) {
		struct dec *x = dp->decs[i];

		if (x->programmed && !x->d.special && (long)x->refs + x->pending <= 0) {
			int r = decision_delete(b, x);

			if (r < 0)
				return r;
		}
	}
	return 0;
}

static void decisions_commit(struct mseg_datapath *dp)
{
	for (size_t i = 0; i < dp->n_decs; i++) {
		struct dec *x = dp->decs[i];
		long refs = (long)x->refs + x->pending;

		x->refs = refs > 0 ? (size_t)refs : 0;
		if (x->refs > 0 || x->d.special)
			x->programmed = x->programmed || x->refs > 0;
		else
			x->programmed = false;
	}
	decs_gc(dp);
}

static void eps_next_clear(struct mseg_datapath *dp)
{
	for (size_t i = 0; i < dp->n_eps; i++) {
		for (int d = 0; d < 2; d++)
			for (int m = 0; m < N_MAPS; m++)
				elemvec_free(&dp->eps[i]->next[d][m]);
		dp->eps[i]->touched = false;
	}
}

/* Builds and sends one batch: new decisions, element deletions and additions of every
 * touched endpoint (whose next[] is planned), unused decisions; pre/post add objects around
 * them. Commits the mirror on success. */
static int program(struct mseg_datapath *dp, struct mseg_nft_batch *b,
		   int (*pre)(struct mseg_datapath *, struct mseg_nft_batch *, void *),
		   int (*post)(struct mseg_datapath *, struct mseg_nft_batch *, void *),
		   void *userdata)
{
	char set[MSEG_NFT_NAME_MAX + 16];
	int r = 0;

	/* references first, so that phase 1 knows which decisions are needed; then the
	 * objects and the element messages: deletions before additions, so that an interval
	 * that splits or changes its decision never overlaps its old self */
	for (int pass = 0; pass < 3 && r == 0; pass++) {
		if (pass == 1) {
			r = decisions_create_needed(dp, b);
			if (r == 0 && pre)
				r = pre(dp, b, userdata);
			continue;
		}
		for (int add = 0; add <= 1 && r == 0; add++)
			for (size_t i = 0; i < dp->n_eps && r == 0; i++) {
				struct nft_ep *e = dp->eps[i];

				if (!e->touched)
					continue;
				for (int d = 0; d < 2 && r == 0; d++)
					for (int m = 0; m < N_MAPS && r == 0; m++) {
						snprintf(set, sizeof(set), "%s_%s%s", e->base,
							 d == MSEG_DIR_INGRESS ? "in" : "out",
							 mseg_nft_map_suffix[m]);
						r = emit_diff(dp, pass == 0 ? NULL : b, set,
							      &e->prog[d][m], &e->next[d][m], add);
					}
			}
	}
	if (r == 0 && post)
		r = post(dp, b, userdata);
	if (r == 0)
		r = decisions_delete_unused(dp, b);
	if (r == 0)
		r = batch_send(dp, b);
	if (r < 0) {
		eps_next_clear(dp);
		decs_gc(dp);
		return r;
	}
	for (size_t i = 0; i < dp->n_eps; i++) {
		struct nft_ep *e = dp->eps[i];

		if (!e->touched)
			continue;
		for (int d = 0; d < 2; d++)
			for (int m = 0; m < N_MAPS; m++) {
				elemvec_free(&e->prog[d][m]);
				e->prog[d][m] = e->next[d][m];
				e->next[d][m] = (struct elemvec){0};
			}
		e->touched = false;
	}
	decisions_commit(dp);
	return 0;
}

/* ---- open, close, purge ------------------------------------------------------------------ */

static int table_exists(struct mnl_socket *nl, uint32_t seq, bool *ret)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;
	ssize_t n;
	int r;

	if (!t)
		return -ENOMEM;
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, NFPROTO_INET, NLM_F_ACK, seq);
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, MSEG_NFT_TABLE);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		r = mnl_cb_run(buf, (size_t)n, seq, mnl_socket_get_portid(nl), NULL, NULL);
		if (r < 0) {
			if (errno == ENOENT) {
				*ret = false;
				return 0;
			}
			return -errno;
		}
		if (r == MNL_CB_STOP) {
			*ret = true;
			return 0;
		}
		/* MNL_CB_OK: the table message came, its ack follows */
		*ret = true;
	}
}

static int open_socket(struct mnl_socket **ret)
{
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
	int one = 1, rcv = 8 << 20, r;

	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = -errno;
		mnl_socket_close(nl);
		return r;
	}
	/* errors without the echoed request, and room for every ack of a big batch */
	(void)mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one));
	if (setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)) < 0)
		(void)setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	*ret = nl;
	return 0;
}

static int table_create(struct mseg_datapath *dp)
{
	_cleanup_(mseg_nft_batch_freep) struct mseg_nft_batch *b = NULL;
	static const struct {
		const char *name;
		int hook;
		bool in, out;
	} bases[] = {
	    /* containers reach each other and the world through the node (routed) */
	    {"forward", NF_INET_FORWARD, true, true},
	    /* container -> node, node -> container */
	    {"input", NF_INET_LOCAL_IN, true, false},
	    {"output", NF_INET_LOCAL_OUT, false, true},
	};
	int r;

	r = batch_new(dp, &b);
	if (r == 0)
		r = mseg_nft_batch_table_add(b);
	if (r == 0)
		r = mseg_nft_batch_set_add(b, "ep_out", MSEG_NFT_SET_IFNAME,
					   "packets leaving a container, by host-side veth");
	if (r == 0)
		r = mseg_nft_batch_set_add(b, "ep_in", MSEG_NFT_SET_IFNAME,
					   "packets entering a container, by host-side veth");
	for (size_t i = 0; i < ARRAY_SIZE(bases) && r == 0; i++) {
		r = mseg_nft_batch_chain_add(b, bases[i].name, bases[i].hook, 0, NULL);
		if (r == 0 && bases[i].in)
			r = mseg_nft_batch_rules_base(b, bases[i].name, true, "ep_out");
		if (r == 0 && bases[i].out)
			r = mseg_nft_batch_rules_base(b, bases[i].name, false, "ep_in");
	}
	for (size_t i = 0; i < ARRAY_SIZE(special_decs) && r == 0; i++) {
		struct dec *x;

		r = dec_get(dp, &special_decs[i], &x);
		if (r == 0)
			r = decision_create(dp, b, x);
	}
	if (r == 0)
		r = batch_send(dp, b);
	return r;
}

static int nft_open(const struct mseg_datapath_config *cfg, struct mseg_datapath **ret)
{
	struct mseg_datapath *dp = calloc(1, sizeof(*dp));
	bool exists = false;
	int r;

	if (!dp)
		return -ENOMEM;
	dp->cfg = *cfg;
	dp->cfg.bpf_dir = NULL; /* not ours, and not owned */
	dp->seq = (uint32_t)time(NULL) << 8;
	r = open_socket(&dp->nl);
	if (r == 0)
		r = table_exists(dp->nl, dp->seq++, &exists);
	if (r == 0) {
		dp->adopted = exists;
		if (!exists)
			r = table_create(dp);
		else
			for (size_t i = 0; i < ARRAY_SIZE(special_decs) && r == 0; i++) {
				/* adopted: the table made them; know them without remaking */
				struct dec *x;

				r = dec_get(dp, &special_decs[i], &x);
				if (r == 0)
					x->programmed = true;
			}
	}
	if (r == 0 && !exists)
		for (size_t i = 0; i < dp->n_decs; i++)
			dp->decs[i]->programmed = true;
	if (r == 0) {
		/* events are optional: another reader may hold the group (then no events) */
		if (mseg_nflog_open(&dp->nflog, (uint16_t)cfg->nflog_group, MSEG_NFT_SNAPLEN) < 0)
			dp->nflog = NULL;
	}
	if (r < 0) {
		mseg_datapath_nft.close(dp);
		return r;
	}
	*ret = dp;
	return 0;
}

static void nft_close(struct mseg_datapath *dp)
{
	if (!dp)
		return;
	for (size_t i = 0; i < dp->n_eps; i++)
		ep_free(dp->eps[i]);
	free(dp->eps);
	for (size_t i = 0; i < dp->n_decs; i++)
		free(dp->decs[i]);
	free(dp->decs);
	mseg_nft_mirror_free(&dp->mir);
	mseg_nflog_close(dp->nflog);
	if (dp->nl)
		mnl_socket_close(dp->nl);
	free(dp);
}

static int nft_purge(const struct mseg_datapath_config *cfg)
{
	_cleanup_(mseg_nft_batch_freep) struct mseg_nft_batch *b = NULL;
	struct mnl_socket *nl = NULL;
	uint32_t seq = (uint32_t)time(NULL) << 8;
	bool exists = false;
	char err[256];
	int r;

	r = open_socket(&nl);
	if (r < 0)
		return r;
	r = table_exists(nl, seq++, &exists);
	if (r == 0 && exists) {
		r = mseg_nft_batch_new(&b, seq);
		if (r == 0)
			r = mseg_nft_batch_table_del(b);
		if (r == 0)
			r = mseg_nft_batch_send(b, nl, err, sizeof(err));
	}
	mnl_socket_close(nl);
	return r;
}

/* ---- endpoints ----------------------------------------------------------------------------- */

static int plan_endpoint(struct mseg_datapath *dp, const struct mseg_nft_mirror *src,
			 struct nft_ep *e)
{
	for (int d = 0; d < 2; d++) {
		int r = plan_endpoint_dir(dp, src, e->ep.id, (uint8_t)d, e->next[d]);

		if (r < 0)
			return r;
	}
	e->touched = true;
	return 0;
}

static int attach_objects(struct mseg_datapath *dp, struct mseg_nft_batch *b, void *userdata)
{
	struct nft_ep *e = userdata;
	char chain[MSEG_NFT_NAME_MAX], set[MSEG_NFT_NAME_MAX + 16], comment[256], ip[64];
	char spoof_mac[MSEG_NFT_NAME_MAX], spoof_ip[MSEG_NFT_NAME_MAX], nonip[MSEG_NFT_NAME_MAX];
	struct mseg_nft_decision sd;
	int r = 0;

	mseg_cidr_format(&e->ep.ip, true, ip);
	for (int d = 0; d < 2 && r == 0; d++) {
		snprintf(chain, sizeof(chain), "%s_%s", e->base,
			 d == MSEG_DIR_INGRESS ? "in" : "out");
		snprintf(comment, sizeof(comment), "%s of %s/%s: endpoint %u, identity %u, %s, %s",
			 d == MSEG_DIR_INGRESS ? "ingress" : "egress", e->ep.namespace, e->ep.name,
			 e->ep.id, e->ep.identity, ip, e->ep.ifname);
		for (int m = 0; m < N_MAPS && r == 0; m++) {
			snprintf(set, sizeof(set), "%s%s", chain, mseg_nft_map_suffix[m]);
			r = mseg_nft_batch_set_add(b, set, map_set_kind[m], NULL);
			/* adopted from an earlier agent: start from empty, in the same batch */
			if (r == 0 && dp->adopted)
				r = mseg_nft_batch_set_flush(b, set);
		}
		if (r == 0)
			r = mseg_nft_batch_chain_add(b, chain, -1, 0, comment);
		if (r == 0 && dp->adopted)
			r = mseg_nft_batch_chain_flush(b, chain);
		sd = (struct mseg_nft_decision){
		    .dir = (uint8_t)d, .special = true, .reason = MSEG_DROP_SPOOFED_MAC};
		mseg_nft_decision_name(spoof_mac, sizeof(spoof_mac), &sd);
		sd.reason = MSEG_DROP_SPOOFED_IP;
		mseg_nft_decision_name(spoof_ip, sizeof(spoof_ip), &sd);
		sd.reason = MSEG_DROP_UNSUPPORTED_L3;
		mseg_nft_decision_name(nonip, sizeof(nonip), &sd);
		if (r == 0)
			r = mseg_nft_batch_rules_endpoint(b, chain, (enum mseg_dir)d, &e->ep,
							  spoof_mac, spoof_ip, nonip);
	}
	return r;
}

static int attach_dispatch(struct mseg_datapath *dp, struct mseg_nft_batch *b, void *userdata)
{
	struct nft_ep *e = userdata;
	struct mseg_nft_elem el;
	int r;

	/* last: the interface starts pointing at its chains when everything else is there */
	mseg_nft_elem_ifname(&el, e->ep.ifname);
	el.jump = true;
	snprintf(el.chain, sizeof(el.chain), "%s_out", e->base);
	r = mseg_nft_batch_elems(b, true, "ep_out", &el, 1);
	snprintf(el.chain, sizeof(el.chain), "%s_in", e->base);
	if (r == 0)
		r = mseg_nft_batch_elems(b, true, "ep_in", &el, 1);
	return r;
}

static int nft_endpoint_attach(struct mseg_datapath *dp, const struct mseg_dp_endpoint *ep)
{
	_cleanup_(mseg_nft_batch_freep) struct mseg_nft_batch *b = NULL;
	struct nft_ep *e;
	struct nft_ep **v;
	int r;

	if (!ep || ep->ip.family != MSEG_AF_INET || !ep->ifname[0])
		return -EINVAL;
	if (ep_find(dp, ep->id, NULL))
		return -EEXIST;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->ep = *ep;
	r = mseg_nft_endpoint_base(e->base, sizeof(e->base), ep->namespace, ep->name, ep->id);
	if (r < 0) {
		ep_free(e);
		return r;
	}
	v = realloc(dp->eps, (dp->n_eps + 1) * sizeof(*v));
	if (!v) {
		ep_free(e);
		return -ENOMEM;
	}
	dp->eps = v;
	dp->eps[dp->n_eps++] = e;

	r = plan_endpoint(dp, &dp->mir, e);
	if (r == 0)
		r = batch_new(dp, &b);
	if (r == 0)
		r = program(dp, b, attach_objects, attach_dispatch, e);
	if (r < 0) {
		dp->n_eps--;
		ep_free(e);
		decs_gc(dp);
	}
	return r;
}

static int nft_endpoint_detach(struct mseg_datapath *dp, uint32_t endpoint_id)
{
	_cleanup_(mseg_nft_batch_freep) struct mseg_nft_batch *b = NULL;
	char chain[MSEG_NFT_NAME_MAX], set[MSEG_NFT_NAME_MAX + 16];
	struct mseg_nft_elem el;
	size_t idx;
	struct nft_ep *e = ep_find(dp, endpoint_id, &idx);
	int r;

	if (!e)
		return -ENOENT;
	r = batch_new(dp, &b);
	mseg_nft_elem_ifname(&el, e->ep.ifname);
	if (r == 0)
		r = mseg_nft_batch_elems(b, false, "ep_out", &el, 1);
	if (r == 0)
		r = mseg_nft_batch_elems(b, false, "ep_in", &el, 1);
	for (int d = 0; d < 2 && r == 0; d++) {
		snprintf(chain, sizeof(chain), "%s_%s", e->base,
			 d == MSEG_DIR_INGRESS ? "in" : "out");
		r = mseg_nft_batch_chain_flush(b, chain);
		if (r == 0)
			r = mseg_nft_batch_chain_del(b, chain);
		for (int m = 0; m < N_MAPS && r == 0; m++) {
			snprintf(set, sizeof(set), "%s%s", chain, mseg_nft_map_suffix[m]);
			r = mseg_nft_batch_set_del(b, set);
			/* the set's elements go with it, and with them their references */
			for (size_t k = 0; k < e->prog[d][m].n && r == 0; k++)
				if (!e->prog[d][m].v[k].ret)
					r = dec_pending(dp, e->prog[d][m].v[k].chain, -1);
		}
	}
	if (r == 0)
		r = decisions_delete_unused(dp, b);
	if (r == 0)
		r = batch_send(dp, b);
	if (r < 0) {
		decs_gc(dp);
		return r;
	}
	decisions_commit(dp);
	memmove(dp->eps + idx, dp->eps + idx + 1, (dp->n_eps - idx - 1) * sizeof(*dp->eps));
	dp->n_eps--;
	ep_free(e);
	return 0;
}

/* ---- apply ------------------------------------------------------------------------------- */

/* Whether the diff or the changed classes (ascending) can change this endpoint's elements. */
static bool ep_affected(const struct mseg_table_diff *diff, const struct mseg_nft_mirror *m,
			uint32_t id, const uint32_t *changed, size_t n_changed)
{
	for (size_t i = 0; i < diff->n_added; i++)
		if (diff->added[i].endpoint == id)
			return true;
	for (size_t i = 0; i < diff->n_removed; i++)
		if (diff->removed[i].endpoint == id)
			return true;
	for (int d = 0; d < 2; d++)
		for (size_t i = 0; i < diff->n_defaults_changed[d]; i++)
			if (diff->defaults_changed[d][i].endpoint == id)
				return true;
	if (n_changed == 0)
		return false;
	for (uint8_t d = 0; d < 2; d++) {
		size_t n, first = mseg_nft_mirror_entries_of(m, id, d, &n);

		for (size_t i = first; i < first + n; i++) {
			uint32_t c = m->entries[i].remote;
			size_t lo = 0, hi = n_changed;

			if (c == MSEG_ID_ANY)
				continue;
			while (lo < hi) {
				size_t mid = lo + (hi - lo) / 2;

				if (changed[mid] < c)
					lo = mid + 1;
				else
					hi = mid;
			}
			if (lo < n_changed && changed[lo] == c)
				return true;
		}
	}
	return false;
}

static int nft_apply(struct mseg_datapath *dp, const struct mseg_table_diff *diff)
{
	_cleanup_(mseg_nft_batch_freep) struct mseg_nft_batch *b = NULL;
	_cleanup_free_ uint32_t *changed = NULL;
	struct mseg_nft_mirror m = {0};
	size_t n_changed = 0;
	int r;

	if (!diff)
		return -EINVAL;
	r = mseg_nft_mirror_next(&dp->mir, diff, &m);
	if (r < 0)
		return r;
	/* the classes whose addresses moved: only entries naming them change elements */
	if (diff->n_ipcache_added || diff->n_ipcache_removed)
		r = mseg_nft_classes_changed(&dp->mir, &m, &changed, &n_changed);
	for (size_t i = 0; i < dp->n_eps && r == 0; i++)
		if (ep_affected(diff, &m, dp->eps[i]->ep.id, changed, n_changed))
			r = plan_endpoint(dp, &m, dp->eps[i]);
	if (r == 0)
		r = batch_new(dp, &b);
	if (r == 0)
		r = program(dp, b, NULL, NULL, NULL);
	else {
		eps_next_clear(dp);
		decs_gc(dp);
	}
	if (r < 0) {
		mseg_nft_mirror_free(&m);
		return r;
	}
	mseg_nft_mirror_replace(&dp->mir, &m);
	return 0;
}

/* ---- --flows ---------------------------------------------------------------------------- */

/* A plain allow: the only decisions whose rules --flows changes. */
static bool dec_flow_logged(const struct dec *x)
{
	return !x->d.special && x->d.verdict == MSEG_VERDICT_ALLOW && !x->d.audit;
}

int mseg_datapath_nft_set_flows(struct mseg_datapath *dp, bool on)
{
	_cleanup_(mseg_nft_batch_freep) struct mseg_nft_batch *b = NULL;
	bool old = dp->flows;
	int r;

	/* Rewritten even when unchanged: an earlier agent's chains may say otherwise, and only
	 * the programmed ones are known (the rest are written with the new setting). */
	dp->flows = on;
	r = mseg_nft_batch_new(&b, dp->seq);
	for (size_t i = 0; i < dp->n_decs && r == 0; i++) {
		struct dec *x = dp->decs[i];

		if (!x->programmed || !dec_flow_logged(x))
			continue;
		r = mseg_nft_batch_chain_flush(b, x->name);
		if (r == 0)
			r = mseg_nft_batch_rules_decision(b, x->name, &x->d, dp->cfg.nflog_group,
							  on);
	}
	if (r == 0 && mseg_nft_batch_count(b) > 0)
		r = batch_send(dp, b);
	if (r == 0 && on != old) {
		/* plain allows turn between `return` elements and gotos to allow chains */
		_cleanup_(mseg_nft_batch_freep) struct mseg_nft_batch *b2 = NULL;

		for (size_t i = 0; i < dp->n_eps && r == 0; i++)
			r = plan_endpoint(dp, &dp->mir, dp->eps[i]);
		if (r == 0)
			r = batch_new(dp, &b2);
		if (r == 0)
			r = program(dp, b2, NULL, NULL, NULL);
		else {
			eps_next_clear(dp);
			decs_gc(dp);
		}
	}
	if (r < 0)
		dp->flows = old;
	return r;
}

const struct mseg_datapath_ops mseg_datapath_nft = {
    .name = "nft",
    .open = nft_open,
    .close = nft_close,
    .endpoint_attach = nft_endpoint_attach,
    .endpoint_detach = nft_endpoint_detach,
    .apply = nft_apply,
    .event_fd = mseg_nft_event_fd,
    .events_read = mseg_nft_events_read,
    .purge = nft_purge,
};
