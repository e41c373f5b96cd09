// SPDX-License-Identifier: Apache-2.0
/*
 * The nft backend's mirror of the compiled state it programmed (table entries, endpoint
 * defaults, ipcache and its intervals), and the next mirror after a compiler diff.
 *
 * The mirror is kept sorted, so the next one is made by merges in O(n + k log k) for a diff of
 * k objects: with 10,000 rules in place, re-sorting everything on every small change (a new
 * endpoint, one changed rule) cost more than the kernel's whole share of that change.
 */
#include "agent/datapath_nft.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/macro.h"

/* memcpy that accepts (NULL, 0), as empty arrays from the compiler may be NULL */
static void copy(void *dst, const void *src, size_t len)
{
	if (len)
		memcpy(dst, src, len);
}

int mseg_nft_entry_cmp(const struct mseg_table_entry *a, const struct mseg_table_entry *b)
{
	if (a->endpoint != b->endpoint)
		return a->endpoint < b->endpoint ? -1 : 1;
	if (a->dir != b->dir)
		return a->dir < b->dir ? -1 : 1;
	if (a->remote != b->remote)
		return a->remote < b->remote ? -1 : 1;
	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	if (a->port_lo != b->port_lo)
		return a->port_lo < b->port_lo ? -1 : 1;
	if (a->port_hi != b->port_hi)
		return a->port_hi < b->port_hi ? -1 : 1;
	return 0;
}

static int entry_qcmp(const void *a, const void *b)
{
	return mseg_nft_entry_cmp(a, b);
}

static int default_cmp(const void *pa, const void *pb)
{
	const struct mseg_endpoint_default *a = pa, *b = pb;

	return a->endpoint < b->endpoint ? -1 : a->endpoint > b->endpoint;
}

/*
 * An ipcache entry is one prefix: equal prefixes are the same entry whatever their class.
 * Family, every address byte (network order: IPv4 sorts as mseg_cidr_cmp does, outer prefixes
 * before the inner ones at the same address, the order the intervals' sweep takes), length.
 */
static int ipc_cmp(const void *pa, const void *pb)
{
	const struct mseg_ipcache_entry *a = pa, *b = pb;
	int c;

	if (a->prefix.family != b->prefix.family)
		return a->prefix.family < b->prefix.family ? -1 : 1;
	c = memcmp(a->prefix.addr, b->prefix.addr, sizeof(a->prefix.addr));
	if (c)
		return c;
	if (a->prefix.prefixlen != b->prefix.prefixlen)
		return a->prefix.prefixlen < b->prefix.prefixlen ? -1 : 1;
	return 0;
}

static bool ipc_same(const struct mseg_ipcache_entry *a, const struct mseg_ipcache_entry *b)
{
	return ipc_cmp(a, b) == 0 && a->class == b->class;
}

/*
 * A sorted copy of an array the compiler handed over: it promises no order, but it usually
 * gives them in order, which costs one pass to see.
 */
static void *sorted_copy(const void *v, size_t n, size_t size,
			 int (*cmp)(const void *, const void *))
{
	char *c = malloc(n * size + 1);
	bool sorted = true;

	if (!c)
		return NULL;
	copy(c, v, n * size);
	for (size_t i = 1; i < n && sorted; i++)
		sorted = cmp(c + (i - 1) * size, c + i * size) <= 0;
	if (!sorted)
		qsort(c, n, size, cmp);
	return c;
}

/* The first index of v[0..n) not ordered before key (upper: not ordered before or equal). */
static size_t bound(const char *v, size_t n, size_t size, const void *key, bool upper,
		    int (*cmp)(const void *, const void *))
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp(v + mid * size, key);

		if (c < 0 || (upper && c == 0))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * out = (cur minus rm) merged with add; cur is sorted by cmp, rm and add are sorted copies.
 * same(a, b) says whether an element of rm removes one of cur (cmp equal is a candidate).
 * Each element of rm and add is placed by binary search and the runs between are copied
 * whole: a diff of k objects against n costs O(k log n) comparisons and one copy of n.
 * An added element equal to kept ones goes after them.
 */
static size_t merge(void *out, const void *cur, size_t n_cur, const void *rm, size_t n_rm,
		    const void *add, size_t n_add, size_t size,
		    int (*cmp)(const void *, const void *),
		    bool (*same)(const void *, const void *))
{
	const char *c = cur, *r = rm, *a = add;
	char *o = out;
	size_t n = 0, from = 0;

	/* cur minus rm, into out */
	for (size_t j = 0; j < n_rm; j++) {
		size_t at = bound(c, n_cur, size, r + j * size, false, cmp);

		for (; at < n_cur && cmp(c + at * size, r + j * size) == 0; at++)
			if (at >= from && same(r + j * size, c + at * size)) {
				copy(o + n * size, c + from * size, (at - from) * size);
				n += at - from;
				from = at + 1;
				break;
			}
	}
	copy(o + n * size, c + from * size, (n_cur - from) * size);
	n += n_cur - from;
	if (n_add == 0)
		return n;
	/* then the additions, from the back so that out can be its own source */
	size_t total = n + n_add, end = n;
	for (size_t k = n_add; k-- > 0;) {
		size_t at = bound(o, end, size, a + k * size, true, cmp);

		memmove(o + (at + k + 1) * size, o + at * size, (end - at) * size);
		memcpy(o + (at + k) * size, a + k * size, size);
		end = at;
	}
	return total;
}

static bool entry_same(const void *a, const void *b)
{
	return mseg_nft_entry_cmp(a, b) == 0;
}

static bool ipc_same_v(const void *a, const void *b)
{
	return ipc_same(a, b);
}

/* Sorts intervals (sorted by lo) by class, keeping lo order within a class: a stable radix
 * sort, linear where qsort of 20,000 intervals was the largest cost of a small change. */
static int intervals_by_class(struct mseg_nft_interval *iv, size_t n)
{
	_cleanup_free_ struct mseg_nft_interval *tmp = malloc((n + 1) * sizeof(*tmp));
	struct mseg_nft_interval *src = iv, *dst = tmp;

	if (!tmp)
		return -ENOMEM;
	for (int shift = 0; shift < 32; shift += 8) {
		size_t count[257] = {0};

		for (size_t i = 0; i < n; i++)
			count[((src[i].class >> shift) & 0xff) + 1]++;
		if (count[((src[0].class >> shift) & 0xff) + 1] == n)
			continue; /* one bucket: already in order for this byte */
		for (int b = 0; b < 256; b++)
			count[b + 1] += count[b];
		for (size_t i = 0; i < n; i++)
			dst[count[(src[i].class >> shift) & 0xff]++] = src[i];
		struct mseg_nft_interval *t = src;
		src = dst;
		dst = t;
	}
	if (src != iv)
		memcpy(iv, src, n * sizeof(*iv));
	return 0;
}

void mseg_nft_mirror_free(struct mseg_nft_mirror *m)
{
	if (!m)
		return;
	if (!m->entries_borrowed)
		free(m->entries);
	free(m->defaults[0]);
	free(m->defaults[1]);
	if (!m->ipcache_borrowed) {
		free(m->ipcache);
		free(m->iv);
	}
	*m = (struct mseg_nft_mirror){0};
}

void mseg_nft_mirror_replace(struct mseg_nft_mirror *cur, struct mseg_nft_mirror *next)
{
	/* what next borrowed from cur becomes next's own; the rest of cur goes */
	if (next->entries_borrowed)
		cur->entries_borrowed = true;
	if (next->ipcache_borrowed)
		cur->ipcache_borrowed = true;
	next->entries_borrowed = next->ipcache_borrowed = false;
	mseg_nft_mirror_free(cur);
	*cur = *next;
	*next = (struct mseg_nft_mirror){0};
}

static int next_entries(const struct mseg_nft_mirror *cur, const struct mseg_table_diff *diff,
			struct mseg_nft_mirror *m)
{
	_cleanup_free_ struct mseg_table_entry *rm = NULL, *add = NULL;
	size_t size = sizeof(*m->entries);

	if (diff->n_added == 0 && diff->n_removed == 0) {
		/* a change of defaults or addresses only: the 10,000 entries stay where they are */
		m->entries = cur->entries;
		m->n_entries = cur->n_entries;
		m->entries_borrowed = true;
		return 0;
	}
	m->entries = malloc((cur->n_entries + diff->n_added + 1) * size);
	rm = sorted_copy(diff->removed, diff->n_removed, size, entry_qcmp);
	add = sorted_copy(diff->added, diff->n_added, size, entry_qcmp);
	if (!m->entries || !rm || !add)
		return -ENOMEM;
	m->n_entries = merge(m->entries, cur->entries, cur->n_entries, rm, diff->n_removed, add,
			     diff->n_added, size, entry_qcmp, entry_same);
	return 0;
}

static int next_defaults(const struct mseg_nft_mirror *cur, const struct mseg_table_diff *diff,
			 struct mseg_nft_mirror *m)
{
	for (int d = 0; d < 2; d++) {
		size_t n = cur->n_defaults[d], size = sizeof(*m->defaults[d]);
		bool appended = false;

		m->defaults[d] = malloc((n + diff->n_defaults_changed[d] + 1) * size);
		if (!m->defaults[d])
			return -ENOMEM;
		copy(m->defaults[d], cur->defaults[d], n * size);
		for (size_t i = 0; i < diff->n_defaults_changed[d]; i++) {
			const struct mseg_endpoint_default *c = &diff->defaults_changed[d][i];
			struct mseg_endpoint_default *old =
			    cur->n_defaults[d]
				? bsearch(c, m->defaults[d], cur->n_defaults[d], size, default_cmp)
				: NULL;

			if (old)
				*old = *c;
			else {
				m->defaults[d][n++] = *c;
				appended = true;
			}
		}
		if (appended)
			qsort(m->defaults[d], n, size, default_cmp);
		m->n_defaults[d] = n;
	}
	return 0;
}

static int next_ipcache(const struct mseg_nft_mirror *cur, const struct mseg_table_diff *diff,
			struct mseg_nft_mirror *m)
{
	_cleanup_free_ struct mseg_ipcache_entry *rm = NULL, *add = NULL;
	size_t size = sizeof(*m->ipcache);
	int r;

	if (diff->n_ipcache_added == 0 && diff->n_ipcache_removed == 0) {
		/* the addresses and their intervals stay: no copy, no recomputation */
		m->ipcache = cur->ipcache;
		m->n_ipcache = cur->n_ipcache;
		m->iv = cur->iv;
		m->n_iv = cur->n_iv;
		m->ipcache_borrowed = true;
		return 0;
	}
	m->ipcache = malloc((cur->n_ipcache + diff->n_ipcache_added + 1) * size);
	if (!m->ipcache)
		return -ENOMEM;
	rm = sorted_copy(diff->ipcache_removed, diff->n_ipcache_removed, size, ipc_cmp);
	add = sorted_copy(diff->ipcache_added, diff->n_ipcache_added, size, ipc_cmp);
	if (!rm || !add)
		return -ENOMEM;
	m->n_ipcache = merge(m->ipcache, cur->ipcache, cur->n_ipcache, rm, diff->n_ipcache_removed,
			     add, diff->n_ipcache_added, size, ipc_cmp, ipc_same_v);
	r = mseg_nft_intervals_compute(m->ipcache, m->n_ipcache, &m->iv, &m->n_iv);
	if (r < 0)
		return r;
	return m->n_iv ? intervals_by_class(m->iv, m->n_iv) : 0;
}

int mseg_nft_mirror_next(const struct mseg_nft_mirror *cur, const struct mseg_table_diff *diff,
			 struct mseg_nft_mirror *next)
{
	struct mseg_nft_mirror m = {0};
	int r;

	r = next_entries(cur, diff, &m);
	if (r == 0)
		r = next_defaults(cur, diff, &m);
	if (r == 0)
		r = next_ipcache(cur, diff, &m);
	if (r < 0) {
		mseg_nft_mirror_free(&m);
		return r;
	}
	*next = m;
	return 0;
}

const struct mseg_nft_interval *mseg_nft_class_intervals(const struct mseg_nft_mirror *m,
							 uint32_t class, size_t *count)
{
	size_t lo = 0, hi = m->n_iv, end;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->iv[mid].class < class)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (end = lo; end < m->n_iv && m->iv[end].class == class; end++)
		;
	*count = end - lo;
	return m->iv + lo;
}

size_t mseg_nft_mirror_entries_of(const struct mseg_nft_mirror *m, uint32_t endpoint, uint8_t dir,
				  size_t *count)
{
	size_t lo = 0, hi = m->n_entries, end;

	/* lower bound of (endpoint, dir) */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct mseg_table_entry *t = &m->entries[mid];

		if (t->endpoint < endpoint || (t->endpoint == endpoint && t->dir < dir))
			lo = mid + 1;
		else
			hi = mid;
	}
	for (end = lo; end < m->n_entries && m->entries[end].endpoint == endpoint &&
		       m->entries[end].dir == dir;
	     end++)
		;
	*count = end - lo;
	return lo;
}

const struct mseg_endpoint_default *mseg_nft_mirror_default(const struct mseg_nft_mirror *m,
							    uint8_t dir, uint32_t endpoint)
{
	struct mseg_endpoint_default key = {.endpoint = endpoint};

	if (dir > 1 || m->n_defaults[dir] == 0)
		return NULL;
	return bsearch(&key, m->defaults[dir], m->n_defaults[dir], sizeof(key), default_cmp);
}

int mseg_nft_classes_changed(const struct mseg_nft_mirror *a, const struct mseg_nft_mirror *b,
			     uint32_t **ret, size_t *n_ret)
{
	uint32_t *v = malloc((a->n_iv + b->n_iv + 1) * sizeof(*v));
	size_t i = 0, j = 0, n = 0;

	if (!v)
		return -ENOMEM;
	/* both sorted by (class, lo): walk one class at a time */
	while (i < a->n_iv || j < b->n_iv) {
		uint32_t c;
		size_t i0 = i, j0 = j;
		bool differ;

		if (i == a->n_iv)
			c = b->iv[j].class;
		else if (j == b->n_iv)
			c = a->iv[i].class;
		else
			c = a->iv[i].class < b->iv[j].class ? a->iv[i].class : b->iv[j].class;
		while (i < a->n_iv && a->iv[i].class == c)
			i++;
		while (j < b->n_iv && b->iv[j].class == c)
			j++;
		differ = i - i0 != j - j0;
		for (size_t k = 0; k < i - i0 && !differ; k++)
			differ = a->iv[i0 + k].lo != b->iv[j0 + k].lo ||
				 a->iv[i0 + k].hi != b->iv[j0 + k].hi;
		if (differ)
			v[n++] = c;
	}
	*ret = v;
	*n_ret = n;
	return 0;
}
