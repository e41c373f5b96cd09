// SPDX-License-Identifier: Apache-2.0
/*
 * Identities: a stable numbering of label sets. Two open-addressing hash tables over one
 * array of (labels, id) records: one keyed by the label set, one by the id, so that get() and
 * put() are O(1) and the allocator can skip ids pinned by put() without scanning.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/macro.h"
#include "policy/compile.h"
#include "policy/labels.h"

struct identity_rec {
	struct mseg_labels labels; /* owned copy */
	uint64_t hash;
	uint32_t id;
};

struct mseg_identities {
	struct identity_rec *recs;
	size_t n, cap;
	/* slots hold record index + 1 (0 = empty); sizes are powers of two */
	uint32_t *by_labels;
	uint32_t *by_id;
	size_t n_slots;
	uint32_t next_id;
};

static uint64_t hash_str(uint64_t h, const char *s)
{
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	/* a terminator so that ("ab","c") and ("a","bc") differ */
	h ^= 0xff;
	return h * 0x100000001b3ull;
}

static uint64_t labels_hash(const struct mseg_labels *l)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < l->n; i++) {
		h = hash_str(h, l->items[i].key);
		h = hash_str(h, l->items[i].value);
	}
	return h;
}

static uint64_t id_hash(uint32_t id)
{
	uint64_t h = id * 0x9e3779b97f4a7c15ull;

	return h ^ (h >> 29);
}

static bool labels_equal(const struct mseg_labels *a, const struct mseg_labels *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->items[i].key, b->items[i].key) ||
		    strcmp(a->items[i].value, b->items[i].value))
			return false;
	return true;
}

/* Index of the record holding labels, or -1. */
static ssize_t find_labels(const struct mseg_identities *ids, const struct mseg_labels *l,
			   uint64_t h)
{
	size_t mask = ids->n_slots - 1;

	if (!ids->n_slots)
		return -1;
	for (size_t s = h & mask;; s = (s + 1) & mask) {
		uint32_t v = ids->by_labels[s];

		if (!v)
			return -1;
		if (ids->recs[v - 1].hash == h && labels_equal(&ids->recs[v - 1].labels, l))
			return v - 1;
	}
}

static ssize_t find_id(const struct mseg_identities *ids, uint32_t id)
{
	size_t mask = ids->n_slots - 1;

	if (!ids->n_slots)
		return -1;
	for (size_t s = id_hash(id) & mask;; s = (s + 1) & mask) {
		uint32_t v = ids->by_id[s];

		if (!v)
			return -1;
		if (ids->recs[v - 1].id == id)
			return v - 1;
	}
}

static void slots_insert(struct mseg_identities *ids, size_t rec)
{
	size_t mask = ids->n_slots - 1;
	size_t s;

	for (s = ids->recs[rec].hash & mask; ids->by_labels[s]; s = (s + 1) & mask)
		;
	ids->by_labels[s] = rec + 1;
	for (s = id_hash(ids->recs[rec].id) & mask; ids->by_id[s]; s = (s + 1) & mask)
		;
	ids->by_id[s] = rec + 1;
}

/* Keeps the load factor under 1/2. */
static int grow(struct mseg_identities *ids)
{
	uint32_t *bl, *bi;
	size_t n_slots;

	if (ids->n == ids->cap) {
		size_t cap = ids->cap ? ids->cap * 2 : 64;
		struct identity_rec *recs = realloc(ids->recs, cap * sizeof(*recs));

		if (!recs)
			return -ENOMEM;
		ids->recs = recs;
		ids->cap = cap;
	}
	if ((ids->n + 1) * 2 <= ids->n_slots)
		return 0;
	n_slots = ids->n_slots ? ids->n_slots * 2 : 128;
	bl = calloc(n_slots, sizeof(*bl));
	bi = calloc(n_slots, sizeof(*bi));
	if (!bl || !bi) {
		free(bl);
		free(bi);
		return -ENOMEM;
	}
	free(ids->by_labels);
	free(ids->by_id);
	ids->by_labels = bl;
	ids->by_id = bi;
	ids->n_slots = n_slots;
	for (size_t i = 0; i < ids->n; i++)
		slots_insert(ids, i);
	return 0;
}

static int add(struct mseg_identities *ids, const struct mseg_labels *l, uint64_t h, uint32_t id)
{
	struct identity_rec *rec;
	int r;

	r = grow(ids);
	if (r < 0)
		return r;
	rec = &ids->recs[ids->n];
	*rec = (struct identity_rec){.hash = h, .id = id};
	r = mseg_labels_copy(&rec->labels, l);
	if (r < 0)
		return r;
	slots_insert(ids, ids->n++);
	return 0;
}

int mseg_identities_new(struct mseg_identities **ret)
{
	struct mseg_identities *ids;

	if (!ret)
		return -EINVAL;
	ids = calloc(1, sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	ids->next_id = MSEG_ID_FIRST_ALLOCATED;
	*ret = ids;
	return 0;
}

void mseg_identities_free(struct mseg_identities *ids)
{
	if (!ids)
		return;
	for (size_t i = 0; i < ids->n; i++)
		mseg_labels_free(&ids->recs[i].labels);
	free(ids->recs);
	free(ids->by_labels);
	free(ids->by_id);
	free(ids);
}

int mseg_identities_get(struct mseg_identities *ids, const struct mseg_labels *labels,
			uint32_t *ret)
{
	uint64_t h;
	ssize_t i;
	int r;

	if (!ids || !labels || !ret)
		return -EINVAL;
	h = labels_hash(labels);
	i = find_labels(ids, labels, h);
	if (i >= 0) {
		*ret = ids->recs[i].id;
		return 0;
	}
	/* skip ids pinned by put() */
	while (find_id(ids, ids->next_id) >= 0)
		ids->next_id++;
	if (ids->next_id < MSEG_ID_FIRST_ALLOCATED || ids->next_id >= MSEG_CLASS_CIDR_BASE)
		return -ENOSPC;
	r = add(ids, labels, h, ids->next_id);
	if (r < 0)
		return r;
	*ret = ids->next_id++;
	return 0;
}

int mseg_identities_put(struct mseg_identities *ids, const struct mseg_labels *labels, uint32_t id)
{
	uint64_t h;
	ssize_t i;

	if (!ids || !labels || id < MSEG_ID_FIRST_ALLOCATED || id >= MSEG_CLASS_CIDR_BASE)
		return -EINVAL;
	h = labels_hash(labels);
	i = find_labels(ids, labels, h);
	if (i >= 0)
		return ids->recs[i].id == id ? 0 : -EEXIST;
	if (find_id(ids, id) >= 0)
		return -EEXIST;
	return add(ids, labels, h, id);
}
