// SPDX-License-Identifier: Apache-2.0
/*
 * Drives agent/etcd.h against a real etcd from tests/netns/test_etcd.sh:
 *
 *   etcd-tool ENDPOINTS selftest PREFIX      every unary operation, checked; "ok" at the end
 *   etcd-tool ENDPOINTS lease-expiry PREFIX  a key on a 2 s lease vanishes once renewals stop
 *   etcd-tool ENDPOINTS put KEY VALUE        prints the revision
 *   etcd-tool ENDPOINTS get KEY              prints the value (exit 3 when absent)
 *   etcd-tool ENDPOINTS compact REVISION
 *   etcd-tool ENDPOINTS watch PREFIX START_REVISION
 *       streams "connected REV", "put KEY VALUE REV", "delete KEY REV", "disconnected",
 *       "compacted REV" then "resync COUNT REV" (range + restart), one per line, until killed;
 *       waits with poll() on mseg_etcd_watch_fds, as msegd's epoll loop will.
 *   etcd-tool ENDPOINTS alloc PREFIX POOL COUNT SEED
 *       COUNT identity allocations of label sets "app=l<K>" (K from 0..POOL-1, order from SEED),
 *       printing "LABELS ID" lines
 *   etcd-tool ENDPOINTS slot PREFIX OWNER FIRST LAST | release PREFIX OWNER
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/etcd.h"

static int failures;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "etcd-tool: line %d: check failed: %s: ", __LINE__,        \
				#cond);                                                            \
			fprintf(stderr, __VA_ARGS__);                                              \
			fprintf(stderr, "\n");                                                     \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

static int fail(struct mseg_etcd *e, int r, const char *what)
{
	fprintf(stderr, "etcd-tool: %s: %s (%s)\n", what, strerror(-r),
		e ? mseg_etcd_last_error(e) : "");
	return 1;
}

static char *key(const char *prefix, const char *name)
{
	char *k;

	if (asprintf(&k, "%s/%s", prefix, name) < 0)
		abort();
	return k;
}

static int selftest(struct mseg_etcd *e, const char *prefix)
{
	struct mseg_etcd_range rg = {0};
	struct mseg_etcd_txn_result tx = {0};
	char *a = key(prefix, "a"), *b = key(prefix, "b"), *c = key(prefix, "sub/c");
	char *outside = NULL, *dir = key(prefix, "");
	int64_t rev1, rev2, n, lease, ttl;
	uint8_t bin[256];
	int r;

	if (asprintf(&outside, "%s0", prefix) < 0)
		abort();
	for (unsigned int i = 0; i < sizeof(bin); i++)
		bin[i] = (uint8_t)i;

	/* put / get, binary values of every byte survive base64 both ways */
	r = mseg_etcd_put(e, a, "1", 1, 0, &rev1);
	CHECK(r == 0 && rev1 > 0, "put a: %d", r);
	r = mseg_etcd_put(e, b, bin, sizeof(bin), 0, &rev2);
	CHECK(r == 0 && rev2 == rev1 + 1, "put b: %d rev %" PRId64 " after %" PRId64, r, rev2,
	      rev1);
	r = mseg_etcd_get(e, b, &rg);
	CHECK(r == 0 && rg.n_kvs == 1 && rg.kvs[0].value_len == sizeof(bin) &&
		  !memcmp(rg.kvs[0].value, bin, sizeof(bin)) && rg.kvs[0].mod_revision == rev2 &&
		  rg.kvs[0].create_revision == rev2 && rg.kvs[0].version == 1 &&
		  !strcmp(rg.kvs[0].key, b),
	      "get b: %d", r);
	mseg_etcd_range_clear(&rg);
	r = mseg_etcd_get(e, c, &rg);
	CHECK(r == 0 && rg.n_kvs == 0 && rg.revision >= rev2, "get absent: %d", r);
	mseg_etcd_range_clear(&rg);

	/* range by prefix "PREFIX/": keys under it in order, not the sibling "PREFIX0" */
	CHECK(mseg_etcd_put(e, c, "3", 1, 0, NULL) == 0, "put c");
	CHECK(mseg_etcd_put(e, outside, "x", 1, 0, NULL) == 0, "put outside");
	r = mseg_etcd_range_prefix(e, dir, &rg);
	CHECK(r == 0 && rg.n_kvs == 3 && rg.count == 3 && !strcmp(rg.kvs[0].key, a) &&
		  !strcmp(rg.kvs[1].key, b) && !strcmp(rg.kvs[2].key, c),
	      "range: %d n %zu", r, rg.n_kvs);
	mseg_etcd_range_clear(&rg);

	/* txn: create-if-absent fails on an existing key and the failure branch reads it */
	{
		const struct mseg_etcd_cmp absent = {.key = a, .target = MSEG_ETCD_CMP_CREATE};
		const struct mseg_etcd_op put = {
		    .kind = MSEG_ETCD_OP_PUT, .key = a, .value = "2", .value_len = 1};
		const struct mseg_etcd_op get = {.kind = MSEG_ETCD_OP_GET, .key = a};

		r = mseg_etcd_txn(e, &absent, 1, &put, 1, &get, 1, &tx);
		CHECK(r == 0 && !tx.succeeded && tx.n_ranges == 1 && tx.ranges[0].n_kvs == 1 &&
			  !strcmp(tx.ranges[0].kvs[0].value, "1"),
		      "txn create-if-absent on existing: %d", r);
		mseg_etcd_txn_result_clear(&tx);

		/* compare mod_revision: the right revision wins, a stale one loses */
		const struct mseg_etcd_cmp mod = {
		    .key = a, .target = MSEG_ETCD_CMP_MOD, .number = rev1};
		r = mseg_etcd_txn(e, &mod, 1, &put, 1, NULL, 0, &tx);
		CHECK(r == 0 && tx.succeeded && tx.n_ranges == 1, "txn CAS: %d", r);
		mseg_etcd_txn_result_clear(&tx);
		r = mseg_etcd_txn(e, &mod, 1, &put, 1, NULL, 0, &tx);
		CHECK(r == 0 && !tx.succeeded, "txn stale CAS: %d", r);
		mseg_etcd_txn_result_clear(&tx);

		const struct mseg_etcd_cmp val = {
		    .key = a, .target = MSEG_ETCD_CMP_VALUE, .value = "2", .value_len = 1};
		r = mseg_etcd_txn(e, &val, 1, &get, 1, NULL, 0, &tx);
		CHECK(r == 0 && tx.succeeded && tx.ranges[0].n_kvs == 1 &&
			  tx.ranges[0].kvs[0].version == 2,
		      "txn value compare: %d", r);
		mseg_etcd_txn_result_clear(&tx);

		char *fresh = key(prefix, "fresh");
		const struct mseg_etcd_cmp none = {.key = fresh, .target = MSEG_ETCD_CMP_CREATE};
		const struct mseg_etcd_op mk = {
		    .kind = MSEG_ETCD_OP_PUT, .key = fresh, .value = "f", .value_len = 1};
		r = mseg_etcd_txn(e, &none, 1, &mk, 1, NULL, 0, &tx);
		CHECK(r == 0 && tx.succeeded, "txn create-if-absent on new: %d", r);
		mseg_etcd_txn_result_clear(&tx);
		free(fresh);
	}

	/* delete one key, then the whole prefix (the sibling outside stays) */
	r = mseg_etcd_delete(e, a, false, &n, NULL);
	CHECK(r == 0 && n == 1, "delete a: %d n %" PRId64, r, n);
	r = mseg_etcd_delete(e, a, false, &n, NULL);
	CHECK(r == 0 && n == 0, "delete a again: %d n %" PRId64, r, n);
	r = mseg_etcd_delete(e, dir, true, &n, NULL);
	CHECK(r == 0 && n == 3, "delete prefix: %d n %" PRId64, r, n);
	r = mseg_etcd_get(e, outside, &rg);
	CHECK(r == 0 && rg.n_kvs == 1, "sibling kept: %d", r);
	mseg_etcd_range_clear(&rg);
	CHECK(mseg_etcd_delete(e, outside, false, NULL, NULL) == 0, "delete outside");

	/* leases: grant, attach, keepalive, revoke deletes the key, unknown lease is -ENOENT */
	r = mseg_etcd_lease_grant(e, 30, &lease);
	CHECK(r == 0 && lease != 0, "grant: %d", r);
	CHECK(mseg_etcd_put(e, a, "leased", 6, lease, NULL) == 0, "put on lease");
	r = mseg_etcd_get(e, a, &rg);
	CHECK(r == 0 && rg.n_kvs == 1 && rg.kvs[0].lease == lease, "lease on key: %d", r);
	mseg_etcd_range_clear(&rg);
	r = mseg_etcd_lease_keepalive(e, lease, &ttl);
	CHECK(r == 0 && ttl == 30, "keepalive: %d ttl %" PRId64, r, ttl);
	r = mseg_etcd_lease_revoke(e, lease);
	CHECK(r == 0, "revoke: %d", r);
	r = mseg_etcd_get(e, a, &rg);
	CHECK(r == 0 && rg.n_kvs == 0, "revoked lease's key gone: %d", r);
	mseg_etcd_range_clear(&rg);
	r = mseg_etcd_lease_keepalive(e, lease, &ttl);
	CHECK(r == -ENOENT, "keepalive of revoked lease: %d", r);
	r = mseg_etcd_lease_revoke(e, lease);
	CHECK(r == -ENOENT, "revoke of revoked lease: %d (%s)", r, mseg_etcd_last_error(e));
	r = mseg_etcd_put(e, a, "x", 1, lease, NULL);
	CHECK(r == -ENOENT, "put on revoked lease: %d (%s)", r, mseg_etcd_last_error(e));

	/* compaction: compacting an old revision again is refused as out of range */
	r = mseg_etcd_compact(e, rev1);
	CHECK(r == 0 || r == -ERANGE, "compact: %d (%s)", r, mseg_etcd_last_error(e));
	r = mseg_etcd_compact(e, rev1);
	CHECK(r == -ERANGE, "compact twice: %d (%s)", r, mseg_etcd_last_error(e));

	free(a);
	free(b);
	free(c);
	free(outside);
	free(dir);
	if (failures)
		return 1;
	printf("ok\n");
	return 0;
}

static int lease_expiry(struct mseg_etcd *e, const char *prefix)
{
	struct mseg_etcd_range rg = {0};
	char *k = key(prefix, "node");
	int64_t lease, ttl;
	int r;

	r = mseg_etcd_lease_grant(e, 2, &lease);
	if (r < 0)
		return fail(e, r, "grant");
	CHECK(mseg_etcd_put(e, k, "alive", 5, lease, NULL) == 0, "put");
	/* Renewed for 3 s (beyond the TTL): still there. */
	for (int i = 0; i < 6; i++) {
		usleep(500000);
		r = mseg_etcd_lease_keepalive(e, lease, &ttl);
		CHECK(r == 0 && ttl == 2, "keepalive %d: %d", i, r);
	}
	r = mseg_etcd_get(e, k, &rg);
	CHECK(r == 0 && rg.n_kvs == 1, "kept alive: %d", r);
	mseg_etcd_range_clear(&rg);
	/* No more renewals: gone after the TTL (etcd checks expiry every 500 ms or so). */
	usleep(3500000);
	r = mseg_etcd_get(e, k, &rg);
	CHECK(r == 0 && rg.n_kvs == 0, "expired: %d n %zu", r, rg.n_kvs);
	mseg_etcd_range_clear(&rg);
	CHECK(mseg_etcd_lease_keepalive(e, lease, &ttl) == -ENOENT, "keepalive after expiry");
	free(k);
	if (failures)
		return 1;
	printf("ok\n");
	return 0;
}

struct watch_ctx {
	bool compacted;
	int64_t compact_rev;
};

static int watch_cb(const struct mseg_etcd_event *ev, void *data)
{
	struct watch_ctx *ctx = data;

	switch (ev->type) {
	case MSEG_ETCD_EVENT_PUT:
		printf("put %s %s %" PRId64 "\n", ev->kv->key, ev->kv->value, ev->revision);
		break;
	case MSEG_ETCD_EVENT_DELETE:
		printf("delete %s %" PRId64 "\n", ev->kv->key, ev->revision);
		break;
	case MSEG_ETCD_EVENT_CONNECTED:
		printf("connected %" PRId64 "\n", ev->revision);
		break;
	case MSEG_ETCD_EVENT_DISCONNECTED:
		printf("disconnected\n");
		break;
	case MSEG_ETCD_EVENT_COMPACTED:
		printf("compacted %" PRId64 "\n", ev->revision);
		ctx->compacted = true;
		ctx->compact_rev = ev->revision;
		break;
	}
	fflush(stdout);
	return 0;
}

static int watch(const char *endpoints, const char *prefix, int64_t start)
{
	struct mseg_etcd_watch *w = NULL;
	struct mseg_etcd *e = NULL;
	struct watch_ctx ctx = {0};
	int r;

	r = mseg_etcd_watch_new(&w, endpoints, prefix, start);
	if (r < 0)
		return fail(NULL, r, "watch");
	r = mseg_etcd_new(&e, endpoints, 0);
	if (r < 0)
		return fail(NULL, r, "client");
	for (;;) {
		struct pollfd fds[8];
		size_t n;
		long timeout;

		r = mseg_etcd_watch_fds(w, fds, 8, &n, &timeout);
		if (r < 0)
			return fail(NULL, r, "watch fds");
		if (poll(fds, n, (int)timeout) < 0 && errno != EINTR)
			return fail(NULL, -errno, "poll");
		r = mseg_etcd_watch_poll(w, watch_cb, &ctx);
		if (r < 0)
			return fail(NULL, r, "watch poll");
		if (ctx.compacted) {
			/* What an agent does: read everything again, then watch from there. */
			struct mseg_etcd_range rg = {0};

			ctx.compacted = false;
			r = mseg_etcd_range_prefix(e, prefix, &rg);
			if (r < 0) {
				fail(e, r, "resync");
				usleep(200000);
				ctx.compacted = true;
				continue;
			}
			printf("resync %zu %" PRId64 "\n", rg.n_kvs, rg.revision);
			fflush(stdout);
			mseg_etcd_watch_restart(w, rg.revision + 1);
			mseg_etcd_range_clear(&rg);
		}
	}
}

/* Fisher-Yates with a tiny LCG: a different order per process, reproducible per seed. */
static int alloc(struct mseg_etcd *e, const char *prefix, unsigned pool, unsigned count,
		 unsigned seed)
{
	unsigned *order = calloc(pool, sizeof(*order));
	uint64_t s = seed * 2654435761u + 1;

	if (!order || count > pool)
		return 2;
	for (unsigned i = 0; i < pool; i++)
		order[i] = i;
	for (unsigned i = pool - 1; i > 0; i--) {
		unsigned j, t;

		s = s * 6364136223846793005ull + 1442695040888963407ull;
		j = (unsigned)(s >> 33) % (i + 1);
		t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (unsigned i = 0; i < count; i++) {
		char labels[64];
		uint32_t id;
		int r;

		snprintf(labels, sizeof(labels), "app=l%u", order[i]);
		r = mseg_etcd_allocate_id(e, prefix, labels, 256, &id);
		if (r < 0)
			return fail(e, r, labels);
		printf("%s %u\n", labels, id);
	}
	free(order);
	return 0;
}

int main(int argc, char **argv)
{
	struct mseg_etcd *e = NULL;
	int r;

	signal(SIGPIPE, SIG_IGN);
	if (argc < 3)
		goto usage;
	if (!strcmp(argv[2], "watch") && argc == 5)
		return watch(argv[1], argv[3], strtoll(argv[4], NULL, 10));
	r = mseg_etcd_new(&e, argv[1], 0);
	if (r < 0)
		return fail(NULL, r, argv[1]);
	if (!strcmp(argv[2], "selftest") && argc == 4) {
		r = selftest(e, argv[3]);
	} else if (!strcmp(argv[2], "lease-expiry") && argc == 4) {
		r = lease_expiry(e, argv[3]);
	} else if (!strcmp(argv[2], "put") && argc == 5) {
		int64_t rev;

		r = mseg_etcd_put(e, argv[3], argv[4], strlen(argv[4]), 0, &rev);
		r = r < 0 ? fail(e, r, "put") : (printf("%" PRId64 "\n", rev), 0);
	} else if (!strcmp(argv[2], "get") && argc == 4) {
		struct mseg_etcd_range rg = {0};

		r = mseg_etcd_get(e, argv[3], &rg);
		if (r < 0)
			r = fail(e, r, "get");
		else if (!rg.n_kvs)
			r = 3;
		else
			r = (printf("%s\n", rg.kvs[0].value), 0);
		mseg_etcd_range_clear(&rg);
	} else if (!strcmp(argv[2], "compact") && argc == 4) {
		r = mseg_etcd_compact(e, strtoll(argv[3], NULL, 10));
		r = r < 0 ? fail(e, r, "compact") : 0;
	} else if (!strcmp(argv[2], "alloc") && argc == 7) {
		r = alloc(e, argv[3], (unsigned)atoi(argv[4]), (unsigned)atoi(argv[5]),
			  (unsigned)atoi(argv[6]));
	} else if (!strcmp(argv[2], "slot") && argc == 7) {
		uint32_t slot;

		r = mseg_etcd_allocate_slot(e, argv[3], argv[4], (uint32_t)atoi(argv[5]),
					    (uint32_t)atoi(argv[6]), &slot);
		r = r < 0 ? fail(e, r, "slot") : (printf("%u\n", slot), 0);
	} else if (!strcmp(argv[2], "release") && argc == 5) {
		r = mseg_etcd_release_slot(e, argv[3], argv[4]);
		r = r < 0 ? fail(e, r, "release") : 0;
	} else {
		mseg_etcd_free(e);
		goto usage;
	}
	mseg_etcd_free(e);
	return r;
usage:
	fprintf(stderr, "usage: etcd-tool ENDPOINTS selftest|lease-expiry PREFIX | put KEY VALUE | "
			"get KEY | compact REV | watch PREFIX START_REV | alloc PREFIX POOL COUNT "
			"SEED | slot PREFIX OWNER FIRST LAST | release PREFIX OWNER\n");
	return 2;
}
