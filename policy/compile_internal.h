/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to policy/compile*.c: the state of one compilation (identities present, listed
 * prefixes, security classes, memoised peer matches) and the per-identity result the compiler
 * caches between updates. Endpoints with the same identity have the same table (subjects and
 * peers select by labels and namespace, and named ports are part of the identity labels), so
 * the work is done once per identity and replicated per endpoint.
 */
#ifndef MSEG_POLICY_COMPILE_INTERNAL_H
#define MSEG_POLICY_COMPILE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <stdlib.h>
#include <sys/types.h>

#include "policy/compile.h"

/*
 * Sorts like a stable qsort(). Most arrays an incremental update sorts are the previous
 * update's order plus a few elements, or a few sorted pieces put together (endpoints, then
 * prefixes): those are merged in linear time; anything else goes to qsort(). An empty
 * (possibly NULL) array is fine, unlike with qsort().
 */
void mseg_compile_sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));
#define compile_sort mseg_compile_sort

/* The resolved outcome for one point of (remote, proto, port). */
struct cval {
	uint8_t verdict;
	uint8_t audit;
	struct mseg_decider by;
	struct mseg_decider audit_by; /* zero unless audit */
};

/* An identity present in the topology being compiled. */
struct cident {
	uint32_t id;
	const struct mseg_endpoint *rep; /* first endpoint with this identity */
	const struct mseg_labels *ns_labels;
	size_t cls_first, n_cls; /* its classes: indices ctx->ident_cls[cls_first..] */
};

/* A security class: what a remote address maps to in the ipcache. */
struct cclass {
	uint32_t num;
	uint32_t identity; /* 0 for a bare prefix */
	int32_t prefix;	   /* index into ctx->prefixes, -1 when no listed prefix holds it */
	int32_t ident;	   /* index into ctx->idents, -1 for a bare prefix */
};

struct peer_memo {
	bool done;
	uint32_t *cls; /* matching class indices, ascending */
	size_t n;
};

struct cctx {
	const struct mseg_topology *topo;
	const struct mseg_policy_set *set;
	bool default_deny;

	struct cident *idents; /* sorted by id */
	size_t n_idents;
	size_t *idents_by_ns; /* ident indices sorted by namespace name */

	struct mseg_cidr *prefixes; /* every ipBlock cidr and except, sorted, unique */
	size_t n_prefixes;

	struct cclass *classes; /* sorted by num */
	size_t n_classes;
	uint32_t *ident_cls;
	/* classes grouped by their listed prefix, in prefix (address) order, so an ipBlock peer
	 * finds the classes inside its cidr by binary search instead of testing every class:
	 * prefix p's classes are prefix_cls[prefix_cls_first[p] .. prefix_cls_first[p + 1]) */
	uint32_t *prefix_cls;
	size_t *prefix_cls_first;

	uint8_t *protos; /* every protocol a port entry can name, ascending */
	size_t n_protos;

	size_t *peer_off; /* per policy: flat index of its first peer ([n] = number of peers) */
	struct peer_memo *memo;
	size_t n_memo;
	/* policy indices: the namespaced ones of namespaces with endpoints, sorted by namespace,
	 * [0, n_pol_ns); then the ClusterPolicies, [n_pol_ns, n_pol_all) */
	size_t *pol_by_ns;
	size_t n_pol_ns, n_pol_all;

	/* incremental updates: the classes new since the previous update (indices into classes)
	 * and, when they are few, which peers match them (memoised across the identities a new
	 * class reaches: [flat peer * n_new + position in new_list], 0 unknown, 1 yes, -1 no) */
	size_t *new_list;
	size_t n_new;
	int32_t *new_ord; /* per class: its memo column or -1; NULL when not memoised */
	int8_t *newhit;   /* indexed by peer group rather than peer */
	size_t n_hitcls;  /* memo columns: the new classes, then their siblings */
	/* per new class, an existing class whose entries it shares when the same rules match
	 * both (same prefix, namespace and named ports), or -1; NULL when none is looked for */
	int32_t *new_sib;
	/* peers that match the same classes share a group (policies repeat their peers) */
	uint32_t *peer_group; /* per flat peer */
	size_t n_groups;
};

/* The compiled result of one identity (endpoint field 0 in entries). */
struct idres {
	uint32_t identity;
	struct mseg_table_entry *e; /* sorted by (dir, remote, proto, port_lo) */
	size_t n;
	struct cval def[2];
	uint32_t *pols; /* ids of policies selecting it (either direction), ascending */
	size_t n_pols;
};

void mseg_idres_free(struct idres *r);
int mseg_compile_identity(struct cctx *x, size_t ident, struct idres **ret);
/*
 * Only the entries of the classes new since old was compiled (x->new_list; old's policies
 * unchanged): pols are the indices of the policies selecting the identity (old->pols), dirs
 * the directions (bit 1 << enum mseg_dir) where some rule of theirs may reach a new class. The
 * entries added are also returned in *added (sorted; NULL when none), for the difference.
 */
int mseg_compile_identity_classes(struct cctx *x, size_t ident, const struct idres *old,
				  const size_t *pols, size_t n_pols, unsigned dirs,
				  const uint32_t *gone, size_t n_gone, struct idres **ret,
				  struct mseg_table_entry **added, size_t *n_added);
bool mseg_compile_peer_matches_class(const struct cctx *x, const struct mseg_policy *p,
				     const struct mseg_peer *peer, size_t cls);
/* The same for the peer at flat index flat_peer, memoised when cls is new (x->newhit). */
bool mseg_compile_peer_hits(struct cctx *x, const struct mseg_policy *p, size_t flat_peer,
			    const struct mseg_peer *peer, size_t cls);
/* The classes a peer of policy p matches (memoised). */
int mseg_compile_peer_classes(struct cctx *x, size_t pol, size_t flat_peer,
			      const struct mseg_peer *peer, const struct peer_memo **ret);
bool mseg_compile_policy_selects(const struct cctx *x, const struct mseg_policy *p,
				 const struct cident *id, int dir);
int mseg_compile_entry_cmp(const struct mseg_table_entry *a, const struct mseg_table_entry *b);
bool mseg_cval_equal(const struct cval *a, const struct cval *b);

/* ---- the compiler's state between updates, and the state of one update ---------------- */

struct polhash {
	uint32_t id;
	uint64_t hash;
};

struct eprec {
	uint32_t endpoint;
	uint32_t identity;
	uint64_t digest; /* of what the identity is made of, to skip rebuilding it */
	struct idres *res;
	/* the most specific listed prefix holding ip (index, -1 for none), reused while the
	 * prefixes and the address stay the same */
	struct mseg_cidr ip;
	int32_t prefix;
	uint32_t topo; /* position in the topology */
};

struct mseg_compiler {
	struct mseg_identities *ids;
	bool default_deny;
	uint32_t next_class;
	/* what the previous update produced */
	struct mseg_class_key *keys; /* sorted by key */
	size_t n_keys;
	struct polhash *ph; /* sorted by id */
	size_t n_ph;
	struct idres **res; /* sorted by identity */
	size_t n_res;
	struct eprec *eps; /* sorted by endpoint id */
	size_t n_eps;
	struct mseg_ipcache_entry *ipc; /* sorted */
	size_t n_ipc;
	uint32_t *ep_identity; /* topology order */
	size_t n_ep_identity;
	struct mseg_cidr *prefixes; /* the listed prefixes, reused while no policy changes */
	size_t n_prefixes;
	uint32_t *cls_nums; /* the numbers of the security classes, ascending */
	size_t n_cls_nums;
	/* the policy set's layout: ids in set order, flat peer offsets ([n] = total), protocols */
	uint32_t *pol_ids;
	size_t n_pol_ids;
	size_t *peer_off;
	uint32_t *peer_group;
	size_t n_groups;
	uint8_t protos[256];
	size_t n_protos;
	struct mseg_compiled *table; /* materialised on demand */
};

/* A hint's names, sorted for lookups (NULL hint: digest everything). */
struct hintset {
	uint32_t *endpoints;
	size_t n_endpoints;
	uint32_t *policies;
	size_t n_policies;
	const char **namespaces;
	size_t n_namespaces;
	bool verify;
};

struct upd {
	struct cctx x;
	const struct hintset *hint; /* NULL: no hint, or the compiler's first update */
	bool policies_same;	     /* every policy digest equals the previous update's */
	struct mseg_labels *auto_ns; /* labels of namespaces used but not listed */
	size_t n_auto_ns;
	size_t *ns_order; /* topology namespaces sorted by name */
	uint32_t *ep_identity;
	struct mseg_class_key *keys;
	size_t n_keys;
	uint32_t next_class;
	struct mseg_ipcache_entry *ipc;
	size_t n_ipc;
	struct polhash *ph;
	size_t n_ph;
	struct idres **res;
	size_t n_res;
	bool *res_new; /* res[i] was compiled by this update */
	/* res[i] is old res delta_base[i] minus the entries of the gone classes plus
	 * delta_add[i] (set by the new-classes path, so the difference needs no merge) */
	const struct idres **delta_base;
	struct mseg_table_entry **delta_add;
	size_t *n_delta_add;
	uint32_t *gone; /* class numbers gone since the previous update, ascending */
	size_t n_gone;
	uint32_t *cls_nums; /* x.classes[].num */
	bool same_pol_layout; /* peer_off and protos are the compiler's */
	uint32_t *pol_ids;
	struct eprec *eps;
	size_t n_eps;
	size_t *ep_pos; /* topology position -> index in eps */
	int32_t *ep_prefix_prev; /* per topology position: the previous prefix, or -2 */
};

/* Grows *v (elements of size) so that index n fits. */
int mseg_compile_grow(void **v, size_t *cap, size_t n, size_t size);
ssize_t mseg_compile_res_find(struct idres *const *v, size_t n, uint32_t identity);
/* Digests of what a compiled result depends on, to notice changes between updates. */
uint64_t mseg_compile_policy_digest(const struct mseg_policy *p);
uint64_t mseg_compile_endpoint_digest(const struct mseg_endpoint *e,
				      const struct mseg_labels *ns_labels);
/* Hints (compile_hint.c): the sorted names, and the digests they let an update skip. */
int mseg_compile_hint_init(struct hintset *h, const struct mseg_compile_hint *hint);
void mseg_compile_hint_done(struct hintset *h);
int mseg_compile_hint_endpoint_digest(const struct upd *u, const struct eprec *prev,
				      const struct mseg_endpoint *e, const struct mseg_labels *nsl,
				      uint64_t *ret);
int mseg_compile_hint_policy_digest(const struct mseg_compiler *c, const struct upd *u,
				    const struct mseg_policy *p, uint64_t *ret);
/* Verify mode: every endpoint or policy that is gone must have been named. */
int mseg_compile_hint_check_removed(const struct mseg_compiler *c, const struct upd *u);
/* Numbers the peers of x->set by what they match (x->peer_group, x->n_groups). */
int mseg_compile_peer_groups(struct cctx *x);
/* Peers matching the same classes whatever the topology: a digest, then the exact test. */
uint64_t mseg_compile_peer_digest(const struct mseg_policy *p, const struct mseg_peer *q);
bool mseg_compile_peer_same(const struct mseg_policy *pa, const struct mseg_peer *a,
			    const struct mseg_policy *pb, const struct mseg_peer *b);
/* The difference between the compiler's previous state and the update u. */
int mseg_compile_diff(const struct mseg_compiler *c, const struct upd *u,
		      struct mseg_table_diff *d);

#endif
