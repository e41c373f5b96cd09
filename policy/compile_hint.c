// SPDX-License-Identifier: Apache-2.0
/*
 * Hints (mseg_compiler_update_hinted()): the caller names what changed since the previous
 * update, and the compiler takes the previous digests of everything else instead of
 * recomputing them; in verify mode it recomputes them anyway and rejects a hint that missed a
 * change, so tests can prove that what a caller names is enough.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy/compile_internal.h"

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static bool u32_in(const uint32_t *v, size_t n, uint32_t x)
{
	return n && bsearch(&x, v, n, sizeof(*v), u32_cmp);
}

static int polhash_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct polhash *)a)->id, y = ((const struct polhash *)b)->id;

	return x < y ? -1 : x > y;
}

static const struct polhash *polhash_find(const struct polhash *v, size_t n, uint32_t id)
{
	struct polhash k = {.id = id};

	return n ? bsearch(&k, v, n, sizeof(*v), polhash_cmp) : NULL;
}

static int str_cmp_q(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void mseg_compile_hint_done(struct hintset *h)
{
	free(h->endpoints);
	free(h->policies);
	free(h->namespaces);
}

/* Sorted copies of the hint's names, so each lookup is a binary search. */
int mseg_compile_hint_init(struct hintset *h, const struct mseg_compile_hint *hint)
{
	if ((hint->n_endpoints && !hint->endpoints) || (hint->n_policies && !hint->policies) ||
	    (hint->n_namespaces && !hint->namespaces))
		return -EINVAL;
	h->verify = hint->verify;
	h->endpoints = malloc((hint->n_endpoints + 1) * sizeof(*h->endpoints));
	h->policies = malloc((hint->n_policies + 1) * sizeof(*h->policies));
	h->namespaces = malloc((hint->n_namespaces + 1) * sizeof(*h->namespaces));
	if (!h->endpoints || !h->policies || !h->namespaces)
		return -ENOMEM;
	for (size_t i = 0; i < hint->n_namespaces; i++)
		if (!hint->namespaces[i])
			return -EINVAL;
	if (hint->n_endpoints)
		memcpy(h->endpoints, hint->endpoints, hint->n_endpoints * sizeof(*h->endpoints));
	if (hint->n_policies)
		memcpy(h->policies, hint->policies, hint->n_policies * sizeof(*h->policies));
	if (hint->n_namespaces)
		memcpy(h->namespaces, hint->namespaces, hint->n_namespaces * sizeof(char *));
	h->n_endpoints = hint->n_endpoints;
	h->n_policies = hint->n_policies;
	h->n_namespaces = hint->n_namespaces;
	compile_sort(h->endpoints, h->n_endpoints, sizeof(*h->endpoints), u32_cmp);
	compile_sort(h->policies, h->n_policies, sizeof(*h->policies), u32_cmp);
	compile_sort(h->namespaces, h->n_namespaces, sizeof(*h->namespaces), str_cmp_q);
	return 0;
}

static bool hint_names_endpoint(const struct hintset *h, uint32_t id, const char *ns)
{
	return u32_in(h->endpoints, h->n_endpoints, id) ||
	       (h->n_namespaces &&
		bsearch(&ns, h->namespaces, h->n_namespaces, sizeof(*h->namespaces), str_cmp_q));
}

/*
 * The digest of an endpoint's identity inputs. With a hint, an endpoint it does not name is
 * the one the previous update saw, so the previous digest stands; in verify mode that claim is
 * checked, and an endpoint the hint should have named (new, or changed) fails the update.
 */
int mseg_compile_hint_endpoint_digest(const struct upd *u, const struct eprec *prev,
				      const struct mseg_endpoint *e, const struct mseg_labels *nsl,
				      uint64_t *ret)
{
	bool named = u->hint && hint_names_endpoint(u->hint, e->id, e->namespace);

	if (!u->hint || !prev || named) {
		if (u->hint && u->hint->verify && !named)
			return -EBADMSG; /* added but not named */
		*ret = mseg_compile_endpoint_digest(e, nsl);
		return 0;
	}
	if (u->hint->verify && mseg_compile_endpoint_digest(e, nsl) != prev->digest)
		return -EBADMSG;
	*ret = prev->digest;
	return 0;
}

/* Verify mode: every endpoint or policy that is gone must have been named. */
int mseg_compile_hint_check_removed(const struct mseg_compiler *c, const struct upd *u)
{
	for (size_t i = 0, j = 0; i < c->n_eps; i++) {
		while (j < u->n_eps && u->eps[j].endpoint < c->eps[i].endpoint)
			j++;
		if ((j == u->n_eps || u->eps[j].endpoint != c->eps[i].endpoint) &&
		    !u32_in(u->hint->endpoints, u->hint->n_endpoints, c->eps[i].endpoint))
			return -EBADMSG;
	}
	for (size_t i = 0, j = 0; i < c->n_ph; i++) {
		while (j < u->n_ph && u->ph[j].id < c->ph[i].id)
			j++;
		if ((j == u->n_ph || u->ph[j].id != c->ph[i].id) &&
		    !u32_in(u->hint->policies, u->hint->n_policies, c->ph[i].id))
			return -EBADMSG;
	}
	return 0;
}

/* A policy's digest; with a hint, the previous one for a policy the hint does not name (see
 * endpoint_digest()). */
int mseg_compile_hint_policy_digest(const struct mseg_compiler *c, const struct upd *u,
				    const struct mseg_policy *p, uint64_t *ret)
{
	bool named = u->hint && u32_in(u->hint->policies, u->hint->n_policies, p->id);
	const struct polhash *old = u->hint && !named ? polhash_find(c->ph, c->n_ph, p->id) : NULL;

	if (!old) {
		if (u->hint && u->hint->verify && !named)
			return -EBADMSG; /* added but not named */
		*ret = mseg_compile_policy_digest(p);
		return 0;
	}
	if (u->hint->verify && mseg_compile_policy_digest(p) != old->hash)
		return -EBADMSG;
	*ret = old->hash;
	return 0;
}
