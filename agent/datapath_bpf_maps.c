// SPDX-License-Identifier: Apache-2.0
/*
 * The compiled rule table (policy/compile.h) as map contents (bpf/abi.h), and apply(): a
 * compiler difference turned into map updates. Additions and updates are written before
 * deletions so a changed entry never leaves a window in which its traffic falls through to a
 * broader entry or the default.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "agent/datapath_bpf_internal.h"
#include "build/bpf/tc.skel.h"
#include "macro.h"

_Static_assert(MSEG_DIR_INGRESS == MSEG_ABI_DIR_INGRESS && MSEG_DIR_EGRESS == MSEG_ABI_DIR_EGRESS,
	       "enum mseg_dir and bpf/abi.h disagree");
_Static_assert(MSEG_VERDICT_DENY == MSEG_ABI_VERDICT_DENY &&
		   MSEG_VERDICT_ALLOW == MSEG_ABI_VERDICT_ALLOW,
	       "enum mseg_verdict and bpf/abi.h disagree");
_Static_assert(MSEG_DECIDED_RULE == MSEG_ABI_DECIDED_RULE &&
		   MSEG_DECIDED_ISOLATION == MSEG_ABI_DECIDED_ISOLATION &&
		   MSEG_DECIDED_DEFAULT == MSEG_ABI_DECIDED_DEFAULT,
	       "enum mseg_decider_kind and bpf/abi.h disagree");
_Static_assert(MSEG_AF_INET == MSEG_ABI_AF_INET, "address family");
_Static_assert(MSEG_ID_ANY == MSEG_ABI_ID_ANY && MSEG_ID_WORLD == MSEG_ABI_ID_WORLD, "ids");

size_t mseg_bpf_port_prefixes(uint16_t lo, uint16_t hi, struct mseg_port_prefix *out)
{
	uint32_t p = lo, end = (uint32_t)hi + 1;
	size_t n = 0;

	if (lo > hi)
		return 0;
	while (p < end) {
		/* The biggest block that starts aligned at p and does not pass hi. */
		unsigned bits = p ? (unsigned)__builtin_ctz(p) : 16;

		if (bits > 16)
			bits = 16;
		while (p + (1u << bits) > end)
			bits--;
		out[n++] = (struct mseg_port_prefix){.port = (uint16_t)p, .plen = 16 - bits};
		p += 1u << bits;
	}
	return n;
}

int mseg_bpf_ipcache_key(const struct mseg_cidr *prefix, struct mseg_ipcache_key *ret)
{
	if (prefix->family != MSEG_AF_INET || prefix->prefixlen > 32)
		return -EAFNOSUPPORT;
	*ret = (struct mseg_ipcache_key){
	    .prefixlen = MSEG_IPCACHE_PREFIX_BASE + prefix->prefixlen,
	    .family = MSEG_ABI_AF_INET,
	};
	memcpy(ret->addr, prefix->addr, 4);
	return 0;
}

void mseg_bpf_rule_ref(const struct mseg_decider *d, struct mseg_rule_ref *ret)
{
	*ret = (struct mseg_rule_ref){
	    .policy = d->policy,
	    .rule = d->rule,
	    .dir = d->dir,
	    .kind = (uint8_t)d->kind,
	};
}

static int verdict_value(uint8_t verdict, uint8_t audit, const struct mseg_decider *by,
			 const struct mseg_decider *audit_by, struct mseg_verdict_value *ret)
{
	if (verdict > MSEG_VERDICT_ALLOW || by->kind > MSEG_DECIDED_DEFAULT)
		return -EINVAL;
	*ret = (struct mseg_verdict_value){.verdict = verdict, .audit = !!audit};
	mseg_bpf_rule_ref(by, &ret->decided_by);
	if (audit)
		mseg_bpf_rule_ref(audit_by, &ret->audit_by);
	return 0;
}

int mseg_bpf_entry_value(const struct mseg_table_entry *e, struct mseg_verdict_value *ret)
{
	return verdict_value(e->verdict, e->audit, &e->decided_by, &e->audit_by, ret);
}

int mseg_bpf_default_value(const struct mseg_endpoint_default *d, struct mseg_verdict_value *ret)
{
	return verdict_value(d->verdict, d->audit, &d->decided_by, &d->audit_by, ret);
}

int mseg_bpf_entry_keys(const struct mseg_table_entry *e,
			struct mseg_policy_key keys[MSEG_PORT_PREFIXES_MAX])
{
	struct mseg_port_prefix pp[MSEG_PORT_PREFIXES_MAX];
	size_t n;

	if (e->dir > MSEG_DIR_EGRESS || e->port_lo > e->port_hi)
		return -EINVAL;
	/* "Any protocol" has no port to speak of: only the full range makes sense. */
	if (e->proto == MSEG_PROTO_ANY && (e->port_lo != 0 || e->port_hi != 65535))
		return -EINVAL;
	n = mseg_bpf_port_prefixes(e->port_lo, e->port_hi, pp);
	for (size_t i = 0; i < n; i++)
		keys[i] = (struct mseg_policy_key){
		    .endpoint = e->endpoint,
		    .remote = e->remote,
		    .dir = e->dir,
		    .proto = e->proto,
		    .plen = pp[i].plen,
		    .port = pp[i].port,
		};
	return (int)n;
}

/* ---- apply ------------------------------------------------------------------------- */

struct policy_op {
	struct mseg_policy_key key;
	struct mseg_verdict_value value;
};

static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct mseg_policy_key));
}

static int ipkey_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct mseg_ipcache_key));
}

static struct mseg_policy_key group_of(const struct mseg_policy_key *k)
{
	struct mseg_policy_key g = *k;

	g.plen = MSEG_POLICY_GROUP;
	g.port = 0;
	return g;
}

static bool same_group(const struct mseg_policy_key *a, const struct mseg_policy_key *b)
{
	return a->endpoint == b->endpoint && a->remote == b->remote && a->dir == b->dir &&
	       a->proto == b->proto;
}

/* Encodes entries into blocks, sorted by key (so each group is contiguous). */
static int encode_entries(const struct mseg_table_entry *entries, size_t n, struct policy_op **ret,
			  size_t *n_ret)
{
	_cleanup_free_ struct policy_op *ops = NULL;
	struct mseg_policy_key keys[MSEG_PORT_PREFIXES_MAX];
	size_t n_ops = 0, cap = 0;

	for (size_t i = 0; i < n; i++) {
		struct mseg_verdict_value v;
		int k, r;

		k = mseg_bpf_entry_keys(&entries[i], keys);
		if (k < 0)
			return k;
		r = mseg_bpf_entry_value(&entries[i], &v);
		if (r < 0)
			return r;
		if (n_ops + (size_t)k > cap) {
			size_t ncap = cap ? cap * 2 : 256;
			struct policy_op *p;

			while (ncap < n_ops + (size_t)k)
				ncap *= 2;
			p = realloc(ops, ncap * sizeof(*ops));
			if (!p)
				return -ENOMEM;
			ops = p;
			cap = ncap;
		}
		for (int j = 0; j < k; j++)
			ops[n_ops++] = (struct policy_op){.key = keys[j], .value = v};
	}
	if (n_ops)
		qsort(ops, n_ops, sizeof(*ops), key_cmp);
	*ret = TAKE_PTR(ops);
	*n_ret = n_ops;
	return 0;
}

static bool ops_contain(const struct policy_op *ops, size_t n, const struct mseg_policy_key *k)
{
	return n && bsearch(k, ops, n, sizeof(*ops), key_cmp);
}

/*
 * Writes n (key, value) pairs in one BPF_MAP_UPDATE_BATCH call (the kernel loops; one
 * syscall instead of n), falling back to single updates where batches are unsupported.
 */
static int map_write(int fd, const void *pairs, size_t pair_size, size_t key_size,
		     size_t value_size, size_t n)
{
	_cleanup_free_ uint8_t *keys = NULL, *values = NULL;
	const uint8_t *p = pairs;
	uint32_t count = (uint32_t)n;

	if (!n)
		return 0;
	keys = malloc(n * key_size);
	values = malloc(n * value_size);
	if (!keys || !values)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		memcpy(keys + i * key_size, p + i * pair_size, key_size);
		memcpy(values + i * value_size, p + i * pair_size + key_size, value_size);
	}
	if (bpf_map_update_batch(fd, keys, values, &count, NULL) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOTSUP && errno != EOPNOTSUPP)
		return -errno;
	for (size_t i = 0; i < n; i++)
		if (bpf_map_update_elem(fd, keys + i * key_size, values + i * value_size, BPF_ANY) <
		    0)
			return -errno;
	return 0;
}

struct group_op {
	struct mseg_policy_key key;
	struct mseg_policy_group value;
};
_Static_assert(offsetof(struct group_op, value) == sizeof(struct mseg_policy_key), "layout");
_Static_assert(offsetof(struct policy_op, value) == sizeof(struct mseg_policy_key), "layout");

/* Per group of the sorted blocks, the change in block count per prefix length. */
struct group_delta {
	struct mseg_policy_key key;
	int delta[17];
};

static int delta_cmp(const void *a, const void *b)
{
	return key_cmp(a, b);
}

/*
 * Incremental. The compiler's difference is exact (old table minus new, new minus old, a
 * changed entry in both), and entries of one group never overlap; so a block key of adds is
 * already in the map exactly when it is also a block of dels, and the group counts follow
 * from the two lists without asking the kernel which keys exist.
 */
static int policy_apply_incremental(struct mseg_datapath *dp, const struct policy_op *adds,
				    size_t n_adds, const struct policy_op *dels, size_t n_dels)
{
	int pfd = bpf_map__fd(dp->skel->maps.mseg_policy);
	int gfd = bpf_map__fd(dp->skel->maps.mseg_policy_groups);
	_cleanup_free_ struct group_delta *deltas = NULL;
	_cleanup_free_ struct group_op *writes = NULL;
	_cleanup_free_ struct mseg_policy_key *gone = NULL;
	size_t n_deltas = 0, n_writes = 0, n_gone = 0;
	int r;

	deltas = calloc(n_adds + n_dels + 1, sizeof(*deltas));
	gone = calloc(n_dels + 1, sizeof(*gone));
	if (!deltas || !gone)
		return -ENOMEM;
	for (size_t i = 0; i < n_adds; i++) {
		if (ops_contain(dels, n_dels, &adds[i].key))
			continue; /* rewritten in place */
		deltas[n_deltas].key = group_of(&adds[i].key);
		deltas[n_deltas++].delta[adds[i].key.plen] = 1;
	}
	for (size_t i = 0; i < n_dels; i++) {
		if (ops_contain(adds, n_adds, &dels[i].key))
			continue;
		gone[n_gone++] = dels[i].key;
		deltas[n_deltas].key = group_of(&dels[i].key);
		deltas[n_deltas++].delta[dels[i].key.plen] = -1;
	}
	if (n_deltas)
		qsort(deltas, n_deltas, sizeof(*deltas), delta_cmp);

	/* Blocks first, so every block a group header announces exists when it is read. */
	r = map_write(pfd, adds, sizeof(*adds), sizeof(adds->key), sizeof(adds->value), n_adds);
	if (r < 0)
		return r;

	writes = calloc(n_deltas + 1, sizeof(*writes));
	if (!writes)
		return -ENOMEM;
	for (size_t i = 0; i < n_deltas;) {
		struct mseg_policy_group v = {0};
		size_t j = i;
		int sum[17] = {0};

		for (; j < n_deltas && key_cmp(&deltas[j].key, &deltas[i].key) == 0; j++)
			for (int k = 0; k <= 16; k++)
				sum[k] += deltas[j].delta[k];
		if (bpf_map_lookup_elem(gfd, &deltas[i].key, &v) < 0 && errno != ENOENT)
			return -errno;
		v.plen_mask = 0;
		for (int k = 0; k <= 16; k++) {
			int c = (int)v.count[k] + sum[k];

			v.count[k] = c > 0 ? (uint16_t)c : 0;
			if (v.count[k])
				v.plen_mask |= 1u << k;
		}
		if (v.plen_mask) {
			writes[n_writes++] = (struct group_op){.key = deltas[i].key, .value = v};
		} else if (bpf_map_delete_elem(gfd, &deltas[i].key) < 0 && errno != ENOENT) {
			return -errno;
		}
		i = j;
	}
	r = map_write(gfd, writes, sizeof(*writes), sizeof(writes->key), sizeof(writes->value),
		      n_writes);
	if (r < 0)
		return r;

	for (size_t i = 0; i < n_gone; i++)
		if (bpf_map_delete_elem(pfd, &gone[i]) < 0 && errno != ENOENT)
			return -errno;
	return 0;
}

/* Every key of a map (collected first: deleting while iterating restarts the walk). */
static int map_keys(int fd, size_t key_size, void **ret, size_t *n_ret)
{
	_cleanup_free_ uint8_t *keys = NULL;
	size_t n = 0, cap = 0;
	uint8_t prev[64];
	bool first = true;

	if (key_size > sizeof(prev))
		return -EINVAL;
	for (;;) {
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 1024;
			uint8_t *p = realloc(keys, ncap * key_size);

			if (!p)
				return -ENOMEM;
			keys = p;
			cap = ncap;
		}
		if (bpf_map_get_next_key(fd, first ? NULL : prev, keys + n * key_size) < 0) {
			if (errno == ENOENT)
				break;
			return -errno;
		}
		memcpy(prev, keys + n * key_size, key_size);
		first = false;
		n++;
	}
	*ret = TAKE_PTR(keys);
	*n_ret = n;
	return 0;
}

/* Full: the table is exactly adds; what an earlier agent left beyond that goes. */
static int policy_apply_full(struct mseg_datapath *dp, const struct policy_op *adds, size_t n_adds)
{
	int pfd = bpf_map__fd(dp->skel->maps.mseg_policy);
	int gfd = bpf_map__fd(dp->skel->maps.mseg_policy_groups);
	_cleanup_free_ struct group_op *groups = NULL;
	_cleanup_free_ void *old = NULL;
	size_t n_groups = 0, n_old = 0;
	int r;

	r = map_write(pfd, adds, sizeof(*adds), sizeof(adds->key), sizeof(adds->value), n_adds);
	if (r < 0)
		return r;

	/* Group headers from scratch; sorted, since group_of() keeps the blocks' order. */
	groups = calloc(n_adds ? n_adds : 1, sizeof(*groups));
	if (!groups)
		return -ENOMEM;
	for (size_t i = 0; i < n_adds;) {
		struct group_op *g = &groups[n_groups++];
		size_t j = i;

		g->key = group_of(&adds[i].key);
		for (; j < n_adds && same_group(&adds[i].key, &adds[j].key); j++) {
			g->value.count[adds[j].key.plen]++;
			g->value.plen_mask |= 1u << adds[j].key.plen;
		}
		i = j;
	}
	r = map_write(gfd, groups, sizeof(*groups), sizeof(groups->key), sizeof(groups->value),
		      n_groups);
	if (r < 0)
		return r;
	if (!dp->adopted)
		return 0; /* the maps were created empty by this open(): nothing to prune */

	r = map_keys(pfd, sizeof(struct mseg_policy_key), &old, &n_old);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n_old; i++) {
		struct mseg_policy_key *k = (struct mseg_policy_key *)old + i;

		if (!ops_contain(adds, n_adds, k) && bpf_map_delete_elem(pfd, k) < 0 &&
		    errno != ENOENT)
			return -errno;
	}
	free(old);
	old = NULL;
	r = map_keys(gfd, sizeof(struct mseg_policy_key), &old, &n_old);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n_old; i++) {
		struct mseg_policy_key *k = (struct mseg_policy_key *)old + i;

		if ((!n_groups || !bsearch(k, groups, n_groups, sizeof(*groups), key_cmp)) &&
		    bpf_map_delete_elem(gfd, k) < 0 && errno != ENOENT)
			return -errno;
	}
	return 0;
}

struct ipcache_op {
	struct mseg_ipcache_key key;
	struct mseg_ipcache_value value;
};

static int encode_ipcache(const struct mseg_ipcache_entry *e, size_t n, struct ipcache_op **ret)
{
	_cleanup_free_ struct ipcache_op *ops = calloc(n ? n : 1, sizeof(*ops));
	int r;

	if (!ops)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		r = mseg_bpf_ipcache_key(&e[i].prefix, &ops[i].key);
		if (r < 0)
			return r;
		ops[i].value =
		    (struct mseg_ipcache_value){.identity = e[i].identity, .class = e[i].class};
	}
	if (n)
		qsort(ops, n, sizeof(*ops), ipkey_cmp);
	*ret = TAKE_PTR(ops);
	return 0;
}

/* Host addresses go to the hash, shorter prefixes to the LPM trie (bpf/abi.h). */
static int ipcache_fd(struct mseg_datapath *dp, const struct mseg_ipcache_key *k)
{
	return k->prefixlen == MSEG_IPCACHE_PREFIX_BASE + 32
		   ? bpf_map__fd(dp->skel->maps.mseg_ipcache_hosts)
		   : bpf_map__fd(dp->skel->maps.mseg_ipcache);
}

static int ipcache_prune(int fd, const struct ipcache_op *keep, size_t n_keep)
{
	_cleanup_free_ void *old = NULL;
	size_t n_old;
	int r = map_keys(fd, sizeof(struct mseg_ipcache_key), &old, &n_old);

	if (r < 0)
		return r;
	for (size_t i = 0; i < n_old; i++) {
		struct mseg_ipcache_key *k = (struct mseg_ipcache_key *)old + i;

		if ((!n_keep || !bsearch(k, keep, n_keep, sizeof(*keep), ipkey_cmp)) &&
		    bpf_map_delete_elem(fd, k) < 0 && errno != ENOENT)
			return -errno;
	}
	return 0;
}

static int ipcache_apply(struct mseg_datapath *dp, const struct ipcache_op *adds, size_t n_adds,
			 const struct ipcache_op *dels, size_t n_dels)
{
	int r;

	int hfd = bpf_map__fd(dp->skel->maps.mseg_ipcache_hosts);
	_cleanup_free_ struct ipcache_op *hosts = calloc(n_adds + 1, sizeof(*hosts));
	size_t n_hosts = 0;

	if (!hosts)
		return -ENOMEM;
	/* Hosts (most of them) in one batch; the few prefixes one by one. */
	for (size_t i = 0; i < n_adds; i++) {
		int fd = ipcache_fd(dp, &adds[i].key);

		if (fd == hfd)
			hosts[n_hosts++] = adds[i];
		else if (bpf_map_update_elem(fd, &adds[i].key, &adds[i].value, BPF_ANY) < 0)
			return -errno;
	}
	r = map_write(hfd, hosts, sizeof(*hosts), sizeof(hosts->key), sizeof(hosts->value),
		      n_hosts);
	if (r < 0)
		return r;
	if (!dp->synced && !dp->adopted)
		return 0;
	if (!dp->synced) {
		r = ipcache_prune(bpf_map__fd(dp->skel->maps.mseg_ipcache_hosts), adds, n_adds);
		if (r < 0)
			return r;
		return ipcache_prune(bpf_map__fd(dp->skel->maps.mseg_ipcache), adds, n_adds);
	}
	for (size_t i = 0; i < n_dels; i++) {
		if (n_adds && bsearch(&dels[i].key, adds, n_adds, sizeof(*adds), ipkey_cmp))
			continue;
		if (bpf_map_delete_elem(ipcache_fd(dp, &dels[i].key), &dels[i].key) < 0 &&
		    errno != ENOENT)
			return -errno;
	}
	return 0;
}

/* Until a direction's default arrives, it denies (kind NONE: "no policy programmed yet"). */
static const struct mseg_verdict_value default_unset = {
    .decided_by = {.kind = MSEG_ABI_DECIDED_NONE},
    .verdict = MSEG_ABI_VERDICT_DENY,
};

static int defaults_apply(struct mseg_datapath *dp, const struct mseg_table_diff *diff)
{
	int fd = bpf_map__fd(dp->skel->maps.mseg_defaults);
	struct mseg_verdict_value v;
	int r;

	/* Validate everything before the first write. */
	for (int d = 0; d < 2; d++)
		for (size_t i = 0; i < diff->n_defaults_changed[d]; i++) {
			r = mseg_bpf_default_value(&diff->defaults_changed[d][i], &v);
			if (r < 0)
				return r;
		}
	for (int d = 0; d < 2; d++)
		for (size_t i = 0; i < diff->n_defaults_changed[d]; i++) {
			const struct mseg_endpoint_default *def = &diff->defaults_changed[d][i];
			struct mseg_defaults_value cur;

			if (bpf_map_lookup_elem(fd, &def->endpoint, &cur) < 0) {
				if (errno != ENOENT)
					return -errno;
				cur.dir[0] = cur.dir[1] = default_unset;
			}
			(void)mseg_bpf_default_value(def, &cur.dir[d]);
			if (bpf_map_update_elem(fd, &def->endpoint, &cur, BPF_ANY) < 0)
				return -errno;
		}
	return 0;
}

static int defaults_prune(struct mseg_datapath *dp, const struct mseg_table_diff *diff)
{
	int fd = bpf_map__fd(dp->skel->maps.mseg_defaults);
	_cleanup_free_ void *old = NULL;
	size_t n_old;
	int r = map_keys(fd, sizeof(uint32_t), &old, &n_old);

	if (r < 0)
		return r;
	for (size_t i = 0; i < n_old; i++) {
		uint32_t id = ((uint32_t *)old)[i];
		bool keep = false;

		for (int d = 0; d < 2 && !keep; d++)
			for (size_t j = 0; j < diff->n_defaults_changed[d] && !keep; j++)
				keep = diff->defaults_changed[d][j].endpoint == id;
		if (!keep && bpf_map_delete_elem(fd, &id) < 0 && errno != ENOENT)
			return -errno;
	}
	return 0;
}

int mseg_datapath_bpf_apply(struct mseg_datapath *dp, const struct mseg_table_diff *diff)
{
	_cleanup_free_ struct policy_op *adds = NULL, *dels = NULL;
	_cleanup_free_ struct ipcache_op *ip_adds = NULL, *ip_dels = NULL;
	size_t n_adds = 0, n_dels = 0;
	int r;

	/* Encode (and so validate) everything before touching a map. */
	r = encode_entries(diff->added, diff->n_added, &adds, &n_adds);
	if (r < 0)
		return r;
	r = encode_entries(diff->removed, diff->n_removed, &dels, &n_dels);
	if (r < 0)
		return r;
	r = encode_ipcache(diff->ipcache_added, diff->n_ipcache_added, &ip_adds);
	if (r < 0)
		return r;
	r = encode_ipcache(diff->ipcache_removed, diff->n_ipcache_removed, &ip_dels);
	if (r < 0)
		return r;

	/* Classes first (a new entry may name a new class), then defaults, then entries. */
	r = ipcache_apply(dp, ip_adds, diff->n_ipcache_added, ip_dels, diff->n_ipcache_removed);
	if (r < 0)
		return r;
	r = defaults_apply(dp, diff);
	if (r < 0)
		return r;
	if (dp->synced)
		r = policy_apply_incremental(dp, adds, n_adds, dels, n_dels);
	else
		r = policy_apply_full(dp, adds, n_adds);
	if (r < 0)
		return r;
	if (!dp->synced && dp->adopted) {
		r = defaults_prune(dp, diff);
		if (r < 0)
			return r;
	}
	dp->synced = true;
	return 0;
}
