// SPDX-License-Identifier: Apache-2.0
/*
 * The compiler driver: builds the inputs of one compilation (identities, classes, ipcache),
 * decides which identities must be recompiled since the previous update, recompiles those
 * (compile_rules.c), and reports the difference per endpoint. The flat table is materialised
 * only when someone asks for it, so an incremental update costs what changed plus a pass over
 * the endpoints and policies to notice what changed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/macro.h"
#include "policy/cidr.h"
#include "policy/compile_classes.h"
#include "policy/compile_internal.h"
#include "policy/labels.h"

/* ---- small helpers ---------------------------------------------------------------------- */

int mseg_compile_entry_cmp(const struct mseg_table_entry *a, const struct mseg_table_entry *b)
{
#define CMP(f)                                                                                     \
	if (a->f != b->f)                                                                          \
		return a->f < b->f ? -1 : 1;
	CMP(endpoint);
	CMP(dir);
	CMP(remote);
	CMP(proto);
	CMP(port_lo);
	CMP(port_hi);
	CMP(verdict);
	CMP(audit);
	CMP(decided_by.kind);
	CMP(decided_by.policy);
	CMP(decided_by.rule);
	CMP(decided_by.dir);
	CMP(audit_by.kind);
	CMP(audit_by.policy);
	CMP(audit_by.rule);
	CMP(audit_by.dir);
#undef CMP
	return 0;
}

static int polhash_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct polhash *)a)->id, y = ((const struct polhash *)b)->id;

	return x < y ? -1 : x > y;
}

static const struct polhash *polhash_find(const struct polhash *v, size_t n, uint32_t id)
{
	struct polhash k = {.id = id};

	if (!n)
		return NULL;
	return bsearch(&k, v, n, sizeof(*v), polhash_cmp);
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static bool u32_in(const uint32_t *v, size_t n, uint32_t x)
{
	return n && bsearch(&x, v, n, sizeof(*v), u32_cmp);
}

int mseg_compile_grow(void **v, size_t *cap, size_t n, size_t size)
{
	void *nv;
	size_t nc;

	if (n < *cap)
		return 0;
	nc = *cap ? *cap * 2 : 16;
	nv = realloc(*v, nc * size);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = nc;
	return 0;
}

/* ---- the state of one update ------------------------------------------------------------ */

static void upd_done(struct upd *u, bool keep_new_res)
{
	struct cctx *x = &u->x;

	for (size_t i = 0; i < u->n_auto_ns; i++)
		mseg_labels_free(&u->auto_ns[i]);
	free(u->auto_ns);
	free(u->ns_order);
	free(u->ep_identity);
	free(u->keys);
	free(u->ipc);
	free(u->ph);
	if (!keep_new_res)
		for (size_t i = 0; i < u->n_res; i++)
			if (u->res_new && u->res_new[i])
				mseg_idres_free(u->res[i]);
	free(u->res);
	free(u->res_new);
	for (size_t i = 0; u->delta_add && i < u->n_res; i++)
		free(u->delta_add[i]);
	free(u->delta_add);
	free(u->delta_base);
	free(u->n_delta_add);
	free(u->gone);
	free(x->new_list);
	free(x->new_ord);
	free(x->new_sib);
	free(x->newhit);
	free(x->peer_group);
	free(u->cls_nums);
	free(u->pol_ids);
	free(u->eps);
	free(u->ep_pos);
	free(u->ep_prefix_prev);
	free(x->idents);
	free(x->idents_by_ns);
	free(x->prefixes);
	free(x->classes);
	free(x->ident_cls);
	free(x->prefix_cls);
	free(x->prefix_cls_first);
	free(x->protos);
	free(x->peer_off);
	for (size_t i = 0; i < x->n_memo; i++)
		free(x->memo[i].cls);
	free(x->memo);
	free(x->pol_by_ns);
}

static const struct mseg_topology *sort_topo;
static const struct cident *sort_idents;

static int ns_order_cmp(const void *a, const void *b)
{
	return strcmp(sort_topo->namespaces[*(const size_t *)a].name,
		      sort_topo->namespaces[*(const size_t *)b].name);
}

static int idents_ns_cmp(const void *a, const void *b)
{
	const struct cident *x = &sort_idents[*(const size_t *)a];
	const struct cident *y = &sort_idents[*(const size_t *)b];
	int k = strcmp(x->rep->namespace, y->rep->namespace);

	return k ? k : (x->id < y->id ? -1 : x->id > y->id);
}

static int ns_labels_of(struct upd *u, const char *name, const struct mseg_labels **ret)
{
	const struct mseg_topology *t = u->x.topo;
	size_t lo = 0, hi = t->n_namespaces;
	struct mseg_labels *l;
	int r;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int k = strcmp(t->namespaces[u->ns_order[mid]].name, name);

		if (!k) {
			*ret = &t->namespaces[u->ns_order[mid]].labels;
			return 0;
		}
		if (k < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = 0; i < u->n_auto_ns; i++)
		if (!strcmp(mseg_labels_get(&u->auto_ns[i], "kubernetes.io/metadata.name"), name)) {
			*ret = &u->auto_ns[i];
			return 0;
		}
	/* used but not listed: it exists with only the automatic label */
	l = realloc(u->auto_ns, (u->n_auto_ns + 1) * sizeof(*l));
	if (!l)
		return -ENOMEM;
	u->auto_ns = l;
	l = &u->auto_ns[u->n_auto_ns];
	*l = (struct mseg_labels){0};
	r = mseg_labels_set(l, "kubernetes.io/metadata.name", name);
	if (r < 0)
		return r;
	u->n_auto_ns++;
	*ret = l;
	return 0;
}

static int ident_find(const struct cctx *x, uint32_t id)
{
	size_t lo = 0, hi = x->n_idents;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (x->idents[mid].id == id)
			return (int)mid;
		if (x->idents[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static int eprec_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct eprec *)a)->endpoint, y = ((const struct eprec *)b)->endpoint;

	return x < y ? -1 : x > y;
}

static int cident_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct cident *)a)->id, y = ((const struct cident *)b)->id;

	return x < y ? -1 : x > y;
}

static int key_cmp_q(const void *a, const void *b)
{
	return mseg_class_key_cmp(a, b);
}

static int class_num_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct cclass *)a)->num, y = ((const struct cclass *)b)->num;

	return x < y ? -1 : x > y;
}

static int ipc_cmp_q(const void *a, const void *b)
{
	return mseg_ipcache_entry_cmp(a, b);
}

static size_t ident_slot(uint32_t id, size_t mask)
{
	return (size_t)((id * 0x9e3779b97f4a7c15ull) >> 32) & mask;
}

/* Endpoint identities, the identity table and the namespace index. */
static int build_identities(struct mseg_compiler *c, struct upd *u)
{
	const struct mseg_topology *t = u->x.topo;
	struct cctx *x = &u->x;
	size_t n = t->n_endpoints, w = 0, slot_mask = 1, h;
	_cleanup_free_ uint32_t *slots = NULL;
	int r;

	while (slot_mask + 1 < 2 * n)
		slot_mask = slot_mask << 1 | 1;
	slots = calloc(slot_mask + 1, sizeof(*slots));
	u->ns_order = malloc((t->n_namespaces + 1) * sizeof(*u->ns_order));
	u->ep_identity = malloc((n + 1) * sizeof(*u->ep_identity));
	u->eps = malloc((n + 1) * sizeof(*u->eps));
	u->ep_pos = malloc((n + 1) * sizeof(*u->ep_pos));
	u->ep_prefix_prev = malloc((n + 1) * sizeof(*u->ep_prefix_prev));
	x->idents = malloc((n + 1) * sizeof(*x->idents));
	x->idents_by_ns = malloc((n + 1) * sizeof(*x->idents_by_ns));
	if (!slots || !u->ns_order || !u->ep_identity || !u->eps || !u->ep_pos ||
	    !u->ep_prefix_prev || !x->idents || !x->idents_by_ns)
		return -ENOMEM;
	for (size_t i = 0; i < t->n_namespaces; i++)
		u->ns_order[i] = i;
	sort_topo = t;
	compile_sort(u->ns_order, t->n_namespaces, sizeof(*u->ns_order), ns_order_cmp);

	for (size_t i = 0; i < n; i++) {
		const struct mseg_endpoint *e = &t->endpoints[i];
		const struct mseg_labels *nsl;
		struct eprec key = {0};
		const struct eprec *prev;
		uint64_t digest;

		if (!e->namespace || !e->id)
			return -EINVAL;
		r = ns_labels_of(u, e->namespace, &nsl);
		if (r < 0)
			return r;
		key.endpoint = e->id;
		prev = c->n_eps ? bsearch(&key, c->eps, c->n_eps, sizeof(key), eprec_cmp) : NULL;
		r = mseg_compile_hint_endpoint_digest(u, prev, e, nsl, &digest);
		if (r < 0)
			return r;
		if (prev && prev->digest == digest) {
			/* identities are never released, so the previous one still names it */
			u->ep_identity[i] = prev->identity;
		} else {
			r = mseg_compile_endpoint_identity(c->ids, e, nsl, &u->ep_identity[i]);
			if (r < 0)
				return r;
		}
		u->eps[i] = (struct eprec){.endpoint = e->id,
					   .identity = u->ep_identity[i],
					   .digest = digest,
					   .ip = e->ip,
					   .prefix = -1,
					   .topo = (uint32_t)i};
		u->ep_prefix_prev[i] = prev && !mseg_cidr_cmp(&prev->ip, &e->ip) &&
					       e->ip.prefixlen == prev->ip.prefixlen
					   ? prev->prefix
					   : -2;
		/* distinct identities, each represented by its first endpoint in topology order:
		 * deduplicated before sorting, as there are several endpoints per identity */
		for (h = ident_slot(u->ep_identity[i], slot_mask);
		     slots[h] && x->idents[slots[h] - 1].id != u->ep_identity[i];
		     h = (h + 1) & slot_mask)
			;
		if (slots[h])
			continue;
		slots[h] = (uint32_t)++w;
		x->idents[w - 1] =
		    (struct cident){.id = u->ep_identity[i], .rep = e, .ns_labels = nsl};
	}
	u->n_eps = n;
	compile_sort(u->eps, n, sizeof(*u->eps), eprec_cmp);
	for (size_t i = 0; i < n; i++)
		u->ep_pos[u->eps[i].topo] = i;
	for (size_t i = 1; i < n; i++)
		if (u->eps[i].endpoint == u->eps[i - 1].endpoint)
			return -EINVAL; /* endpoint ids must be unique */
	compile_sort(x->idents, w, sizeof(*x->idents), cident_cmp);
	x->n_idents = w;
	for (size_t i = 0; i < w; i++)
		x->idents_by_ns[i] = i;
	sort_idents = x->idents;
	compile_sort(x->idents_by_ns, w, sizeof(*x->idents_by_ns), idents_ns_cmp);
	return 0;
}

/* Prefixes, classes (numbers kept from the previous update) and the ipcache. */
static int build_classes(struct mseg_compiler *c, struct upd *u)
{
	const struct mseg_topology *t = u->x.topo;
	struct cctx *x = &u->x;
	size_t n_ep = t->n_endpoints, cap_keys = 0, w = 0;
	uint64_t lens = 0;
	_cleanup_free_ int32_t *ep_prefix = NULL;
	_cleanup_free_ bool *is_ep_prefix = NULL;
	int r;

	if (u->policies_same) {
		x->prefixes = malloc((c->n_prefixes + 1) * sizeof(*x->prefixes));
		if (!x->prefixes)
			return -ENOMEM;
		if (c->n_prefixes)
			memcpy(x->prefixes, c->prefixes, c->n_prefixes * sizeof(*x->prefixes));
		x->n_prefixes = c->n_prefixes;
	} else {
		r = mseg_compile_collect_prefixes(u->x.set, &x->prefixes, &x->n_prefixes);
		if (r < 0)
			return r;
	}
	for (size_t q = 0; q < x->n_prefixes; q++)
		lens |= 1ull << x->prefixes[q].prefixlen;
	ep_prefix = malloc((n_ep + 1) * sizeof(*ep_prefix));
	is_ep_prefix = calloc(x->n_prefixes + 1, sizeof(*is_ep_prefix));
	if (!ep_prefix || !is_ep_prefix)
		return -ENOMEM;

	for (size_t i = 0; i < n_ep; i++) {
		const struct mseg_endpoint *e = &t->endpoints[i];
		/* the prefixes are the previous update's while policies_same */
		ssize_t q = u->policies_same && u->ep_prefix_prev[i] != -2
				? u->ep_prefix_prev[i]
				: mseg_compile_most_specific(x->prefixes, x->n_prefixes, &e->ip,
							     lens);

		ep_prefix[i] = (int32_t)q;
		u->eps[u->ep_pos[i]].prefix = (int32_t)q;
		if (q >= 0 && x->prefixes[q].prefixlen == e->ip.prefixlen &&
		    !mseg_cidr_cmp(&x->prefixes[q], &e->ip))
			is_ep_prefix[q] = true; /* the endpoint's own /32 entry wins */
		if (q < 0)
			continue;
		r = mseg_compile_grow((void **)&u->keys, &cap_keys, u->n_keys, sizeof(*u->keys));
		if (r < 0)
			return r;
		u->keys[u->n_keys++] = (struct mseg_class_key){
		    .identity = u->ep_identity[i], .has_prefix = true, .prefix = x->prefixes[q]};
	}
	for (size_t q = 0; q < x->n_prefixes; q++) {
		if (is_ep_prefix[q])
			continue;
		r = mseg_compile_grow((void **)&u->keys, &cap_keys, u->n_keys, sizeof(*u->keys));
		if (r < 0)
			return r;
		u->keys[u->n_keys++] =
		    (struct mseg_class_key){.has_prefix = true, .prefix = x->prefixes[q]};
	}
	compile_sort(u->keys, u->n_keys, sizeof(*u->keys), key_cmp_q);
	for (size_t i = 0; i < u->n_keys; i++)
		if (!w || mseg_class_key_cmp(&u->keys[w - 1], &u->keys[i]))
			u->keys[w++] = u->keys[i];
	u->n_keys = w;
	/* keep the numbers of classes that existed before; new ones in key order */
	u->next_class = c->next_class;
	for (size_t i = 0; i < u->n_keys; i++) {
		const struct mseg_class_key *old =
		    c->n_keys
			? bsearch(&u->keys[i], c->keys, c->n_keys, sizeof(*c->keys), key_cmp_q)
			: NULL;

		u->keys[i].num = old ? old->num : 0;
	}
	for (size_t i = 0; i < u->n_keys; i++)
		if (!u->keys[i].num) {
			if (u->next_class == UINT32_MAX)
				return -ENOSPC;
			u->keys[i].num = u->next_class++;
		}

	/* classes: one per identity (its own number) plus one per key */
	x->classes = malloc((x->n_idents + u->n_keys + 1) * sizeof(*x->classes));
	x->ident_cls = malloc((x->n_idents + u->n_keys + 1) * sizeof(*x->ident_cls));
	if (!x->classes || !x->ident_cls)
		return -ENOMEM;
	for (size_t i = 0; i < n_ep; i++) {
		int id = ident_find(x, u->ep_identity[i]);

		if (ep_prefix[i] < 0 && id >= 0 && !x->idents[id].n_cls) {
			/* n_cls doubles as "has a prefix-less class" until counted below */
			x->idents[id].n_cls = 1;
		}
	}
	for (size_t i = 0; i < x->n_idents; i++)
		if (x->idents[i].n_cls)
			x->classes[x->n_classes++] = (struct cclass){.num = x->idents[i].id,
								     .identity = x->idents[i].id,
								     .prefix = -1,
								     .ident = (int32_t)i};
	for (size_t i = 0; i < u->n_keys; i++) {
		const struct mseg_class_key *k = &u->keys[i];

		x->classes[x->n_classes++] = (struct cclass){
		    .num = k->num,
		    .identity = k->identity,
		    .prefix =
			(int32_t)mseg_compile_prefix_find(x->prefixes, x->n_prefixes, &k->prefix),
		    .ident = k->identity ? ident_find(x, k->identity) : -1,
		};
	}
	compile_sort(x->classes, x->n_classes, sizeof(*x->classes), class_num_cmp);
	/* group class indices by identity (counting sort keeps them ascending by number) */
	for (size_t i = 0; i < x->n_idents; i++)
		x->idents[i].n_cls = 0;
	for (size_t i = 0; i < x->n_classes; i++)
		if (x->classes[i].ident >= 0)
			x->idents[x->classes[i].ident].n_cls++;
	for (size_t i = 0, off = 0; i < x->n_idents; i++) {
		x->idents[i].cls_first = off;
		off += x->idents[i].n_cls;
		x->idents[i].n_cls = 0;
	}
	for (size_t i = 0; i < x->n_classes; i++)
		if (x->classes[i].ident >= 0) {
			struct cident *id = &x->idents[x->classes[i].ident];

			x->ident_cls[id->cls_first + id->n_cls++] = (uint32_t)i;
		}
	r = mseg_compile_prefix_index(x);
	if (r < 0)
		return r;

	/* ipcache */
	u->ipc = malloc((n_ep + x->n_prefixes + 1) * sizeof(*u->ipc));
	if (!u->ipc)
		return -ENOMEM;
	for (size_t i = 0; i < n_ep; i++) {
		const struct mseg_endpoint *e = &t->endpoints[i];
		uint32_t cls = u->ep_identity[i];

		if (e->ip.family != MSEG_AF_INET)
			continue;
		if (ep_prefix[i] >= 0) {
			struct mseg_class_key k = {.identity = cls,
						   .has_prefix = true,
						   .prefix = x->prefixes[ep_prefix[i]]};

			cls = ((const struct mseg_class_key *)bsearch(&k, u->keys, u->n_keys,
								      sizeof(k), key_cmp_q))
				  ->num;
		}
		u->ipc[u->n_ipc++] = (struct mseg_ipcache_entry){
		    .prefix = e->ip, .identity = u->ep_identity[i], .class = cls};
	}
	for (size_t q = 0; q < x->n_prefixes; q++) {
		struct mseg_class_key k = {.has_prefix = true, .prefix = x->prefixes[q]};

		if (is_ep_prefix[q])
			continue;
		u->ipc[u->n_ipc++] = (struct mseg_ipcache_entry){
		    .prefix = x->prefixes[q],
		    .identity = MSEG_ID_WORLD,
		    .class = ((const struct mseg_class_key *)bsearch(&k, u->keys, u->n_keys,
								     sizeof(k), key_cmp_q))
				 ->num,
		};
	}
	compile_sort(u->ipc, u->n_ipc, sizeof(*u->ipc), ipc_cmp_q);
	/* two endpoints claiming one address: keep one deterministic entry */
	w = 0;
	for (size_t i = 0; i < u->n_ipc; i++)
		if (!w || mseg_cidr_cmp(&u->ipc[w - 1].prefix, &u->ipc[i].prefix))
			u->ipc[w++] = u->ipc[i];
	u->n_ipc = w;
	return 0;
}

/* The peer groups: the previous update's while the policies are the same, in the same order. */
static int peer_groups(const struct mseg_compiler *c, struct upd *u)
{
	struct cctx *x = &u->x;
	size_t n = x->set->n_policies;
	bool same = u->same_pol_layout || (u->policies_same && c->n_pol_ids == n);

	for (size_t i = 0; same && !u->same_pol_layout && i < n; i++)
		same = x->set->policies[i].id == c->pol_ids[i];
	if (!same || !c->peer_group) {
		int r = mseg_compile_peer_groups(x);

		if (r < 0)
			return r;
	} else {
		x->peer_group = malloc((x->peer_off[n] + 1) * sizeof(*x->peer_group));
		if (!x->peer_group)
			return -ENOMEM;
		memcpy(x->peer_group, c->peer_group, x->peer_off[n] * sizeof(*x->peer_group));
		x->n_groups = c->n_groups;
	}
	/* the classes a peer matches, memoised per group */
	x->memo = calloc(x->n_groups + 1, sizeof(*x->memo));
	if (!x->memo)
		return -ENOMEM;
	x->n_memo = x->n_groups;
	return 0;
}

/* Protocol list, peer memo layout, policies indexed by namespace, policy digests. */
static int build_policy_index(const struct mseg_compiler *c, struct upd *u)
{
	struct cctx *x = &u->x;
	const struct mseg_policy_set *set = x->set;
	bool seen[256] = {false};
	size_t n_peers = 0, n_ns = 0, n_cluster = 0;
	_cleanup_free_ const char **ns = NULL;
	_cleanup_free_ size_t *ns_off = NULL;
	_cleanup_free_ int32_t *pol_ns = NULL;
	int r;

	seen[MSEG_PROTO_ICMP] = seen[MSEG_PROTO_TCP] = seen[MSEG_PROTO_UDP] =
	    seen[MSEG_PROTO_SCTP] = true;
	x->peer_off = malloc((set->n_policies + 1) * sizeof(*x->peer_off));
	x->pol_by_ns = malloc((set->n_policies + 1) * sizeof(*x->pol_by_ns));
	u->ph = malloc((set->n_policies + 1) * sizeof(*u->ph));
	/* the namespaces that have endpoints, in order (idents_by_ns is sorted by namespace) */
	ns = malloc((x->n_idents + 1) * sizeof(*ns));
	ns_off = calloc(x->n_idents + 2, sizeof(*ns_off));
	pol_ns = malloc((set->n_policies + 1) * sizeof(*pol_ns));
	if (!x->peer_off || !x->pol_by_ns || !u->ph || !ns || !ns_off || !pol_ns)
		return -ENOMEM;
	/* The hint names no policy and the set lists the same ids in the same order: the peer
	 * numbering and the protocols are the previous update's, and walking every rule of a
	 * large set again costs more than the rest of a small change. */
	u->same_pol_layout = u->hint && !u->hint->n_policies && c->pol_ids &&
			     c->n_pol_ids == set->n_policies;
	for (size_t i = 0; u->same_pol_layout && i < set->n_policies; i++)
		u->same_pol_layout = set->policies[i].id == c->pol_ids[i];
	if (u->same_pol_layout) {
		memcpy(x->peer_off, c->peer_off, (set->n_policies + 1) * sizeof(*x->peer_off));
		n_peers = c->peer_off[set->n_policies];
		for (size_t i = 0; i < c->n_protos; i++)
			seen[c->protos[i]] = true;
	}
	for (size_t i = 0; i < x->n_idents; i++) {
		const char *name = x->idents[x->idents_by_ns[i]].rep->namespace;

		if (!n_ns || strcmp(ns[n_ns - 1], name))
			ns[n_ns++] = name;
	}
	for (size_t i = 0; i < set->n_policies; i++) {
		const struct mseg_policy *p = &set->policies[i];

		if (!u->same_pol_layout)
			x->peer_off[i] = n_peers;
		pol_ns[i] = -1;
		if (p->kind == MSEG_KIND_CLUSTER_POLICY)
			n_cluster++;
		else if (p->namespace) {
			/* a namespaced policy selects only in its namespace: one with no
			 * endpoints there selects nothing and is left out of the index */
			size_t lo = 0, hi = n_ns;

			while (lo < hi) {
				size_t mid = lo + (hi - lo) / 2;
				int k = strcmp(ns[mid], p->namespace);

				if (!k) {
					pol_ns[i] = (int32_t)mid;
					ns_off[mid + 1]++;
					break;
				}
				if (k < 0)
					lo = mid + 1;
				else
					hi = mid;
			}
		}
		for (int d = 0; d < 2 && !u->same_pol_layout; d++) {
			const struct mseg_rule *rules = d ? p->egress_rules : p->ingress_rules;
			size_t nr = d ? p->n_egress_rules : p->n_ingress_rules;

			for (size_t k = 0; k < nr; k++) {
				n_peers += rules[k].n_peers;
				for (size_t j = 0; j < rules[k].n_ports; j++)
					seen[rules[k].ports[j].proto] = true;
			}
		}
		u->ph[i] = (struct polhash){.id = p->id};
		r = mseg_compile_hint_policy_digest(c, u, p, &u->ph[i].hash);
		if (r < 0)
			return r;
	}
	x->peer_off[set->n_policies] = n_peers;
	if (!u->same_pol_layout) {
		u->pol_ids = malloc((set->n_policies + 1) * sizeof(*u->pol_ids));
		if (!u->pol_ids)
			return -ENOMEM;
		for (size_t i = 0; i < set->n_policies; i++)
			u->pol_ids[i] = set->policies[i].id;
	}
	u->n_ph = set->n_policies;
	compile_sort(u->ph, u->n_ph, sizeof(*u->ph), polhash_cmp);
	for (size_t i = 1; i < u->n_ph; i++)
		if (u->ph[i].id == u->ph[i - 1].id)
			return -EINVAL; /* policy ids must be unique */
	/* counting sort by namespace, policy order within one; ClusterPolicies after */
	for (size_t k = 0; k < n_ns; k++)
		ns_off[k + 1] += ns_off[k];
	x->n_pol_ns = ns_off[n_ns];
	x->n_pol_all = x->n_pol_ns;
	for (size_t i = 0; i < set->n_policies; i++) {
		if (pol_ns[i] >= 0)
			x->pol_by_ns[ns_off[pol_ns[i]]++] = i;
		else if (set->policies[i].kind == MSEG_KIND_CLUSTER_POLICY)
			x->pol_by_ns[x->n_pol_all++] = i;
	}
	x->protos = malloc(256);
	if (!x->protos)
		return -ENOMEM;
	for (int p = 1; p < 256; p++)
		if (seen[p])
			x->protos[x->n_protos++] = (uint8_t)p;
	return 0;
}

ssize_t mseg_compile_res_find(struct idres *const *v, size_t n, uint32_t identity)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid]->identity == identity)
			return (ssize_t)mid;
		if (v[mid]->identity < identity)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* The directions (bit 1 << enum mseg_dir) where some rule of policy pol has a peer matching
 * one of the new classes. Tested class by class: computing every peer's full class list would
 * cost a full compile. */
static unsigned policy_touches(struct cctx *x, size_t pol, bool any_new_ident)
{
	const struct mseg_policy *p = &x->set->policies[pol];
	size_t flat = x->peer_off[pol]; /* peers are numbered ingress rules first, in order */
	unsigned dirs = 0;

	for (int d = 0; d < 2; d++) {
		const struct mseg_rule *rules = d ? p->egress_rules : p->ingress_rules;
		size_t nr = d ? p->n_egress_rules : p->n_ingress_rules;

		for (size_t k = 0; k < nr; k++) {
			const struct mseg_rule *rule = &rules[k];

			/* a peer-less rule with named egress ports resolves per remote */
			if (!rule->n_peers && d == MSEG_DIR_EGRESS && any_new_ident)
				for (size_t j = 0; j < rule->n_ports; j++)
					if (rule->ports[j].named_port)
						dirs |= 1u << d;
			for (size_t j = 0; j < rule->n_peers; j++, flat++)
				for (size_t i = 0; !(dirs & 1u << d) && i < x->n_new; i++)
					if (mseg_compile_peer_hits(x, p, flat, &rule->peers[j],
								   x->new_list[i]))
						dirs |= 1u << d;
		}
	}
	return dirs;
}

static bool same_ports(const struct mseg_endpoint *a, const struct mseg_endpoint *b)
{
	if (a->n_ports != b->n_ports)
		return false;
	for (size_t i = 0; i < a->n_ports; i++)
		if (a->ports[i].port != b->ports[i].port || a->ports[i].proto != b->ports[i].proto ||
		    strcmp(a->ports[i].name, b->ports[i].name))
			return false;
	return true;
}

/*
 * An existing identity class likely to be matched by the same rules as the new class c: same
 * listed prefix, namespace and named ports, the most labels in common. Whether the rules are
 * indeed the same is checked per identity; this only picks the candidate.
 */
static int32_t sibling_class(const struct cctx *x, size_t c)
{
	const struct cclass *cl = &x->classes[c];
	const struct mseg_endpoint *rep;
	int32_t best = -1;
	size_t best_score = 0;

	if (cl->ident < 0)
		return -1;
	rep = x->idents[cl->ident].rep;
	for (size_t k = 0; k < x->n_classes; k++) {
		const struct cclass *o = &x->classes[k];
		const struct mseg_endpoint *orep;
		size_t score = 1;

		if (o->ident < 0 || o->prefix != cl->prefix || x->new_ord[k] >= 0)
			continue;
		orep = x->idents[o->ident].rep;
		if (strcmp(orep->namespace, rep->namespace) || !same_ports(orep, rep))
			continue;
		for (size_t i = 0; i < rep->labels.n; i++) {
			const char *v = mseg_labels_get(&orep->labels, rep->labels.items[i].key);

			score += v && !strcmp(v, rep->labels.items[i].value);
		}
		if (score > best_score) {
			best = (int32_t)k;
			best_score = score;
		}
	}
	return best;
}

/* Few new classes (the common incremental case): memoise which peers match them, as every
 * identity they reach asks the same questions of the same shared policies. */
#define NEWHIT_MAX_CLASSES 8

/* Which identities need compiling: new ones, ones whose policies changed, ones some rule of
 * theirs now reaches a new class, ones with entries naming a class that is gone. Erring
 * towards recompiling is always exact, only slower. */
static int plan_and_compile(struct mseg_compiler *c, struct upd *u)
{
	struct cctx *x = &u->x;
	_cleanup_free_ uint32_t *changed = NULL;
	_cleanup_free_ size_t *changed_now = NULL, *cand = NULL;
	_cleanup_free_ struct polhash *pol_index = NULL; /* id -> index in set, as hash field */
	_cleanup_free_ int8_t *touch = NULL;
	size_t n_changed = 0, n_changed_now = 0, cap_gone = 0, cap_cand = 0;
	bool any_new_ident = false;
	int r;

	changed = malloc((c->n_ph + u->n_ph + 1) * sizeof(*changed));
	changed_now = malloc((u->n_ph + 1) * sizeof(*changed_now));
	x->new_list = malloc((x->n_classes + 1) * sizeof(*x->new_list));
	pol_index = malloc((x->set->n_policies + 1) * sizeof(*pol_index));
	touch = calloc(x->set->n_policies + 1, sizeof(*touch));
	u->res = calloc(x->n_idents + 1, sizeof(*u->res));
	u->res_new = calloc(x->n_idents + 1, sizeof(*u->res_new));
	u->delta_base = calloc(x->n_idents + 1, sizeof(*u->delta_base));
	u->delta_add = calloc(x->n_idents + 1, sizeof(*u->delta_add));
	u->n_delta_add = calloc(x->n_idents + 1, sizeof(*u->n_delta_add));
	if (!changed || !changed_now || !x->new_list || !pol_index || !touch || !u->res ||
	    !u->res_new || !u->delta_base || !u->delta_add || !u->n_delta_add)
		return -ENOMEM;
	for (size_t i = 0; i < x->set->n_policies; i++)
		pol_index[i] = (struct polhash){.id = x->set->policies[i].id, .hash = i};
	compile_sort(pol_index, x->set->n_policies, sizeof(*pol_index), polhash_cmp);

	/* policies removed or changed (old ids), and changed or added (current indices) */
	for (size_t i = 0; i < c->n_ph; i++) {
		const struct polhash *now = polhash_find(u->ph, u->n_ph, c->ph[i].id);

		if (!now || now->hash != c->ph[i].hash)
			changed[n_changed++] = c->ph[i].id;
	}
	for (size_t i = 0; i < u->n_ph; i++) {
		const struct polhash *old = polhash_find(c->ph, c->n_ph, u->ph[i].id);

		if (!old || old->hash != u->ph[i].hash)
			changed_now[n_changed_now++] =
			    polhash_find(pol_index, x->set->n_policies, u->ph[i].id)->hash;
	}
	compile_sort(changed, n_changed, sizeof(*changed), u32_cmp);

	/* classes that did not exist before, and class numbers that are gone: a number always
	 * means the same class (identity ids are stable, prefix classes are never renumbered).
	 * Both lists of numbers are ascending: one merge. */
	u->cls_nums = malloc((x->n_classes + 1) * sizeof(*u->cls_nums));
	if (!u->cls_nums)
		return -ENOMEM;
	for (size_t i = 0; i < x->n_classes; i++)
		u->cls_nums[i] = x->classes[i].num;
	for (size_t i = 0, j = 0; i < x->n_classes || j < c->n_cls_nums;) {
		if (j == c->n_cls_nums || (i < x->n_classes && u->cls_nums[i] < c->cls_nums[j])) {
			x->new_list[x->n_new++] = i;
			any_new_ident |= x->classes[i].ident >= 0;
			i++;
		} else if (i == x->n_classes || c->cls_nums[j] < u->cls_nums[i]) {
			r = mseg_compile_grow((void **)&u->gone, &cap_gone, u->n_gone,
					      sizeof(*u->gone));
			if (r < 0)
				return r;
			u->gone[u->n_gone++] = c->cls_nums[j++];
		} else {
			i++, j++;
		}
	}
	if (x->n_new && x->n_new <= NEWHIT_MAX_CLASSES) {
		x->new_ord = malloc((x->n_classes + 1) * sizeof(*x->new_ord));
		x->new_sib = malloc((x->n_new + 1) * sizeof(*x->new_sib));
		if (!x->new_ord || !x->new_sib)
			return -ENOMEM;
		for (size_t i = 0; i < x->n_classes; i++)
			x->new_ord[i] = -1;
		for (size_t i = 0; i < x->n_new; i++)
			x->new_ord[x->new_list[i]] = (int32_t)i;
		x->n_hitcls = x->n_new;
		for (size_t i = 0; i < x->n_new; i++) {
			x->new_sib[i] = sibling_class(x, x->new_list[i]);
			if (x->new_sib[i] >= 0 && x->new_ord[x->new_sib[i]] < 0)
				x->new_ord[x->new_sib[i]] = (int32_t)x->n_hitcls++;
		}
		x->newhit = calloc(x->n_groups * x->n_hitcls + 1, sizeof(*x->newhit));
		if (!x->newhit)
			return -ENOMEM;
	}

	for (size_t i = 0; i < x->n_idents; i++) {
		const struct cident *id = &x->idents[i];
		ssize_t old = mseg_compile_res_find(c->res, c->n_res, id->id);
		bool dirty = old < 0;
		const struct idres *o = old >= 0 ? c->res[old] : NULL;

		for (size_t k = 0; !dirty && k < o->n_pols; k++)
			dirty = u32_in(changed, n_changed, o->pols[k]);
		for (size_t k = 0; !dirty && k < n_changed_now; k++) {
			const struct mseg_policy *p = &x->set->policies[changed_now[k]];

			dirty = mseg_compile_policy_selects(x, p, id, MSEG_DIR_INGRESS) ||
				mseg_compile_policy_selects(x, p, id, MSEG_DIR_EGRESS);
		}
		if (!dirty) {
			bool classes = false;

			for (size_t k = 0; !classes && u->n_gone && k < o->n; k++)
				classes = u32_in(u->gone, u->n_gone, o->e[k].remote);
			for (size_t k = 0; !classes && x->n_new && k < o->n_pols; k++) {
				const struct polhash *pi =
				    polhash_find(pol_index, x->set->n_policies, o->pols[k]);

				if (!pi) {
					dirty = true; /* cannot happen: it would have changed */
					break;
				}
				/* touch: 4 | the directions, once known */
				if (!touch[pi->hash])
					touch[pi->hash] =
					    (int8_t)(4 |
						     policy_touches(x, pi->hash, any_new_ident));
				classes = touch[pi->hash] & 3;
			}
			if (!dirty && !classes) {
				u->res[u->n_res++] = c->res[old];
				continue;
			}
			if (!dirty) {
				/* the policies selecting it are the ones that did before */
				const struct polhash *pi = NULL;
				unsigned dirs = u->n_gone ? 3 : 0;

				r = mseg_compile_grow((void **)&cand, &cap_cand, o->n_pols,
						      sizeof(*cand));
				if (r < 0)
					return r;
				for (size_t k = 0; k < o->n_pols; k++) {
					pi = polhash_find(pol_index, x->set->n_policies,
							  o->pols[k]);
					if (!pi)
						break; /* cannot happen: it would have changed */
					cand[k] = pi->hash;
					if (!x->n_new)
						continue;
					if (!touch[pi->hash])
						touch[pi->hash] = (int8_t)(4 | policy_touches(
									   x, pi->hash,
									   any_new_ident));
					dirs |= (unsigned)touch[pi->hash] & 3;
				}
				if (o->n_pols && !pi)
					goto full;
				r = mseg_compile_identity_classes(
				    x, i, o, cand, o->n_pols, dirs, u->gone, u->n_gone,
					    &u->res[u->n_res], &u->delta_add[u->n_res],
					    &u->n_delta_add[u->n_res]);
				if (r < 0)
					return r;
				u->delta_base[u->n_res] = o;
				u->res_new[u->n_res++] = true;
				continue;
			}
		}
full:
		r = mseg_compile_identity(x, i, &u->res[u->n_res]);
		if (r < 0)
			return r;
		u->res_new[u->n_res++] = true;
	}
	for (size_t i = 0; i < u->n_eps; i++)
		u->eps[i].res = u->res[ident_find(x, u->eps[i].identity)];
	return 0;
}

/* ---- public API ------------------------------------------------------------------------- */

int mseg_compiler_new(struct mseg_compiler **ret, struct mseg_identities *ids,
		      const struct mseg_compile_opts *opts)
{
	struct mseg_compiler *c;

	if (!ret || !ids)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->ids = ids;
	c->default_deny = opts && opts->default_deny;
	c->next_class = MSEG_CLASS_CIDR_BASE;
	*ret = c;
	return 0;
}

static void compiler_forget(struct mseg_compiler *c)
{
	for (size_t i = 0; i < c->n_res; i++)
		mseg_idres_free(c->res[i]);
	free(c->res);
	free(c->keys);
	free(c->ph);
	free(c->eps);
	free(c->ipc);
	free(c->ep_identity);
	free(c->prefixes);
	free(c->cls_nums);
	free(c->pol_ids);
	free(c->peer_off);
	free(c->peer_group);
	mseg_compiled_free(c->table);
}

void mseg_compiler_free(struct mseg_compiler *c)
{
	if (!c)
		return;
	compiler_forget(c);
	free(c);
}

int mseg_compiler_update(struct mseg_compiler *c, const struct mseg_topology *topo,
			 const struct mseg_policy_set *policies, struct mseg_table_diff *diff)
{
	return mseg_compiler_update_hinted(c, topo, policies, NULL, diff);
}

int mseg_compiler_update_hinted(struct mseg_compiler *c, const struct mseg_topology *topo,
				const struct mseg_policy_set *policies,
				const struct mseg_compile_hint *hint, struct mseg_table_diff *diff)
{
	static const struct mseg_policy_set empty_set;
	static const struct mseg_topology empty_topo;
	_cleanup_(mseg_compile_hint_done) struct hintset hs = {0};
	struct mseg_table_diff d = {0};
	struct upd u = {0};
	int r;

	if (!c)
		return -EINVAL;
	u.x.topo = topo ? topo : &empty_topo;
	u.x.set = policies ? policies : &empty_set;
	u.x.default_deny = c->default_deny;
	/* a hint says what changed since the previous update: the first one has none */
	if (hint && c->ph) {
		r = mseg_compile_hint_init(&hs, hint);
		if (r < 0)
			return r;
		u.hint = &hs;
	}

	r = build_identities(c, &u);
	if (r >= 0)
		r = build_policy_index(c, &u);
	if (r >= 0 && u.hint && u.hint->verify)
		r = mseg_compile_hint_check_removed(c, &u);
	if (r >= 0 && c->ph && u.n_ph == c->n_ph) {
		u.policies_same = true;
		for (size_t i = 0; i < u.n_ph && u.policies_same; i++)
			u.policies_same =
			    u.ph[i].id == c->ph[i].id && u.ph[i].hash == c->ph[i].hash;
	}
	if (r >= 0)
		r = peer_groups(c, &u);
	if (r >= 0)
		r = build_classes(c, &u);
	if (r >= 0)
		r = plan_and_compile(c, &u);
	if (r >= 0 && diff)
		r = mseg_compile_diff(c, &u, &d);
	if (r < 0) {
		mseg_table_diff_free(&d);
		upd_done(&u, false);
		return r;
	}

	/* commit: identity results not carried over are freed with the old state */
	for (size_t i = 0; i < c->n_res; i++)
		if (mseg_compile_res_find(u.res, u.n_res, c->res[i]->identity) < 0 ||
		    u.res[mseg_compile_res_find(u.res, u.n_res, c->res[i]->identity)] != c->res[i])
			mseg_idres_free(c->res[i]);
	free(c->res);
	c->res = TAKE_PTR(u.res);
	c->n_res = u.n_res;
	free(c->keys);
	c->keys = TAKE_PTR(u.keys);
	c->n_keys = u.n_keys;
	c->next_class = u.next_class;
	free(c->ph);
	c->ph = TAKE_PTR(u.ph);
	c->n_ph = u.n_ph;
	free(c->eps);
	c->eps = TAKE_PTR(u.eps);
	c->n_eps = u.n_eps;
	free(c->ipc);
	c->ipc = TAKE_PTR(u.ipc);
	c->n_ipc = u.n_ipc;
	if (!u.same_pol_layout) {
		free(c->pol_ids);
		c->pol_ids = TAKE_PTR(u.pol_ids);
		c->n_pol_ids = u.x.set->n_policies;
		free(c->peer_off);
		c->peer_off = TAKE_PTR(u.x.peer_off);
		free(c->peer_group);
		c->peer_group = TAKE_PTR(u.x.peer_group);
		c->n_groups = u.x.n_groups;
		memcpy(c->protos, u.x.protos, u.x.n_protos);
		c->n_protos = u.x.n_protos;
	}
	free(c->cls_nums);
	c->cls_nums = TAKE_PTR(u.cls_nums);
	c->n_cls_nums = u.x.n_classes;
	free(c->prefixes);
	c->prefixes = TAKE_PTR(u.x.prefixes);
	c->n_prefixes = u.x.n_prefixes;
	free(c->ep_identity);
	c->ep_identity = TAKE_PTR(u.ep_identity);
	c->n_ep_identity = u.x.topo->n_endpoints;
	mseg_compiled_free(c->table);
	c->table = NULL;
	upd_done(&u, true);
	if (diff)
		*diff = d;
	return 0;
}

static int materialise(const struct mseg_compiler *c, struct mseg_compiled **ret)
{
	struct mseg_compiled *t;
	size_t n = 0, k = 0;

	for (size_t i = 0; i < c->n_eps; i++)
		n += c->eps[i].res->n;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->entries = malloc((n + 1) * sizeof(*t->entries));
	t->defaults[0] = malloc((c->n_eps + 1) * sizeof(*t->defaults[0]));
	t->defaults[1] = malloc((c->n_eps + 1) * sizeof(*t->defaults[1]));
	t->ipcache = malloc((c->n_ipc + 1) * sizeof(*t->ipcache));
	t->endpoint_identity = malloc((c->n_ep_identity + 1) * sizeof(*t->endpoint_identity));
	if (!t->entries || !t->defaults[0] || !t->defaults[1] || !t->ipcache ||
	    !t->endpoint_identity) {
		mseg_compiled_free(t);
		return -ENOMEM;
	}
	for (size_t i = 0; i < c->n_eps; i++) {
		const struct eprec *e = &c->eps[i];

		for (size_t j = 0; j < e->res->n; j++) {
			t->entries[k] = e->res->e[j];
			t->entries[k++].endpoint = e->endpoint;
		}
		for (int d = 0; d < 2; d++)
			t->defaults[d][i] = (struct mseg_endpoint_default){
			    .endpoint = e->endpoint,
			    .verdict = e->res->def[d].verdict,
			    .audit = e->res->def[d].audit,
			    .decided_by = e->res->def[d].by,
			    .audit_by = e->res->def[d].audit_by,
			};
	}
	t->n_entries = n;
	t->n_defaults = c->n_eps;
	/* n == 0 comes with NULL arrays (nothing compiled yet): memcpy must not see them */
	if (c->n_ipc)
		memcpy(t->ipcache, c->ipc, c->n_ipc * sizeof(*c->ipc));
	t->n_ipcache = c->n_ipc;
	if (c->n_ep_identity)
		memcpy(t->endpoint_identity, c->ep_identity,
		       c->n_ep_identity * sizeof(uint32_t));
	t->n_endpoints = c->n_ep_identity;
	*ret = t;
	return 0;
}

const struct mseg_compiled *mseg_compiler_table(const struct mseg_compiler *c)
{
	/* The flat table is a cache of the compiler's state, built on first use after an
	 * update; the compiler object itself is never const, only this accessor's view. */
	struct mseg_compiler *mc = (struct mseg_compiler *)c;

	if (!c)
		return NULL;
	if (!mc->table && materialise(c, &mc->table) < 0)
		return NULL;
	return mc->table;
}

void mseg_compiled_free(struct mseg_compiled *c)
{
	if (!c)
		return;
	free(c->entries);
	free(c->defaults[0]);
	free(c->defaults[1]);
	free(c->ipcache);
	free(c->endpoint_identity);
	free(c);
}

int mseg_compile(const struct mseg_topology *topo, const struct mseg_policy_set *policies,
		 const struct mseg_compile_opts *opts, struct mseg_identities *ids,
		 struct mseg_compiled **ret)
{
	struct mseg_compiler *c = NULL;
	int r;

	if (!ret)
		return -EINVAL;
	r = mseg_compiler_new(&c, ids, opts);
	if (r < 0)
		return r;
	r = mseg_compiler_update(c, topo, policies, NULL);
	if (r >= 0)
		r = materialise(c, ret);
	mseg_compiler_free(c);
	return r;
}
