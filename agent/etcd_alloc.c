// SPDX-License-Identifier: Apache-2.0
/*
 * Allocation through etcd transactions, so that every node agrees without a leader: each
 * allocator reads a consistent snapshot, then commits only if nothing it read has changed
 * (compare on create/mod revisions) and otherwise learns the winner's result from the same
 * transaction's failure branch. Ids and slots are never handed out twice because the claim of
 * the number itself (ids/by-id/N, by-slot/N) is part of the same create-if-absent compare.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/etcd.h"
#include "macro.h"

#define MAX_ATTEMPTS 1000
#define MAX_PROBES 8

/* FNV-1a, 64 bits: a short, stable key for a label set of any length. */
static uint64_t fnv1a64(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

static int parse_u32(const char *s, uint32_t *ret)
{
	char *end;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9')
		return -EPROTO;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > UINT32_MAX)
		return -EPROTO;
	*ret = (uint32_t)v;
	return 0;
}

/* The id in a by-labels value, if it is for labels_key: 1 match, 0 other labels (a collision). */
static int by_labels_match(const struct mseg_etcd_kv *kv, const char *labels_key, uint32_t *id)
{
	json_t *doc = json_loadb(kv->value, kv->value_len, 0, NULL);
	const char *labels = NULL;
	json_int_t v = -1;
	int r;

	if (!doc || json_unpack(doc, "{s:I, s:s}", "id", &v, "labels", &labels) < 0 || v < 0 ||
	    v > UINT32_MAX) {
		json_decref(doc);
		return -EPROTO;
	}
	r = strcmp(labels, labels_key) == 0;
	if (r)
		*id = (uint32_t)v;
	json_decref(doc);
	return r;
}

static const struct mseg_etcd_kv *first_kv(const struct mseg_etcd_txn_result *res, size_t i)
{
	return i < res->n_ranges && res->ranges[i].n_kvs ? &res->ranges[i].kvs[0] : NULL;
}

/*
 * Allocates under one by-labels key: 1 with *id set (new or existing), 0 when that key belongs
 * to another label set (a hash collision: the caller probes the next key).
 */
static int allocate_at(struct mseg_etcd *etcd, const char *prefix, const char *counter,
		       const char *by_labels, const char *labels_key, uint32_t first, uint32_t *id)
{
	const struct mseg_etcd_op snap[] = {
	    {.kind = MSEG_ETCD_OP_GET, .key = by_labels},
	    {.kind = MSEG_ETCD_OP_GET, .key = counter},
	};
	uint32_t floor = first;
	int r;

	for (unsigned int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
		_cleanup_free_ char *by_id = NULL, *next = NULL, *value = NULL;
		struct mseg_etcd_txn_result res = {0};
		const struct mseg_etcd_kv *kv;
		int64_t counter_mod = 0;
		uint32_t cand = floor;
		json_t *v;

		/* A consistent snapshot of the label set's key and the counter. */
		r = mseg_etcd_txn(etcd, NULL, 0, snap, ARRAY_SIZE(snap), NULL, 0, &res);
		if (r < 0)
			return r;
		kv = first_kv(&res, 0);
		if (kv) {
			r = by_labels_match(kv, labels_key, id);
			mseg_etcd_txn_result_clear(&res);
			return r;
		}
		kv = first_kv(&res, 1);
		if (kv) {
			uint32_t c;

			counter_mod = kv->mod_revision;
			r = parse_u32(kv->value, &c);
			if (r < 0) {
				mseg_etcd_txn_result_clear(&res);
				return r;
			}
			if (c > cand)
				cand = c;
		}
		mseg_etcd_txn_result_clear(&res);
		if (cand == UINT32_MAX)
			return -ENOSPC;
		if (asprintf(&by_id, "%s/ids/by-id/%u", prefix, cand) < 0 ||
		    asprintf(&next, "%u", cand + 1) < 0)
			return -ENOMEM;
		v = json_pack("{s:I, s:s}", "id", (json_int_t)cand, "labels", labels_key);
		value = v ? json_dumps(v, JSON_COMPACT) : NULL;
		json_decref(v);
		if (!value)
			return -ENOMEM;

		/*
		 * Commit only if the label set is still unallocated, nobody moved the counter
		 * since we read it (mod_revision 0: it still does not exist), and the number is
		 * unclaimed (so a counter reset by hand cannot reissue an id).
		 */
		const struct mseg_etcd_cmp cmps[] = {
		    {.key = by_labels, .target = MSEG_ETCD_CMP_CREATE, .number = 0},
		    {.key = counter, .target = MSEG_ETCD_CMP_MOD, .number = counter_mod},
		    {.key = by_id, .target = MSEG_ETCD_CMP_CREATE, .number = 0},
		};
		const struct mseg_etcd_op ok[] = {
		    {.kind = MSEG_ETCD_OP_PUT,
		     .key = counter,
		     .value = next,
		     .value_len = strlen(next)},
		    {.kind = MSEG_ETCD_OP_PUT,
		     .key = by_labels,
		     .value = value,
		     .value_len = strlen(value)},
		    {.kind = MSEG_ETCD_OP_PUT,
		     .key = by_id,
		     .value = labels_key,
		     .value_len = strlen(labels_key)},
		};
		const struct mseg_etcd_op why[] = {
		    {.kind = MSEG_ETCD_OP_GET, .key = by_id},
		};
		r = mseg_etcd_txn(etcd, cmps, ARRAY_SIZE(cmps), ok, ARRAY_SIZE(ok), why,
				  ARRAY_SIZE(why), &res);
		if (r < 0)
			return r;
		if (res.succeeded) {
			mseg_etcd_txn_result_clear(&res);
			*id = cand;
			return 1;
		}
		/* The number is claimed although the counter said it was free: step past it. */
		if (first_kv(&res, 0))
			floor = cand + 1;
		mseg_etcd_txn_result_clear(&res);
	}
	return -EBUSY;
}

int mseg_etcd_allocate_id(struct mseg_etcd *etcd, const char *prefix, const char *labels_key,
			  uint32_t first, uint32_t *id)
{
	_cleanup_free_ char *counter = NULL;
	uint64_t hash;
	int r;

	if (!etcd || !prefix || !labels_key || !id)
		return -EINVAL;
	if (asprintf(&counter, "%s/ids/next", prefix) < 0)
		return -ENOMEM;
	hash = fnv1a64(labels_key);
	for (unsigned int probe = 0; probe < MAX_PROBES; probe++) {
		_cleanup_free_ char *by_labels = NULL;

		if ((probe
			 ? asprintf(&by_labels, "%s/ids/by-labels/%016" PRIx64 ".%u", prefix, hash,
				    probe)
			 : asprintf(&by_labels, "%s/ids/by-labels/%016" PRIx64, prefix, hash)) < 0)
			return -ENOMEM;
		r = allocate_at(etcd, prefix, counter, by_labels, labels_key, first, id);
		if (r != 0)
			return r < 0 ? r : 0;
	}
	return -ENOSPC;
}

static int owner_valid(const char *owner)
{
	return owner && *owner && !strchr(owner, '/');
}

int mseg_etcd_allocate_slot(struct mseg_etcd *etcd, const char *prefix, const char *owner,
			    uint32_t first, uint32_t last, uint32_t *slot)
{
	_cleanup_free_ char *owner_key = NULL, *slots = NULL;

	if (!etcd || !prefix || !owner_valid(owner) || !slot || first > last)
		return -EINVAL;
	if (asprintf(&owner_key, "%s/by-owner/%s", prefix, owner) < 0 ||
	    asprintf(&slots, "%s/by-slot/", prefix) < 0)
		return -ENOMEM;

	for (unsigned int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
		_cleanup_free_ char *slot_key = NULL, *value = NULL;
		_cleanup_free_ uint8_t *taken = NULL;
		struct mseg_etcd_txn_result res = {0}, out = {0};
		const struct mseg_etcd_op snap[] = {
		    {.kind = MSEG_ETCD_OP_GET, .key = owner_key},
		    {.kind = MSEG_ETCD_OP_GET, .key = slots, .prefix = true},
		};
		const struct mseg_etcd_kv *kv;
		uint64_t span = (uint64_t)last - first + 1;
		uint32_t cand = 0;
		bool found = false;
		int r;

		r = mseg_etcd_txn(etcd, NULL, 0, snap, ARRAY_SIZE(snap), NULL, 0, &res);
		if (r < 0)
			return r;
		kv = first_kv(&res, 0);
		if (kv) {
			r = parse_u32(kv->value, slot);
			mseg_etcd_txn_result_clear(&res);
			return r;
		}
		if (span > (1u << 24)) {
			mseg_etcd_txn_result_clear(&res);
			return -E2BIG;
		}
		taken = calloc(span, 1);
		if (!taken) {
			mseg_etcd_txn_result_clear(&res);
			return -ENOMEM;
		}
		for (size_t i = 0; res.n_ranges > 1 && i < res.ranges[1].n_kvs; i++) {
			uint32_t n;

			if (parse_u32(res.ranges[1].kvs[i].key + strlen(slots), &n) == 0 &&
			    n >= first && n <= last)
				taken[n - first] = 1;
		}
		mseg_etcd_txn_result_clear(&res);
		for (uint64_t i = 0; i < span && !found; i++)
			if (!taken[i]) {
				cand = first + (uint32_t)i;
				found = true;
			}
		if (!found)
			return -ENOSPC;
		if (asprintf(&slot_key, "%s%u", slots, cand) < 0 ||
		    asprintf(&value, "%u", cand) < 0)
			return -ENOMEM;

		const struct mseg_etcd_cmp cmps[] = {
		    {.key = owner_key, .target = MSEG_ETCD_CMP_CREATE, .number = 0},
		    {.key = slot_key, .target = MSEG_ETCD_CMP_CREATE, .number = 0},
		};
		const struct mseg_etcd_op ok[] = {
		    {.kind = MSEG_ETCD_OP_PUT,
		     .key = owner_key,
		     .value = value,
		     .value_len = strlen(value)},
		    {.kind = MSEG_ETCD_OP_PUT,
		     .key = slot_key,
		     .value = owner,
		     .value_len = strlen(owner)},
		};
		r = mseg_etcd_txn(etcd, cmps, ARRAY_SIZE(cmps), ok, ARRAY_SIZE(ok), NULL, 0, &out);
		if (r < 0)
			return r;
		if (out.succeeded) {
			mseg_etcd_txn_result_clear(&out);
			*slot = cand;
			return 0;
		}
		/* Someone took the slot or allocated for this owner: look again. */
		mseg_etcd_txn_result_clear(&out);
	}
	return -EBUSY;
}

int mseg_etcd_release_slot(struct mseg_etcd *etcd, const char *prefix, const char *owner)
{
	return mseg_etcd_release_slot_unless(etcd, prefix, owner, NULL);
}

int mseg_etcd_release_slot_unless(struct mseg_etcd *etcd, const char *prefix, const char *owner,
				  const char *guard_key)
{
	_cleanup_free_ char *owner_key = NULL;

	if (!etcd || !prefix || !owner_valid(owner))
		return -EINVAL;
	if (asprintf(&owner_key, "%s/by-owner/%s", prefix, owner) < 0)
		return -ENOMEM;
	for (unsigned int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
		_cleanup_free_ char *slot_key = NULL;
		struct mseg_etcd_range range = {0};
		struct mseg_etcd_txn_result out = {0};
		int64_t mod;
		uint32_t n;
		int r;

		r = mseg_etcd_get(etcd, owner_key, &range);
		if (r < 0)
			return r;
		if (!range.n_kvs)
			return 0;
		mod = range.kvs[0].mod_revision;
		r = parse_u32(range.kvs[0].value, &n);
		mseg_etcd_range_clear(&range);
		if (r < 0)
			return r;
		if (asprintf(&slot_key, "%s/by-slot/%u", prefix, n) < 0)
			return -ENOMEM;
		const struct mseg_etcd_cmp cmps[] = {
		    {.key = owner_key, .target = MSEG_ETCD_CMP_MOD, .number = mod},
		    {.key = guard_key, .target = MSEG_ETCD_CMP_CREATE, .number = 0},
		};
		const struct mseg_etcd_op ops[] = {
		    {.kind = MSEG_ETCD_OP_DELETE, .key = owner_key},
		    {.kind = MSEG_ETCD_OP_DELETE, .key = slot_key},
		};
		/* on failure: is it the guard (it exists) or a concurrent change of the owner? */
		const struct mseg_etcd_op check[] = {
		    {.kind = MSEG_ETCD_OP_GET, .key = guard_key},
		};
		r = mseg_etcd_txn(etcd, cmps, guard_key ? 2 : 1, ops, ARRAY_SIZE(ops),
				  guard_key ? check : NULL, guard_key ? 1 : 0, &out);
		if (r < 0)
			return r;
		r = out.succeeded					 ? 1
		    : (guard_key && out.n_ranges && out.ranges[0].n_kvs) ? -EEXIST
									 : 0;
		mseg_etcd_txn_result_clear(&out);
		if (r)
			return r < 0 ? r : 0;
	}
	return -EBUSY;
}
