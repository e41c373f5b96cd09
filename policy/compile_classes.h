/* SPDX-License-Identifier: Apache-2.0 */
/* Private to policy/compile*.c: identities of endpoints, listed prefixes, class keys. */
#ifndef MSEG_POLICY_COMPILE_CLASSES_H
#define MSEG_POLICY_COMPILE_CLASSES_H

#include <stdbool.h>
#include <sys/types.h>

#include "policy/compile.h"

/* What a class number stands for: (identity, most specific listed prefix) or a bare prefix
 * (identity 0). Classes of an identity with no listed prefix are the identity itself. */
struct mseg_class_key {
	uint32_t identity;
	bool has_prefix;
	struct mseg_cidr prefix;
	uint32_t num;
};

/* The identity of an endpoint: its labels + io.mseg.namespace=<ns> + the namespace labels as
 * io.mseg.namespace.labels.<k>=<v> + named ports as io.mseg.port.<name>=<port>/<PROTO>. */
int mseg_compile_endpoint_identity(struct mseg_identities *ids, const struct mseg_endpoint *ep,
				   const struct mseg_labels *ns_labels, uint32_t *ret);
/* Every IPv4 ipBlock cidr and except of the set, sorted, unique (malloc'd). */
int mseg_compile_collect_prefixes(const struct mseg_policy_set *set, struct mseg_cidr **ret,
				  size_t *n_ret);
ssize_t mseg_compile_prefix_find(const struct mseg_cidr *prefixes, size_t n,
				 const struct mseg_cidr *c);
/* Index of the longest listed prefix holding addr, or -1; lens: bit L set when some
 * listed prefix has length L. */
ssize_t mseg_compile_most_specific(const struct mseg_cidr *prefixes, size_t n,
				   const struct mseg_cidr *addr, uint64_t lens);
struct cctx;
/* Builds ctx->prefix_cls/prefix_cls_first from ctx->classes (see compile_internal.h). */
int mseg_compile_prefix_index(struct cctx *x);
/* Calls fn for every class whose listed prefix lies inside cidr, in prefix order; stops at
 * the first negative return and returns it. */
int mseg_compile_classes_inside(const struct cctx *x, const struct mseg_cidr *cidr,
				int (*fn)(size_t cls, const struct mseg_cidr *prefix, void *arg),
				void *arg);
int mseg_class_key_cmp(const struct mseg_class_key *a, const struct mseg_class_key *b);
int mseg_ipcache_entry_cmp(const struct mseg_ipcache_entry *a, const struct mseg_ipcache_entry *b);

#endif
