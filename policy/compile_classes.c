// SPDX-License-Identifier: Apache-2.0
/*
 * The inputs of one compilation that do not depend on a subject endpoint: each endpoint's
 * identity, the prefixes named in ipBlocks, the security classes and the ipcache. Class
 * numbers for (identity, prefix) pairs and bare prefixes are kept across updates by the
 * compiler (struct mseg_class_key) so an unrelated change does not renumber the table.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/macro.h"
#include "policy/cidr.h"
#include "policy/compile_classes.h"
#include "policy/compile_internal.h"
#include "policy/labels.h"

static int label_item_cmp(const void *a, const void *b)
{
	return strcmp(((const struct mseg_label *)a)->key, ((const struct mseg_label *)b)->key);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char *proto_name(uint8_t proto)
{
	switch (proto) {
	case MSEG_PROTO_TCP:
		return "TCP";
	case MSEG_PROTO_UDP:
		return "UDP";
	case MSEG_PROTO_SCTP:
		return "SCTP";
	case MSEG_PROTO_ICMP:
		return "ICMP";
	default:
		return NULL;
	}
}

#define NS_LABEL_PREFIX "io.mseg.namespace.labels."
#define PORT_PREFIX "io.mseg.port."

int mseg_compile_endpoint_identity(struct mseg_identities *ids, const struct mseg_endpoint *ep,
				   const struct mseg_labels *ns_labels, uint32_t *ret)
{
	size_t n = ep->labels.n + 1 + ns_labels->n + ep->n_ports, k = 0, need = 0, used = 0;
	struct mseg_label stack_items[32], *items = stack_items;
	_cleanup_free_ struct mseg_label *heap_items = NULL;
	_cleanup_free_ char *heap_buf = NULL;
	char stack_buf[2048], *buf = stack_buf;
	struct mseg_labels set;

	/* built in scratch memory: this runs for every endpoint on every update */
	for (size_t i = 0; i < ns_labels->n; i++)
		need += sizeof(NS_LABEL_PREFIX) + strlen(ns_labels->items[i].key);
	for (size_t i = 0; i < ep->n_ports; i++)
		need += sizeof(PORT_PREFIX) + strlen(ep->ports[i].name) + 2 * 16;
	if (need > sizeof(stack_buf)) {
		buf = heap_buf = malloc(need);
		if (!buf)
			return -ENOMEM;
	}
	if (n > ARRAY_SIZE(stack_items)) {
		items = heap_items = calloc(n, sizeof(*items));
		if (!items)
			return -ENOMEM;
	}
	for (size_t i = 0; i < ep->labels.n; i++)
		items[k++] = ep->labels.items[i];
	items[k++] =
	    (struct mseg_label){.key = (char *)"io.mseg.namespace", .value = ep->namespace};
	for (size_t i = 0; i < ns_labels->n; i++) {
		char *key = buf + used;

		used += (size_t)sprintf(key, NS_LABEL_PREFIX "%s", ns_labels->items[i].key) + 1;
		items[k++] = (struct mseg_label){.key = key, .value = ns_labels->items[i].value};
	}
	for (size_t i = 0; i < ep->n_ports; i++) {
		const struct mseg_named_port *np = &ep->ports[i];
		char *key = buf + used, *val, *parts[16];
		size_t n_parts = 0;
		bool first = true;

		/* one label per name; a name declared for several protocols lists each, and
		 * only the first port of a (name, protocol) counts, as in the resolution */
		for (size_t j = 0; j < i && first; j++)
			first = strcmp(ep->ports[j].name, np->name) != 0;
		if (!first)
			continue;
		used += (size_t)sprintf(key, PORT_PREFIX "%s", np->name) + 1;
		for (size_t j = i; j < ep->n_ports && n_parts < ARRAY_SIZE(parts); j++) {
			const struct mseg_named_port *q = &ep->ports[j];
			const char *pn = proto_name(q->proto);
			bool dup = strcmp(q->name, np->name) != 0;

			for (size_t h = i; h < j && !dup; h++)
				dup = ep->ports[h].proto == q->proto &&
				      !strcmp(ep->ports[h].name, q->name);
			if (dup)
				continue;
			parts[n_parts] = buf + used;
			used += (size_t)(pn ? sprintf(parts[n_parts], "%u/%s", q->port, pn)
					    : sprintf(parts[n_parts], "%u/%u", q->port, q->proto)) +
				1;
			n_parts++;
		}
		qsort(parts, n_parts, sizeof(*parts), str_cmp);
		val = buf + used;
		for (size_t j = 0; j < n_parts; j++)
			used += (size_t)sprintf(buf + used, "%s%s", j ? "," : "", parts[j]);
		used++;
		items[k++] = (struct mseg_label){.key = key, .value = val};
	}
	compile_sort(items, k, sizeof(*items), label_item_cmp);
	for (size_t i = 1; i < k; i++)
		if (!strcmp(items[i - 1].key, items[i].key))
			/* an endpoint label using a key of the reserved io.mseg. prefix: no
			 * exact identity for it */
			return -EINVAL;
	set = (struct mseg_labels){.items = items, .n = k};
	return mseg_identities_get(ids, &set, ret);
}

static int cidr_cmp_q(const void *a, const void *b)
{
	return mseg_cidr_cmp(a, b);
}

static uint64_t cidr_hash(const struct mseg_cidr *c)
{
	uint64_t w[2];
	uint64_t h;

	memcpy(w, c->addr, sizeof(w));
	h = (w[0] ^ (uint64_t)c->prefixlen << 56 ^ (uint64_t)c->family << 48) *
	    0x9e3779b97f4a7c15ull;
	h = (h ^ w[1]) * 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 29);
}

/* Adds c to the open-addressing set (slots: index + 1); *v grows as needed. */
static int prefix_add(struct mseg_cidr **v, size_t *n, size_t *cap, uint32_t **slots,
		      size_t *n_slots, const struct mseg_cidr *c)
{
	size_t mask, s;

	if ((*n + 1) * 2 > *n_slots) {
		size_t ns = *n_slots ? *n_slots * 2 : 256;
		uint32_t *nsl = calloc(ns, sizeof(*nsl));

		if (!nsl)
			return -ENOMEM;
		for (size_t i = 0; i < *n; i++) {
			for (s = cidr_hash(&(*v)[i]) & (ns - 1); nsl[s]; s = (s + 1) & (ns - 1))
				;
			nsl[s] = (uint32_t)i + 1;
		}
		free(*slots);
		*slots = nsl;
		*n_slots = ns;
	}
	mask = *n_slots - 1;
	for (s = cidr_hash(c) & mask; (*slots)[s]; s = (s + 1) & mask)
		if (!mseg_cidr_cmp(&(*v)[(*slots)[s] - 1], c) &&
		    (*v)[(*slots)[s] - 1].prefixlen == c->prefixlen)
			return 0;
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		struct mseg_cidr *nv = realloc(*v, nc * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = nc;
	}
	(*v)[*n] = *c;
	(*slots)[s] = (uint32_t)++(*n);
	return 0;
}

int mseg_compile_collect_prefixes(const struct mseg_policy_set *set, struct mseg_cidr **ret,
				  size_t *n_ret)
{
	struct mseg_cidr *v = NULL;
	_cleanup_free_ uint32_t *slots = NULL;
	size_t n = 0, cap = 0, n_slots = 0;

	/* deduplicated while collecting: the same prefix recurs in many rules */
	for (size_t i = 0; i < set->n_policies; i++) {
		const struct mseg_policy *p = &set->policies[i];

		for (int d = 0; d < 2; d++) {
			const struct mseg_rule *rules = d ? p->egress_rules : p->ingress_rules;
			size_t nr = d ? p->n_egress_rules : p->n_ingress_rules;

			for (size_t k = 0; k < nr; k++)
				for (size_t j = 0; j < rules[k].n_peers; j++) {
					const struct mseg_peer *peer = &rules[k].peers[j];

					if (peer->kind != MSEG_PEER_IPBLOCK)
						continue;
					for (size_t e = 0; e <= peer->ipblock.n_except; e++) {
						const struct mseg_cidr *c =
						    e ? &peer->ipblock.except[e - 1]
						      : &peer->ipblock.cidr;

						if (c->family != MSEG_AF_INET)
							continue;
						if (prefix_add(&v, &n, &cap, &slots, &n_slots, c) <
						    0) {
							free(v);
							return -ENOMEM;
						}
					}
				}
		}
	}
	compile_sort(v, n, sizeof(*v), cidr_cmp_q);
	*ret = v;
	*n_ret = n;
	return 0;
}

ssize_t mseg_compile_prefix_find(const struct mseg_cidr *prefixes, size_t n,
				 const struct mseg_cidr *c)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int k = mseg_cidr_cmp(&prefixes[mid], c);

		if (!k)
			return (ssize_t)mid;
		if (k < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

ssize_t mseg_compile_most_specific(const struct mseg_cidr *prefixes, size_t n,
				   const struct mseg_cidr *addr, uint64_t lens)
{
	unsigned a;

	if (addr->family != MSEG_AF_INET || !n)
		return -1;
	a = mseg_cidr_v4(addr);
	for (int len = addr->prefixlen; len >= 0; len--) {
		unsigned mask = len ? ~0u << (32 - len) : 0;
		struct mseg_cidr c;
		ssize_t i;

		if (!(lens & 1ull << len))
			continue;
		c = mseg_cidr_from_v4(a & mask, (unsigned)len);
		i = mseg_compile_prefix_find(prefixes, n, &c);
		if (i >= 0)
			return i;
	}
	return -1;
}

int mseg_class_key_cmp(const struct mseg_class_key *a, const struct mseg_class_key *b)
{
	if (a->identity != b->identity)
		return a->identity < b->identity ? -1 : 1;
	if (a->has_prefix != b->has_prefix)
		return a->has_prefix ? 1 : -1;
	return a->has_prefix ? mseg_cidr_cmp(&a->prefix, &b->prefix) : 0;
}

int mseg_ipcache_entry_cmp(const struct mseg_ipcache_entry *a, const struct mseg_ipcache_entry *b)
{
	int k = mseg_cidr_cmp(&a->prefix, &b->prefix);

	if (k)
		return k;
	if (a->identity != b->identity)
		return a->identity < b->identity ? -1 : 1;
	return a->class < b->class ? -1 : a->class > b->class;
}

int mseg_compile_prefix_index(struct cctx *x)
{
	size_t *first = calloc(x->n_prefixes + 2, sizeof(*first));
	uint32_t *cls = malloc((x->n_classes + 1) * sizeof(*cls));

	if (!first || !cls) {
		free(first);
		free(cls);
		return -ENOMEM;
	}
	/* counting sort by prefix index: classes of prefix p end up contiguous, ascending */
	for (size_t i = 0; i < x->n_classes; i++)
		if (x->classes[i].prefix >= 0)
			first[x->classes[i].prefix + 2]++;
	for (size_t p = 2; p < x->n_prefixes + 2; p++)
		first[p] += first[p - 1];
	for (size_t i = 0; i < x->n_classes; i++)
		if (x->classes[i].prefix >= 0)
			cls[first[x->classes[i].prefix + 1]++] = (uint32_t)i;
	x->prefix_cls = cls;
	x->prefix_cls_first = first;
	return 0;
}

int mseg_compile_classes_inside(const struct cctx *x, const struct mseg_cidr *cidr,
				int (*fn)(size_t cls, const struct mseg_cidr *prefix, void *arg),
				void *arg)
{
	uint32_t mask = cidr->prefixlen ? 0xffffffffu << (32 - cidr->prefixlen) : 0;
	uint32_t start = mseg_cidr_v4(cidr) & mask, end = start | ~mask;
	size_t lo = 0, hi = x->n_prefixes;

	if (cidr->family != MSEG_AF_INET)
		return 0;
	/* prefixes are sorted by address: every prefix inside cidr has its address in
	 * [start, end], and those form one run starting at the first address >= start */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (mseg_cidr_v4(&x->prefixes[mid]) < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t p = lo; p < x->n_prefixes && mseg_cidr_v4(&x->prefixes[p]) <= end; p++) {
		if (!mseg_cidr_contains(cidr, &x->prefixes[p]))
			continue;
		for (size_t k = x->prefix_cls_first[p]; k < x->prefix_cls_first[p + 1]; k++) {
			int r = fn(x->prefix_cls[k], &x->prefixes[p], arg);

			if (r < 0)
				return r;
		}
	}
	return 0;
}
