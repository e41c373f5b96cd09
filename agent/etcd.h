/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An etcd v3 client over the JSON gateway (etcd 3.4: POST /v3/kv/range etc., keys and values
 * base64 (lib/base64.h) in the JSON, 64-bit numbers as strings), with libcurl and jansson.
 *
 *   etcd.c        the client: blocking unary calls (put, get, range, delete, txn, leases,
 *                 compaction) with a short timeout, failing over between endpoints
 *   etcd_codec.c  pure request building and response parsing (unit-tested without etcd)
 *   etcd_watch.c  the streaming watch on the curl multi interface, for an epoll loop
 *   etcd_alloc.c  allocation by transaction: identities and per-node slots (pod CIDRs)
 *
 * Errors are negative errno: -ECONNREFUSED/-ETIMEDOUT/-EHOSTUNREACH when no endpoint answers,
 * -ENOENT for an unknown lease, -ERANGE for a compacted revision, -EINVAL for a request etcd
 * refuses, -EPROTO for an answer that is not what the gateway should send. The client keeps
 * the message of the last failure (mseg_etcd_last_error) so the agent can log it once; this
 * code itself never logs.
 */
#ifndef MSEG_AGENT_ETCD_H
#define MSEG_AGENT_ETCD_H

#include <jansson.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MSEG_ETCD_TIMEOUT_MS 2000

struct mseg_etcd;

/* One key-value as etcd returns it; value is NUL-terminated for convenience (not counted). */
struct mseg_etcd_kv {
	char *key;
	char *value;
	size_t value_len;
	int64_t create_revision;
	int64_t mod_revision;
	int64_t version;
	int64_t lease;
};

/* The answer of a range request: the store's revision when it ran, and the keys found. */
struct mseg_etcd_range {
	int64_t revision;
	struct mseg_etcd_kv *kvs;
	size_t n_kvs;
	int64_t count; /* keys in the range (>= n_kvs when limited) */
	bool more;
};

void mseg_etcd_kv_clear(struct mseg_etcd_kv *kv);
void mseg_etcd_range_clear(struct mseg_etcd_range *range);

/*
 * endpoints: "http://a:2379[,http://b:2379...]"; timeout_ms 0 means MSEG_ETCD_TIMEOUT_MS.
 * Nothing is contacted yet. -EINVAL names nothing: an empty list or an endpoint that is not
 * http(s)://.
 */
int mseg_etcd_new(struct mseg_etcd **ret, const char *endpoints, long timeout_ms);
void mseg_etcd_free(struct mseg_etcd *etcd);
/* Why the last call failed ("" when it did not), e.g. "http://10.0.0.1:2379: Connection refused".
 */
const char *mseg_etcd_last_error(const struct mseg_etcd *etcd);
/* The endpoint the client uses now (after failover). */
const char *mseg_etcd_endpoint(const struct mseg_etcd *etcd);

/* ---- key-value ------------------------------------------------------------------------- */

/* Puts key=value (value_len bytes), attached to lease (0: none); *revision may be NULL. */
int mseg_etcd_put(struct mseg_etcd *etcd, const char *key, const void *value, size_t value_len,
		  int64_t lease, int64_t *revision);
/* The one key (n_kvs 0 when absent; not an error). */
int mseg_etcd_get(struct mseg_etcd *etcd, const char *key, struct mseg_etcd_range *ret);
/* Every key starting with prefix, in key order ("" is the whole keyspace). */
int mseg_etcd_range_prefix(struct mseg_etcd *etcd, const char *prefix, struct mseg_etcd_range *ret);
/* Deletes key, or every key under it when prefix; *deleted (may be NULL) gets the count. */
int mseg_etcd_delete(struct mseg_etcd *etcd, const char *key, bool prefix, int64_t *deleted,
		     int64_t *revision);

/* ---- transactions ---------------------------------------------------------------------- */

enum mseg_etcd_cmp_target {
	MSEG_ETCD_CMP_CREATE, /* create_revision: 0 when the key does not exist */
	MSEG_ETCD_CMP_MOD,    /* mod_revision */
	MSEG_ETCD_CMP_VERSION,
	MSEG_ETCD_CMP_VALUE,
};

enum mseg_etcd_cmp_result {
	MSEG_ETCD_EQUAL,
	MSEG_ETCD_GREATER,
	MSEG_ETCD_LESS,
	MSEG_ETCD_NOT_EQUAL,
};

struct mseg_etcd_cmp {
	const char *key;
	enum mseg_etcd_cmp_target target;
	enum mseg_etcd_cmp_result result;
	int64_t number;	   /* CREATE, MOD, VERSION */
	const void *value; /* VALUE */
	size_t value_len;
};

enum mseg_etcd_op_kind {
	MSEG_ETCD_OP_PUT,
	MSEG_ETCD_OP_GET,
	MSEG_ETCD_OP_DELETE,
};

struct mseg_etcd_op {
	enum mseg_etcd_op_kind kind;
	const char *key;
	bool prefix; /* GET, DELETE: the whole range under key */
	const void *value;
	size_t value_len;
	int64_t lease; /* PUT */
};

/* The outcome of a txn: which branch ran, and per op of that branch its range (GET only). */
struct mseg_etcd_txn_result {
	bool succeeded;
	int64_t revision;
	struct mseg_etcd_range *ranges; /* one per op of the branch taken; empty for non-GETs */
	size_t n_ranges;
};

void mseg_etcd_txn_result_clear(struct mseg_etcd_txn_result *res);

/* If every compare holds, runs success, else failure, atomically (etcd Txn). */
int mseg_etcd_txn(struct mseg_etcd *etcd, const struct mseg_etcd_cmp *cmps, size_t n_cmps,
		  const struct mseg_etcd_op *success, size_t n_success,
		  const struct mseg_etcd_op *failure, size_t n_failure,
		  struct mseg_etcd_txn_result *ret);

/* ---- leases and maintenance ------------------------------------------------------------ */

int mseg_etcd_lease_grant(struct mseg_etcd *etcd, int64_t ttl_seconds, int64_t *id);
/* Renews the lease once; *ttl (may be NULL) gets the new TTL. -ENOENT when it expired. */
int mseg_etcd_lease_keepalive(struct mseg_etcd *etcd, int64_t id, int64_t *ttl);
/* Revokes the lease, deleting its keys; -ENOENT when it does not exist. */
int mseg_etcd_lease_revoke(struct mseg_etcd *etcd, int64_t id);
/* Compacts history up to revision (watches from before it then report compaction). */
int mseg_etcd_compact(struct mseg_etcd *etcd, int64_t revision);

/* ---- the watch (etcd_watch.c) ---------------------------------------------------------- */

struct mseg_etcd_watch;

enum mseg_etcd_event_type {
	MSEG_ETCD_EVENT_PUT,
	MSEG_ETCD_EVENT_DELETE,
	/* The stream is established (again): the caller may now trust events to follow. */
	MSEG_ETCD_EVENT_CONNECTED,
	/* The stream broke; the watch reconnects by itself with backoff from where it stopped. */
	MSEG_ETCD_EVENT_DISCONNECTED,
	/*
	 * The revision to resume from was compacted away (revision = compact_revision): events
	 * were lost. The watch stops; the caller resyncs (mseg_etcd_range_prefix) and restarts it
	 * from that range's revision + 1 with mseg_etcd_watch_restart.
	 */
	MSEG_ETCD_EVENT_COMPACTED,
};

struct mseg_etcd_event {
	enum mseg_etcd_event_type type;
	const struct mseg_etcd_kv *kv; /* PUT, DELETE (a DELETE has key and mod_revision only) */
	int64_t revision;	       /* PUT/DELETE: mod_revision; COMPACTED: compact_revision */
};

/* Returns 0 to go on, negative to stop the current poll and return that error. */
typedef int (*mseg_etcd_watch_cb)(const struct mseg_etcd_event *ev, void *data);

/*
 * Watches every key under prefix from start_revision (0: from now on). Nothing blocks: the
 * connection is made by the polls.
 */
int mseg_etcd_watch_new(struct mseg_etcd_watch **ret, const char *endpoints, const char *prefix,
			int64_t start_revision);
void mseg_etcd_watch_free(struct mseg_etcd_watch *w);
/*
 * The descriptors to wait on (fds[i].events: POLLIN and/or POLLOUT, equal to EPOLLIN/EPOLLOUT),
 * n_fds may be 0 (e.g. while waiting to reconnect), and how long to wait at most (ms, -1: no
 * limit) before calling mseg_etcd_watch_poll again. They change with every poll: an epoll
 * user re-registers them after each poll.
 */
int mseg_etcd_watch_fds(struct mseg_etcd_watch *w, struct pollfd *fds, size_t max_fds,
			size_t *n_fds, long *timeout_ms);
/*
 * Does what is ready without waiting and reports each event to cb. When cb fails, the rest of
 * that stream message is still delivered and the first error returned.
 */
int mseg_etcd_watch_poll(struct mseg_etcd_watch *w, mseg_etcd_watch_cb cb, void *data);
/* The revision the watch resumes from after a disconnect (0 while unknown). */
int64_t mseg_etcd_watch_next_revision(const struct mseg_etcd_watch *w);
bool mseg_etcd_watch_connected(const struct mseg_etcd_watch *w);
/* Restarts the stream from start_revision (after a resync following COMPACTED). */
int mseg_etcd_watch_restart(struct mseg_etcd_watch *w, int64_t start_revision);

/* ---- allocation (etcd_alloc.c) --------------------------------------------------------- */

/*
 * The numeric identity of a label set, the same on every node: PREFIX/ids/by-labels/<hash>
 * (created if absent, value {"id":N,"labels":KEY}), PREFIX/ids/by-id/<N> and the counter
 * PREFIX/ids/next, all in one transaction that also checks the counter's mod_revision, so
 * concurrent allocators either win or see the winner's id. ids start at first.
 * labels_key is the canonical text of the label set.
 */
int mseg_etcd_allocate_id(struct mseg_etcd *etcd, const char *prefix, const char *labels_key,
			  uint32_t first, uint32_t *id);
/*
 * A slot in first..last owned by owner (a node name), kept across restarts: PREFIX/by-owner/
 * <owner> and PREFIX/by-slot/<N> are created together or not at all. The same owner gets its
 * slot back; -ENOSPC when every slot is taken. A node's pod CIDR is slot N of the cluster CIDR
 * (runtime/vxlan.h mseg_vxlan_pod_cidr).
 */
int mseg_etcd_allocate_slot(struct mseg_etcd *etcd, const char *prefix, const char *owner,
			    uint32_t first, uint32_t last, uint32_t *slot);
/* Frees owner's slot (a node removed for good); 0 when it had none. */
int mseg_etcd_release_slot(struct mseg_etcd *etcd, const char *prefix, const char *owner);
/* The same, in one transaction with "guard_key does not exist"; -EEXIST when it does. */
int mseg_etcd_release_slot_unless(struct mseg_etcd *etcd, const char *prefix, const char *owner,
				  const char *guard_key);

/* ---- pure codec (etcd_codec.c), exposed for tests ------------------------------------- */

/* The range_end that makes [key, end) every key with that prefix; "" -> "\0" (all keys). */
int mseg_etcd_prefix_end(const char *prefix, char **ret, size_t *len);

/* Request bodies, as the gateway expects them (new references). */
json_t *mseg_etcd_req_put(const char *key, const void *value, size_t value_len, int64_t lease);
json_t *mseg_etcd_req_range(const char *key, bool prefix);
json_t *mseg_etcd_req_delete(const char *key, bool prefix);
json_t *mseg_etcd_req_txn(const struct mseg_etcd_cmp *cmps, size_t n_cmps,
			  const struct mseg_etcd_op *success, size_t n_success,
			  const struct mseg_etcd_op *failure, size_t n_failure);
json_t *mseg_etcd_req_watch(const char *prefix, int64_t start_revision);

/* An int64 field that the gateway sends as a string (or a number); absent: 0. */
int mseg_etcd_json_int64(const json_t *obj, const char *field, int64_t *ret);
/* Fills *kv from a gateway kv object. */
int mseg_etcd_parse_kv(const json_t *obj, struct mseg_etcd_kv *kv);
/* A RangeResponse (or the "response_range" of a txn). */
int mseg_etcd_parse_range(const json_t *obj, struct mseg_etcd_range *ret);
int mseg_etcd_parse_txn(const json_t *obj, struct mseg_etcd_txn_result *ret);
/*
 * A gateway error body ({"error": "...", "code": N, "message": "..."}) to -errno; *msg points
 * into obj. 0 when obj is not an error.
 */
int mseg_etcd_parse_error(const json_t *obj, const char **msg);

/* One line of the watch stream, as the watch reads it. */
struct mseg_etcd_watch_msg {
	bool created, canceled;
	int64_t header_revision;
	int64_t compact_revision;
	struct mseg_etcd_kv *kvs; /* events, in order */
	bool *deleted;		  /* per event: DELETE (else PUT) */
	size_t n_events;
	char *cancel_reason; /* owned; NULL when not canceled */
};

void mseg_etcd_watch_msg_clear(struct mseg_etcd_watch_msg *m);
/* Parses one line ({"result": {...}} or an {"error": ...} object). */
int mseg_etcd_parse_watch_line(const char *line, size_t len, struct mseg_etcd_watch_msg *ret);

#endif
