// SPDX-License-Identifier: Apache-2.0
/*
 * The table of one identity: the decision procedure (admin tier, namespace tier with deny-wins
 * and isolation, baseline, default; audit mode) resolved over every remote class, protocol and
 * port interval. For one remote class only the rules whose peers match it matter, and the
 * verdict is constant between consecutive port boundaries of those rules, so the procedure is
 * evaluated once per elementary interval instead of once per port.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/macro.h"
#include "policy/cidr.h"
#include "policy/compile_classes.h"
#include "policy/compile_internal.h"
#include "policy/labels.h"
#include "policy/selector.h"

enum { STAGE_ADMIN, STAGE_NS, STAGE_BASELINE };

#define PROTO_OTHER (-1) /* a protocol no port entry names: only port-less rules match */

/*
 * A rule with many numeric ports (10,000 in one rule is a benchmark case) would make every
 * point of the port sweep scan all of them; its numeric ranges are indexed instead: sorted by
 * (proto, lo), with the running maximum of hi, so one binary search answers "is n inside any".
 */
struct port_index {
	uint32_t *start; /* proto << 16 | lo */
	uint32_t *reach; /* max over [0, i] of proto << 16 | hi, within the same proto */
	size_t n;
	const struct mseg_port **other; /* named, ICMP and "every port" entries: scanned */
	size_t n_other;
};

#define PORT_INDEX_MIN 16

struct erule {
	const struct mseg_policy *p;
	const struct mseg_rule *r;
	struct port_index *pidx; /* NULL when the rule has few ports */
	size_t pol;
	size_t peer_off; /* flat memo index of its first peer */
	uint16_t idx;
	uint8_t stage;
	bool audit;
};

struct piece {
	uint32_t lo, hi;
	struct cval v;
};

struct rctx {
	struct cctx *x;
	const struct cident *self;
	int dir;
	struct erule *er;
	size_t n_er;
	bool s_real, s_all; /* the namespace tier selects self (without / with audit policies) */
	uint32_t iso_real, iso_all;
	struct cval def;
	/* the ANY remote's function, per protocol index: the fallback of every class */
	struct cval any_other;
	struct piece **any_pieces;
	size_t *any_n;
	/* output */
	struct mseg_table_entry *out;
	size_t n_out, cap_out;
	/* scratch */
	uint32_t *bounds;
	size_t cap_bounds;
};

bool mseg_cval_equal(const struct cval *a, const struct cval *b)
{
	return a->verdict == b->verdict && a->audit == b->audit && a->by.kind == b->by.kind &&
	       a->by.policy == b->by.policy && a->by.rule == b->by.rule && a->by.dir == b->by.dir &&
	       a->audit_by.kind == b->audit_by.kind && a->audit_by.policy == b->audit_by.policy &&
	       a->audit_by.rule == b->audit_by.rule && a->audit_by.dir == b->audit_by.dir;
}

void mseg_idres_free(struct idres *r)
{
	if (!r)
		return;
	free(r->e);
	free(r->pols);
	free(r);
}

/* ---- selection of subjects and peers ---------------------------------------------------- */

bool mseg_compile_policy_selects(const struct cctx *x, const struct mseg_policy *p,
				 const struct cident *id, int dir)
{
	const struct mseg_endpoint *e = id->rep;

	if (p->kind == MSEG_KIND_CLUSTER_POLICY) {
		if (!(dir == MSEG_DIR_INGRESS ? p->ingress : p->egress) ||
		    (p->tier != MSEG_TIER_ADMIN && p->tier != MSEG_TIER_BASELINE))
			return false;
		if (p->has_subject_ns && !mseg_selector_matches(&p->subject_ns, id->ns_labels))
			return false;
		return !p->has_subject_ep || mseg_selector_matches(&p->subject_ep, &e->labels);
	}
	if (!(dir == MSEG_DIR_INGRESS ? p->ingress : p->egress))
		return false;
	if (!p->namespace || strcmp(p->namespace, e->namespace))
		return false;
	return !p->has_subject_ep || mseg_selector_matches(&p->subject_ep, &e->labels);
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* First index in x->idents_by_ns whose namespace is >= ns. */
static size_t idents_ns_lower(const struct cctx *x, const char *ns)
{
	size_t lo = 0, hi = x->n_idents;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(x->idents[x->idents_by_ns[mid]].rep->namespace, ns) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool ident_matches_peer(const struct cctx *x, const struct mseg_policy *p,
			       const struct mseg_peer *peer, const struct cident *id)
{
	if (peer->has_ns_sel) {
		if (!mseg_selector_matches(&peer->ns_sel, id->ns_labels))
			return false;
	} else if (p->kind != MSEG_KIND_CLUSTER_POLICY) {
		if (!p->namespace || strcmp(p->namespace, id->rep->namespace))
			return false;
	}
	return !peer->has_ep_sel || mseg_selector_matches(&peer->ep_sel, &id->rep->labels);
}

static int memo_push(struct peer_memo *m, size_t *cap, uint32_t c)
{
	if (m->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 8;
		uint32_t *v = realloc(m->cls, nc * sizeof(*v));

		if (!v)
			return -ENOMEM;
		m->cls = v;
		*cap = nc;
	}
	m->cls[m->n++] = c;
	return 0;
}

struct ipblock_walk {
	const struct mseg_ipblock *block;
	struct peer_memo *memo;
	size_t *cap;
};

static int ipblock_take(size_t cls, const struct mseg_cidr *prefix, void *arg)
{
	struct ipblock_walk *w = arg;

	for (size_t k = 0; k < w->block->n_except; k++)
		if (mseg_cidr_contains(&w->block->except[k], prefix))
			return 0;
	return memo_push(w->memo, w->cap, (uint32_t)cls);
}

int mseg_compile_peer_classes(struct cctx *x, size_t pol, size_t flat_peer,
			      const struct mseg_peer *peer, const struct peer_memo **ret)
{
	const struct mseg_policy *p = &x->set->policies[pol];
	/* peers of one group match the same classes: one memo for all of them */
	struct peer_memo *m = &x->memo[x->peer_group[flat_peer]];
	size_t cap = 0;
	int r;

	if (m->done) {
		*ret = m;
		return 0;
	}
	if (peer->kind == MSEG_PEER_IPBLOCK) {
		struct ipblock_walk w = {.block = &peer->ipblock, .memo = m, .cap = &cap};

		/* Listed prefixes nest or are disjoint, so the most specific listed prefix Q
		 * holding an address decides membership in every listed prefix: in cidr iff
		 * Q is inside cidr (and inside no except). */
		r = mseg_compile_classes_inside(x, &peer->ipblock.cidr, ipblock_take, &w);
		if (r < 0)
			return r;
		compile_sort(m->cls, m->n, sizeof(*m->cls), u32_cmp);
	} else {
		size_t lo = 0, hi = x->n_idents;

		if (!peer->has_ns_sel && p->kind != MSEG_KIND_CLUSTER_POLICY) {
			if (!p->namespace)
				goto done;
			lo = idents_ns_lower(x, p->namespace);
			for (hi = lo;
			     hi < x->n_idents &&
			     !strcmp(x->idents[x->idents_by_ns[hi]].rep->namespace, p->namespace);
			     hi++)
				;
		}
		for (size_t i = lo; i < hi; i++) {
			const struct cident *id = &x->idents[x->idents_by_ns[i]];

			if (!ident_matches_peer(x, p, peer, id))
				continue;
			for (size_t k = 0; k < id->n_cls; k++) {
				r = memo_push(m, &cap, x->ident_cls[id->cls_first + k]);
				if (r < 0)
					return r;
			}
		}
		compile_sort(m->cls, m->n, sizeof(*m->cls), u32_cmp);
	}
done:
	m->done = true;
	*ret = m;
	return 0;
}

bool mseg_compile_peer_matches_class(const struct cctx *x, const struct mseg_policy *p,
				     const struct mseg_peer *peer, size_t cls)
{
	const struct cclass *cl = &x->classes[cls];

	if (peer->kind == MSEG_PEER_IPBLOCK) {
		const struct mseg_cidr *q;

		if (cl->prefix < 0)
			return false;
		q = &x->prefixes[cl->prefix];
		if (!mseg_cidr_contains(&peer->ipblock.cidr, q))
			return false;
		for (size_t k = 0; k < peer->ipblock.n_except; k++)
			if (mseg_cidr_contains(&peer->ipblock.except[k], q))
				return false;
		return true;
	}
	return cl->ident >= 0 && ident_matches_peer(x, p, peer, &x->idents[cl->ident]);
}

bool mseg_compile_peer_hits(struct cctx *x, const struct mseg_policy *p, size_t flat_peer,
			    const struct mseg_peer *peer, size_t cls)
{
	int8_t *h;

	if (!x->new_ord || x->new_ord[cls] < 0)
		return mseg_compile_peer_matches_class(x, p, peer, cls);
	h = &x->newhit[x->peer_group[flat_peer] * x->n_hitcls + (size_t)x->new_ord[cls]];
	if (!*h)
		*h = mseg_compile_peer_matches_class(x, p, peer, cls) ? 1 : -1;
	return *h > 0;
}

/* ---- ports ------------------------------------------------------------------------------ */

/* The port a named port entry resolves to on dst (the flow's destination endpoint). */
static bool named_port(const struct mseg_port *q, const struct mseg_endpoint *dst, uint32_t *ret)
{
	if (!dst)
		return false;
	for (size_t i = 0; i < dst->n_ports; i++)
		if (dst->ports[i].proto == q->proto && !strcmp(dst->ports[i].name, q->named_port)) {
			*ret = dst->ports[i].port;
			return true;
		}
	return false;
}

/*
 * The intervals of "port" values entry q stands for with dst as the destination endpoint,
 * written to lo/hi (room for 256); returns how many. ICMP "any type, code c" is one point per
 * type, hence the array.
 */
static size_t port_ranges(const struct mseg_port *q, const struct mseg_endpoint *dst, uint32_t *lo,
			  uint32_t *hi)
{
	if (q->proto == MSEG_PROTO_ICMP) {
		/* "port" is type << 8 | code; -1 is any */
		if (q->icmp_type >= 0) {
			lo[0] = (uint32_t)q->icmp_type << 8;
			hi[0] = lo[0] | 0xff;
			if (q->icmp_code >= 0)
				lo[0] = hi[0] = lo[0] | (uint32_t)q->icmp_code;
			return 1;
		}
		if (q->icmp_code < 0) {
			lo[0] = 0;
			hi[0] = 65535;
			return 1;
		}
		for (uint32_t t = 0; t < 256; t++)
			lo[t] = hi[t] = t << 8 | (uint32_t)q->icmp_code;
		return 256;
	}
	if (q->has_port) {
		lo[0] = q->port;
		hi[0] = q->end_port;
		return lo[0] <= hi[0];
	}
	if (q->named_port) {
		if (!named_port(q, dst, &lo[0]))
			return 0;
		hi[0] = lo[0];
		return 1;
	}
	lo[0] = 0;
	hi[0] = 65535;
	return 1;
}

/* The same test as the evaluator's, for one point. */
static bool port_matches(const struct mseg_port *q, int proto, uint32_t n,
			 const struct mseg_endpoint *dst)
{
	uint32_t p;

	if (q->proto != proto)
		return false;
	if (proto == MSEG_PROTO_ICMP)
		return (q->icmp_type < 0 || (uint32_t)q->icmp_type == n >> 8) &&
		       (q->icmp_code < 0 || (uint32_t)q->icmp_code == (n & 0xff));
	if (q->has_port)
		return q->port <= n && n <= q->end_port;
	if (q->named_port)
		return named_port(q, dst, &p) && p == n;
	return true;
}

static int u32_pair_cmp(const void *a, const void *b)
{
	const uint32_t *x = a, *y = b;

	return x[0] != y[0] ? (x[0] < y[0] ? -1 : 1) : (x[1] < y[1] ? -1 : x[1] > y[1]);
}

static void port_index_free(struct port_index *pi)
{
	if (!pi)
		return;
	free(pi->start);
	free(pi->reach);
	free(pi->other);
	free(pi);
}

static int port_index_new(const struct mseg_rule *r, struct port_index **ret)
{
	struct port_index *pi = calloc(1, sizeof(*pi));
	uint32_t *pairs = malloc(2 * r->n_ports * sizeof(*pairs));

	if (!pi || !pairs)
		goto oom;
	pi->start = malloc(r->n_ports * sizeof(*pi->start));
	pi->reach = malloc(r->n_ports * sizeof(*pi->reach));
	pi->other = malloc(r->n_ports * sizeof(*pi->other));
	if (!pi->start || !pi->reach || !pi->other)
		goto oom;
	for (size_t i = 0; i < r->n_ports; i++) {
		const struct mseg_port *q = &r->ports[i];

		if (q->has_port && q->proto != MSEG_PROTO_ICMP) {
			pairs[2 * pi->n] = (uint32_t)q->proto << 16 | q->port;
			pairs[2 * pi->n + 1] = (uint32_t)q->proto << 16 | q->end_port;
			pi->n++;
		} else {
			pi->other[pi->n_other++] = q;
		}
	}
	qsort(pairs, pi->n, 2 * sizeof(*pairs), u32_pair_cmp);
	for (size_t i = 0; i < pi->n; i++) {
		pi->start[i] = pairs[2 * i];
		pi->reach[i] = pairs[2 * i + 1];
		/* running maximum within one protocol (the high 16 bits) */
		if (i && pi->start[i - 1] >> 16 == pi->start[i] >> 16 &&
		    pi->reach[i - 1] > pi->reach[i])
			pi->reach[i] = pi->reach[i - 1];
	}
	free(pairs);
	*ret = pi;
	return 0;
oom:
	free(pairs);
	port_index_free(pi);
	return -ENOMEM;
}

static bool port_index_hit(const struct port_index *pi, int proto, uint32_t port,
			   const struct mseg_endpoint *dst)
{
	uint32_t key = (uint32_t)proto << 16 | port;
	size_t lo = 0, hi = pi->n;

	/* the last range starting at or before key; reach says whether any of them gets to it */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (pi->start[mid] <= key)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo && pi->start[lo - 1] >> 16 == (uint32_t)proto && pi->reach[lo - 1] >= key)
		return true;
	for (size_t i = 0; i < pi->n_other; i++)
		if (port_matches(pi->other[i], proto, port, dst))
			return true;
	return false;
}

static bool rule_ports_match(const struct erule *e, int proto, uint32_t port,
			     const struct mseg_endpoint *dst)
{
	const struct mseg_rule *r = e->r;

	if (!r->n_ports)
		return true;
	if (proto == PROTO_OTHER)
		return false;
	if (e->pidx)
		return port_index_hit(e->pidx, proto, port, dst);
	for (size_t i = 0; i < r->n_ports; i++)
		if (port_matches(&r->ports[i], proto, port, dst))
			return true;
	return false;
}

static void rctx_er_free(struct rctx *rc)
{
	for (size_t k = 0; rc->er && k < rc->n_er; k++)
		port_index_free(rc->er[k].pidx);
	free(rc->er);
	rc->er = NULL;
}

/* ---- the procedure at one point --------------------------------------------------------- */

static struct mseg_decider rule_decider(const struct rctx *rc, const struct erule *e)
{
	return (struct mseg_decider){
	    .kind = MSEG_DECIDED_RULE, .policy = e->p->id, .rule = e->idx, .dir = (uint8_t)rc->dir};
}

/* m: indices into rc->er of the rules whose peers match the remote, ascending. */
static uint8_t decide(const struct rctx *rc, const uint32_t *m, size_t n, int proto, uint32_t port,
		      const struct mseg_endpoint *dst, bool real, struct mseg_decider *by)
{
	size_t i = 0, ns_first;
	const struct erule *e;

	for (; i < n && rc->er[m[i]].stage == STAGE_ADMIN; i++) {
		e = &rc->er[m[i]];
		if ((real && e->audit) || !rule_ports_match(e, proto, port, dst))
			continue;
		if (e->r->action == MSEG_ACTION_PASS)
			break;
		*by = rule_decider(rc, e);
		return e->r->action == MSEG_ACTION_ALLOW ? MSEG_VERDICT_ALLOW : MSEG_VERDICT_DENY;
	}
	while (i < n && rc->er[m[i]].stage == STAGE_ADMIN)
		i++;
	ns_first = i;
	if (real ? rc->s_real : rc->s_all) {
		for (int pass = 0; pass < 2; pass++) {
			enum mseg_action want = pass ? MSEG_ACTION_ALLOW : MSEG_ACTION_DENY;

			for (i = ns_first; i < n && rc->er[m[i]].stage == STAGE_NS; i++) {
				e = &rc->er[m[i]];
				if (e->r->action != want || (real && e->audit) ||
				    !rule_ports_match(e, proto, port, dst))
					continue;
				*by = rule_decider(rc, e);
				return pass ? MSEG_VERDICT_ALLOW : MSEG_VERDICT_DENY;
			}
		}
		*by = (struct mseg_decider){.kind = MSEG_DECIDED_ISOLATION,
					    .policy = real ? rc->iso_real : rc->iso_all,
					    .dir = (uint8_t)rc->dir};
		return MSEG_VERDICT_DENY;
	}
	for (i = ns_first; i < n && rc->er[m[i]].stage == STAGE_NS; i++)
		;
	for (; i < n; i++) {
		e = &rc->er[m[i]];
		if ((real && e->audit) || !rule_ports_match(e, proto, port, dst))
			continue;
		if (e->r->action == MSEG_ACTION_PASS)
			break; /* not valid in the baseline tier; treated as "no decision" */
		*by = rule_decider(rc, e);
		return e->r->action == MSEG_ACTION_ALLOW ? MSEG_VERDICT_ALLOW : MSEG_VERDICT_DENY;
	}
	*by = (struct mseg_decider){.kind = MSEG_DECIDED_DEFAULT, .dir = (uint8_t)rc->dir};
	return rc->x->default_deny ? MSEG_VERDICT_DENY : MSEG_VERDICT_ALLOW;
}

static struct cval eval(const struct rctx *rc, const uint32_t *m, size_t n, int proto,
			uint32_t port, const struct mseg_endpoint *dst)
{
	struct cval v = {0};
	struct mseg_decider all_by = {0};
	uint8_t all;

	v.verdict = decide(rc, m, n, proto, port, dst, true, &v.by);
	all = decide(rc, m, n, proto, port, dst, false, &all_by);
	if (v.verdict == MSEG_VERDICT_ALLOW && all == MSEG_VERDICT_DENY) {
		v.audit = 1;
		v.audit_by = all_by;
	}
	return v;
}

/* ---- emission --------------------------------------------------------------------------- */

static int emit(struct rctx *rc, uint32_t remote, uint8_t proto, uint32_t lo, uint32_t hi,
		const struct cval *v)
{
	struct mseg_table_entry *t;

	if (rc->n_out) {
		t = &rc->out[rc->n_out - 1];
		if (t->remote == remote && t->proto == proto && t->dir == rc->dir &&
		    (uint32_t)t->port_hi + 1 == lo) {
			struct cval tv = {.verdict = t->verdict,
					  .audit = t->audit,
					  .by = t->decided_by,
					  .audit_by = t->audit_by};

			if (mseg_cval_equal(&tv, v)) {
				t->port_hi = (uint16_t)hi;
				return 0;
			}
		}
	}
	if (rc->n_out == rc->cap_out) {
		size_t nc = rc->cap_out ? rc->cap_out * 2 : 64;

		t = realloc(rc->out, nc * sizeof(*t));
		if (!t)
			return -ENOMEM;
		rc->out = t;
		rc->cap_out = nc;
	}
	t = &rc->out[rc->n_out++];
	*t = (struct mseg_table_entry){.dir = (uint8_t)rc->dir,
				       .proto = proto,
				       .port_lo = (uint16_t)lo,
				       .port_hi = (uint16_t)hi,
				       .remote = remote,
				       .verdict = v->verdict,
				       .audit = v->audit,
				       .decided_by = v->by,
				       .audit_by = v->audit_by};
	return 0;
}

static int bounds_push(struct rctx *rc, size_t *n, uint32_t b)
{
	if (b > 65535)
		return 0;
	if (*n == rc->cap_bounds) {
		size_t nc = rc->cap_bounds ? rc->cap_bounds * 2 : 64;
		uint32_t *v = realloc(rc->bounds, nc * sizeof(*v));

		if (!v)
			return -ENOMEM;
		rc->bounds = v;
		rc->cap_bounds = nc;
	}
	rc->bounds[(*n)++] = b;
	return 0;
}

static int pieces_push(struct piece **pp, size_t *n, size_t *cap, uint32_t lo, uint32_t hi,
		       const struct cval *v)
{
	if (*n && mseg_cval_equal(&(*pp)[*n - 1].v, v)) {
		(*pp)[*n - 1].hi = hi;
		return 0;
	}
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 8;
		struct piece *p = realloc(*pp, nc * sizeof(*p));

		if (!p)
			return -ENOMEM;
		*pp = p;
		*cap = nc;
	}
	(*pp)[(*n)++] = (struct piece){.lo = lo, .hi = hi, .v = *v};
	return 0;
}

/*
 * Emits the entries of one remote (a class, or MSEG_ID_ANY when is_any) that differ from what
 * the lookup would otherwise fall back to: the ANY remote's function for a class, the
 * endpoint default for ANY. With is_any the full function is kept in rc->any_* as the
 * fallback of the classes.
 */
static int compute_remote(struct rctx *rc, const uint32_t *m, size_t n, uint32_t remote,
			  const struct mseg_endpoint *remote_ep, bool is_any)
{
	const struct mseg_endpoint *dst = rc->dir == MSEG_DIR_INGRESS ? rc->self->rep : remote_ep;
	const struct cval *fb_other = is_any ? &rc->def : &rc->any_other;
	struct cval g = eval(rc, m, n, PROTO_OTHER, 0, dst);
	bool own_any = !mseg_cval_equal(&g, fb_other);
	int r;

	if (own_any) {
		r = emit(rc, remote, MSEG_PROTO_ANY, 0, 65535, &g);
		if (r < 0)
			return r;
	}
	if (is_any)
		rc->any_other = g;
	for (size_t pi = 0; pi < rc->x->n_protos; pi++) {
		int proto = rc->x->protos[pi];
		const struct piece *fbp = is_any ? NULL : rc->any_pieces[pi];
		size_t fbn = is_any ? 0 : rc->any_n[pi], j = 0, nb = 0, cap = 0;

		r = bounds_push(rc, &nb, 0);
		if (r < 0)
			return r;
		for (size_t i = 0; i < n; i++) {
			const struct mseg_rule *rule = rc->er[m[i]].r;

			for (size_t k = 0; k < rule->n_ports; k++) {
				uint32_t lo[256], hi[256];
				size_t nr;

				if (rule->ports[k].proto != proto)
					continue;
				nr = port_ranges(&rule->ports[k], dst, lo, hi);
				for (size_t q = 0; q < nr; q++)
					if (bounds_push(rc, &nb, lo[q]) < 0 ||
					    bounds_push(rc, &nb, hi[q] + 1) < 0)
						return -ENOMEM;
			}
		}
		for (size_t k = 1; k < fbn; k++)
			if (bounds_push(rc, &nb, fbp[k].lo) < 0)
				return -ENOMEM;
		compile_sort(rc->bounds, nb, sizeof(*rc->bounds), u32_cmp);
		for (size_t k = 0; k < nb; k++) {
			uint32_t lo = rc->bounds[k], hi;
			const struct cval *base;
			struct cval v;

			if (k + 1 < nb && rc->bounds[k + 1] == lo)
				continue;
			hi = k + 1 < nb ? rc->bounds[k + 1] - 1 : 65535;
			v = eval(rc, m, n, proto, lo, dst);
			if (own_any) {
				base = &g;
			} else if (is_any) {
				base = &rc->def;
			} else {
				while (fbp[j].hi < lo)
					j++;
				base = &fbp[j].v;
			}
			if (is_any) {
				r = pieces_push(&rc->any_pieces[pi], &rc->any_n[pi], &cap, lo, hi,
						&v);
				if (r < 0)
					return r;
			}
			if (!mseg_cval_equal(&v, base)) {
				r = emit(rc, remote, (uint8_t)proto, lo, hi, &v);
				if (r < 0)
					return r;
			}
		}
	}
	return 0;
}

/* ---- one identity, one direction -------------------------------------------------------- */

struct polref {
	size_t pol;
	const struct mseg_policy *p;
};

/* The tier a policy is evaluated in, from its kind (the tier field only matters for
 * ClusterPolicies, as in the evaluator). */
static uint8_t stage_of(const struct mseg_policy *p)
{
	if (p->kind != MSEG_KIND_CLUSTER_POLICY)
		return STAGE_NS;
	return p->tier == MSEG_TIER_BASELINE ? STAGE_BASELINE : STAGE_ADMIN;
}

static int polref_cmp(const void *a, const void *b)
{
	const struct mseg_policy *x = ((const struct polref *)a)->p;
	const struct mseg_policy *y = ((const struct polref *)b)->p;
	uint8_t sx = stage_of(x), sy = stage_of(y);

	if (sx != sy)
		return sx < sy ? -1 : 1;
	if (sx != STAGE_NS && x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static size_t pol_peer_off(const struct cctx *x, size_t pol, int dir, size_t rule)
{
	const struct mseg_policy *p = &x->set->policies[pol];
	size_t off = x->peer_off[pol];

	if (dir == MSEG_DIR_EGRESS)
		for (size_t i = 0; i < p->n_ingress_rules; i++)
			off += p->ingress_rules[i].n_peers;
	const struct mseg_rule *rules = dir == MSEG_DIR_EGRESS ? p->egress_rules : p->ingress_rules;
	for (size_t i = 0; i < rule; i++)
		off += rules[i].n_peers;
	return off;
}

static size_t pol_ns_lower(const struct cctx *x, const char *ns)
{
	size_t lo = 0, hi = x->n_pol_ns;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(x->set->policies[x->pol_by_ns[mid]].namespace, ns) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Collects the rules of the policies selecting rc->self for rc->dir, in evaluation order. cand
 * (when not NULL) are the only policies that can select it, known from a previous update.
 */
static int gather(struct rctx *rc, const size_t *cand, size_t n_cand, uint32_t **pols,
		  size_t *n_pols, size_t *cap_pols)
{
	struct cctx *x = rc->x;
	const char *ns = rc->self->rep->namespace;
	_cleanup_free_ struct polref *refs = NULL;
	size_t n_refs = 0, n_rules = 0, lo;

	refs = malloc(((cand ? n_cand : x->set->n_policies) + 1) * sizeof(*refs));
	if (!refs)
		return -ENOMEM;
	for (size_t i = 0; cand && i < n_cand; i++)
		if (mseg_compile_policy_selects(x, &x->set->policies[cand[i]], rc->self, rc->dir))
			refs[n_refs++] = (struct polref){cand[i], &x->set->policies[cand[i]]};
	for (size_t i = cand ? x->n_pol_all : x->n_pol_ns; i < x->n_pol_all; i++) {
		size_t pol = x->pol_by_ns[i];

		if (mseg_compile_policy_selects(x, &x->set->policies[pol], rc->self, rc->dir))
			refs[n_refs++] = (struct polref){pol, &x->set->policies[pol]};
	}
	for (lo = cand ? x->n_pol_ns : pol_ns_lower(x, ns);
	     lo < x->n_pol_ns && !strcmp(x->set->policies[x->pol_by_ns[lo]].namespace, ns); lo++) {
		size_t pol = x->pol_by_ns[lo];

		if (mseg_compile_policy_selects(x, &x->set->policies[pol], rc->self, rc->dir))
			refs[n_refs++] = (struct polref){pol, &x->set->policies[pol]};
	}
	compile_sort(refs, n_refs, sizeof(*refs), polref_cmp);

	rc->s_real = rc->s_all = false;
	for (size_t i = 0; i < n_refs; i++) {
		const struct mseg_policy *p = refs[i].p;

		n_rules += rc->dir == MSEG_DIR_INGRESS ? p->n_ingress_rules : p->n_egress_rules;
		if (*n_pols == *cap_pols) {
			size_t nc = *cap_pols ? *cap_pols * 2 : 16;
			uint32_t *v = realloc(*pols, nc * sizeof(*v));

			if (!v)
				return -ENOMEM;
			*pols = v;
			*cap_pols = nc;
		}
		(*pols)[(*n_pols)++] = p->id;
		if (stage_of(p) != STAGE_NS)
			continue;
		/* refs are sorted by id within the tier: the first seen is the lowest */
		if (!rc->s_all)
			rc->iso_all = p->id;
		rc->s_all = true;
		if (p->mode != MSEG_MODE_AUDIT) {
			if (!rc->s_real)
				rc->iso_real = p->id;
			rc->s_real = true;
		}
	}
	rc->er = calloc(n_rules + 1, sizeof(*rc->er));
	if (!rc->er)
		return -ENOMEM;
	rc->n_er = 0;
	for (size_t i = 0; i < n_refs; i++) {
		const struct mseg_policy *p = refs[i].p;
		const struct mseg_rule *rules =
		    rc->dir == MSEG_DIR_INGRESS ? p->ingress_rules : p->egress_rules;
		size_t nr = rc->dir == MSEG_DIR_INGRESS ? p->n_ingress_rules : p->n_egress_rules;
		size_t off = pol_peer_off(x, refs[i].pol, rc->dir, 0);
		uint8_t stage = stage_of(p);

		for (size_t k = 0; k < nr; k++) {
			struct port_index *pidx = NULL;

			if (rules[k].n_ports >= PORT_INDEX_MIN) {
				int r = port_index_new(&rules[k], &pidx);

				if (r < 0)
					return r;
			}
			rc->er[rc->n_er++] = (struct erule){.p = p,
							    .pidx = pidx,
							    .r = &rules[k],
							    .pol = refs[i].pol,
							    .peer_off = off,
							    .idx = (uint16_t)k,
							    .stage = stage,
							    .audit = p->mode == MSEG_MODE_AUDIT};
			off += rules[k].n_peers;
		}
	}
	return 0;
}

static bool erule_named_egress(const struct erule *e)
{
	for (size_t k = 0; k < e->r->n_ports; k++)
		if (e->r->ports[k].named_port)
			return true;
	return false;
}

static bool ep_has_port(const struct mseg_endpoint *ep, const struct erule *e)
{
	for (size_t k = 0; k < e->r->n_ports; k++) {
		const struct mseg_port *q = &e->r->ports[k];

		if (!q->named_port)
			continue;
		for (size_t i = 0; i < ep->n_ports; i++)
			if (ep->ports[i].proto == q->proto &&
			    !strcmp(ep->ports[i].name, q->named_port))
				return true;
	}
	return false;
}

static int compile_dir(struct rctx *rc, uint32_t **pols, size_t *n_pols, size_t *cap_pols)
{
	struct cctx *x = rc->x;
	size_t nc = x->n_classes;
	_cleanup_free_ uint32_t *cnt = NULL, *last = NULL, *start = NULL, *list = NULL;
	_cleanup_free_ uint32_t *allpeer = NULL, *merged = NULL;
	_cleanup_free_ bool *cand = NULL;
	size_t n_all = 0, n_list = 0;
	const struct peer_memo *pm;
	int r;

	r = gather(rc, NULL, 0, pols, n_pols, cap_pols);
	if (r < 0)
		return r;

	rc->def = eval(rc, NULL, 0, PROTO_OTHER, 0, NULL);

	cnt = calloc(nc + 1, sizeof(*cnt));
	last = calloc(nc + 1, sizeof(*last));
	start = calloc(nc + 2, sizeof(*start));
	allpeer = malloc((rc->n_er + 1) * sizeof(*allpeer));
	merged = malloc((rc->n_er + 1) * sizeof(*merged));
	cand = calloc(nc + 1, sizeof(*cand));
	if (!cnt || !last || !start || !allpeer || !merged || !cand)
		return -ENOMEM;

	/* count, per class, the rules whose peers match it; mark named-port candidates */
	for (size_t k = 0; k < rc->n_er; k++) {
		const struct erule *e = &rc->er[k];

		if (!e->r->n_peers) {
			allpeer[n_all++] = (uint32_t)k;
			if (rc->dir == MSEG_DIR_EGRESS && erule_named_egress(e))
				/* the remote's named ports decide: its class needs its own
				 * entries although no peer names it */
				for (size_t c = 0; c < nc; c++)
					if (x->classes[c].ident >= 0 &&
					    ep_has_port(x->idents[x->classes[c].ident].rep, e))
						cand[c] = true;
			continue;
		}
		for (size_t pi = 0; pi < e->r->n_peers; pi++) {
			r = mseg_compile_peer_classes(x, e->pol, e->peer_off + pi, &e->r->peers[pi],
						      &pm);
			if (r < 0)
				return r;
			for (size_t i = 0; i < pm->n; i++) {
				uint32_t c = pm->cls[i];

				if (last[c] == k + 1)
					continue;
				last[c] = (uint32_t)k + 1;
				cnt[c]++;
				n_list++;
			}
		}
	}
	for (size_t c = 0; c < nc; c++)
		start[c + 1] = start[c] + cnt[c];
	list = malloc((n_list + 1) * sizeof(*list));
	if (!list)
		return -ENOMEM;
	for (size_t c = 0; c < nc; c++)
		cnt[c] = 0;
	for (size_t k = 0; k < rc->n_er; k++) {
		const struct erule *e = &rc->er[k];

		for (size_t pi = 0; pi < e->r->n_peers; pi++) {
			r = mseg_compile_peer_classes(x, e->pol, e->peer_off + pi, &e->r->peers[pi],
						      &pm);
			if (r < 0)
				return r;
			for (size_t i = 0; i < pm->n; i++) {
				uint32_t c = pm->cls[i];

				if (cnt[c] && list[start[c] + cnt[c] - 1] == k)
					continue;
				list[start[c] + cnt[c]++] = (uint32_t)k;
			}
		}
	}

	r = compute_remote(rc, allpeer, n_all, MSEG_ID_ANY, NULL, true);
	if (r < 0)
		return r;
	for (size_t c = 0; c < nc; c++) {
		const struct cclass *cl = &x->classes[c];
		size_t a = 0, b = 0, n = 0;

		if (!cnt[c] && !cand[c])
			continue;
		/* the rules matching every remote, merged in evaluation order */
		while (a < n_all || b < cnt[c]) {
			if (b == cnt[c] || (a < n_all && allpeer[a] < list[start[c] + b]))
				merged[n++] = allpeer[a++];
			else
				merged[n++] = list[start[c] + b++];
		}
		r = compute_remote(rc, merged, n, cl->num,
				   cl->ident >= 0 ? x->idents[cl->ident].rep : NULL, false);
		if (r < 0)
			return r;
	}
	return 0;
}

static int entry_cmp_q(const void *a, const void *b)
{
	return mseg_compile_entry_cmp(a, b);
}

int mseg_compile_identity(struct cctx *x, size_t ident, struct idres **ret)
{
	struct idres *res;
	struct rctx rc = {.x = x, .self = &x->idents[ident]};
	uint32_t *pols = NULL;
	size_t n_pols = 0, cap_pols = 0, w = 0;
	int r = 0;

	rc.any_pieces = calloc(x->n_protos + 1, sizeof(*rc.any_pieces));
	rc.any_n = calloc(x->n_protos + 1, sizeof(*rc.any_n));
	res = calloc(1, sizeof(*res));
	if (!rc.any_pieces || !rc.any_n || !res) {
		r = -ENOMEM;
		goto out;
	}
	for (int d = 0; d < 2 && r >= 0; d++) {
		rc.dir = d;
		for (size_t pi = 0; pi < x->n_protos; pi++) {
			free(rc.any_pieces[pi]);
			rc.any_pieces[pi] = NULL;
			rc.any_n[pi] = 0;
		}
		rctx_er_free(&rc);
		rc.er = NULL;
		r = compile_dir(&rc, &pols, &n_pols, &cap_pols);
		res->def[d] = rc.def;
	}
	if (r < 0)
		goto out;
	compile_sort(rc.out, rc.n_out, sizeof(*rc.out), entry_cmp_q);
	compile_sort(pols, n_pols, sizeof(*pols), u32_cmp);
	for (size_t i = 0; i < n_pols; i++)
		if (!w || pols[w - 1] != pols[i])
			pols[w++] = pols[i];
	res->identity = x->idents[ident].id;
	res->e = TAKE_PTR(rc.out);
	res->n = rc.n_out;
	res->pols = TAKE_PTR(pols);
	res->n_pols = w;
	*ret = TAKE_PTR(res);
out:
	for (size_t pi = 0; pi < x->n_protos; pi++)
		free(rc.any_pieces[pi]);
	free(rc.any_pieces);
	free(rc.any_n);
	rctx_er_free(&rc);
	free(rc.out);
	free(rc.bounds);
	free(pols);
	mseg_idres_free(res);
	return r;
}

/* The rules of rc (in order) matching class c, into m; *relevant when c needs entries of its
 * own: a rule with peers matches it, or a peer-less egress rule names one of its ports. */
static size_t matching_rules(struct rctx *rc, size_t c, uint32_t *m, bool *relevant)
{
	struct cctx *x = rc->x;
	const struct cclass *cl = &x->classes[c];
	size_t n = 0;

	*relevant = false;
	for (size_t k = 0; k < rc->n_er; k++) {
		const struct erule *e = &rc->er[k];
		bool hit = !e->r->n_peers;

		for (size_t pi = 0; !hit && pi < e->r->n_peers; pi++)
			hit = mseg_compile_peer_hits(x, e->p, e->peer_off + pi, &e->r->peers[pi], c);
		if (!hit)
			continue;
		m[n++] = (uint32_t)k;
		*relevant |= e->r->n_peers > 0 || (rc->dir == MSEG_DIR_EGRESS && cl->ident >= 0 &&
						   ep_has_port(x->idents[cl->ident].rep, e));
	}
	return n;
}

/* Appends old's entries for (rc->dir, remote from) as entries for remote to. */
static int copy_class(struct rctx *rc, const struct idres *old, uint32_t from, uint32_t to)
{
	size_t lo = 0, hi = old->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct mseg_table_entry *e = &old->e[mid];

		if (e->dir < rc->dir || (e->dir == rc->dir && e->remote < from))
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < old->n && old->e[lo].dir == rc->dir && old->e[lo].remote == from; lo++) {
		if (rc->n_out == rc->cap_out) {
			size_t nc = rc->cap_out ? rc->cap_out * 2 : 64;
			struct mseg_table_entry *t = realloc(rc->out, nc * sizeof(*t));

			if (!t)
				return -ENOMEM;
			rc->out = t;
			rc->cap_out = nc;
		}
		rc->out[rc->n_out] = old->e[lo];
		rc->out[rc->n_out++].remote = to;
	}
	return 0;
}

/*
 * An identity whose policies did not change, after classes appeared or disappeared: its
 * default and its ANY-remote function are unchanged, and a class's entries depend only on the
 * rules matching that class, so only the new classes are computed and the entries of classes
 * that are gone are dropped.
 */
int mseg_compile_identity_classes(struct cctx *x, size_t ident, const struct idres *old,
				  const size_t *cand, size_t n_cand, unsigned dirs,
				  const uint32_t *gone, size_t n_gone, struct idres **ret,
				  struct mseg_table_entry **added, size_t *n_added)
{
	struct rctx rc = {.x = x, .self = &x->idents[ident]};
	_cleanup_free_ uint32_t *m = NULL, *m_any = NULL, *m_sib = NULL;
	uint32_t *pols = NULL;
	size_t n_pols = 0, cap_pols = 0, n_keep = 0;
	struct idres *res = NULL;
	int r = 0;

	rc.any_pieces = calloc(x->n_protos + 1, sizeof(*rc.any_pieces));
	rc.any_n = calloc(x->n_protos + 1, sizeof(*rc.any_n));
	res = calloc(1, sizeof(*res));
	if (!rc.any_pieces || !rc.any_n || !res) {
		r = -ENOMEM;
		goto out;
	}
	for (int d = 0; d < 2 && r >= 0; d++) {
		size_t n_any = 0;
		bool any_done = false;

		if (!(dirs & 1u << d))
			continue; /* no rule of its policies for d reaches a new class */
		rc.dir = d;
		for (size_t pi = 0; pi < x->n_protos; pi++) {
			free(rc.any_pieces[pi]);
			rc.any_pieces[pi] = NULL;
			rc.any_n[pi] = 0;
		}
		rctx_er_free(&rc);
		rc.er = NULL;
		r = gather(&rc, cand, n_cand, &pols, &n_pols, &cap_pols);
		if (r < 0)
			break;
		free(m);
		free(m_any);
		free(m_sib);
		m = malloc((rc.n_er + 1) * sizeof(*m));
		m_any = malloc((rc.n_er + 1) * sizeof(*m_any));
		m_sib = malloc((rc.n_er + 1) * sizeof(*m_sib));
		if (!m || !m_any || !m_sib) {
			r = -ENOMEM;
			break;
		}
		rc.def = old->def[d];
		for (size_t k = 0; k < rc.n_er; k++)
			if (!rc.er[k].r->n_peers)
				m_any[n_any++] = (uint32_t)k;
		for (size_t ci = 0; r >= 0 && ci < x->n_new; ci++) {
			size_t c = x->new_list[ci], n = 0;
			const struct cclass *cl = &x->classes[c];
			bool relevant = false;

			n = matching_rules(&rc, c, m, &relevant);
			if (!relevant)
				continue;
			if (x->new_sib && x->new_sib[ci] >= 0) {
				size_t s = (size_t)x->new_sib[ci];
				bool rel_s;

				if (matching_rules(&rc, s, m_sib, &rel_s) == n &&
				    !memcmp(m, m_sib, n * sizeof(*m))) {
					/* the same rules, the same named ports: the sibling's
					 * entries, renamed (compute_remote() would emit them) */
					r = copy_class(&rc, old, x->classes[s].num, cl->num);
					continue;
				}
			}
			if (!any_done) {
				/* the ANY function again, as the fallback of the new classes; its
				 * entries are already in old */
				size_t n_before = rc.n_out;

				r = compute_remote(&rc, m_any, n_any, MSEG_ID_ANY, NULL, true);
				rc.n_out = n_before;
				any_done = true;
				if (r < 0)
					break;
			}
			r = compute_remote(&rc, m, n, cl->num,
					   cl->ident >= 0 ? x->idents[cl->ident].rep : NULL, false);
		}
	}
	if (r < 0)
		goto out;
	/* old entries minus the gone classes, merged with the new ones (sorting only the few new
	 * entries: this runs for every identity a new class reaches) */
	res->e = malloc((old->n + rc.n_out + 1) * sizeof(*res->e));
	if (!res->e) {
		r = -ENOMEM;
		goto out;
	}
	compile_sort(rc.out, rc.n_out, sizeof(*rc.out), entry_cmp_q);
	for (size_t i = 0, j = 0; i < old->n || j < rc.n_out;) {
		if (i < old->n && n_gone &&
		    bsearch(&old->e[i].remote, gone, n_gone, sizeof(*gone), u32_cmp)) {
			i++;
			continue;
		}
		if (j == rc.n_out ||
		    (i < old->n && mseg_compile_entry_cmp(&old->e[i], &rc.out[j]) <= 0))
			res->e[n_keep++] = old->e[i++];
		else
			res->e[n_keep++] = rc.out[j++];
	}
	res->n = n_keep;
	res->identity = old->identity;
	res->def[0] = old->def[0];
	res->def[1] = old->def[1];
	res->pols = malloc((old->n_pols + 1) * sizeof(*res->pols));
	if (!res->pols) {
		r = -ENOMEM;
		goto out;
	}
	if (old->n_pols)
		memcpy(res->pols, old->pols, old->n_pols * sizeof(*res->pols));
	res->n_pols = old->n_pols;
	*ret = TAKE_PTR(res);
	*n_added = rc.n_out;
	*added = TAKE_PTR(rc.out);
out:
	for (size_t pi = 0; pi < x->n_protos; pi++)
		free(rc.any_pieces[pi]);
	free(rc.any_pieces);
	free(rc.any_n);
	rctx_er_free(&rc);
	free(rc.out);
	free(rc.bounds);
	free(pols);
	mseg_idres_free(res);
	return r;
}
