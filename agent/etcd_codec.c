// SPDX-License-Identifier: Apache-2.0
/*
 * The etcd JSON gateway's wire format, without any I/O: request bodies and the
 * parsing of responses and watch stream lines. The gateway (grpc-gateway, proto3 JSON) omits
 * fields at their default (false, 0, PUT), sends int64 as strings and bytes as base64.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/etcd.h"
#include "lib/base64.h"
#include "macro.h"

int mseg_etcd_prefix_end(const char *prefix, char **ret, size_t *len)
{
	size_t n = strlen(prefix);
	char *end;

	end = malloc(n + 1);
	if (!end)
		return -ENOMEM;
	memcpy(end, prefix, n + 1);
	/* The first key after every key with this prefix: bump the last byte below 0xff. */
	while (n > 0) {
		if ((uint8_t)end[n - 1] < 0xff) {
			end[n - 1]++;
			end[n] = 0;
			*ret = end;
			*len = n;
			return 0;
		}
		n--;
	}
	/* Empty (or all 0xff): etcd's "\0" range end means "to the end of the keyspace". */
	end[0] = 0;
	*ret = end;
	*len = 1;
	return 0;
}

/* Sets obj[field] = base64(data). */
static int set_b64(json_t *obj, const char *field, const void *data, size_t len)
{
	_cleanup_free_ char *s = NULL;

	if (mseg_base64_encode(data, len, &s) < 0)
		return -ENOMEM;
	return json_object_set_new(obj, field, json_string(s)) < 0 ? -ENOMEM : 0;
}

static int set_key_range(json_t *obj, const char *key, bool prefix)
{
	_cleanup_free_ char *end = NULL;
	size_t end_len;

	if (set_b64(obj, "key", key, strlen(key)) < 0)
		return -ENOMEM;
	if (!prefix)
		return 0;
	if (mseg_etcd_prefix_end(key, &end, &end_len) < 0)
		return -ENOMEM;
	return set_b64(obj, "range_end", end, end_len);
}

/* int64 as a JSON string: exact beyond 2^53, and what the gateway itself emits. */
static int set_i64(json_t *obj, const char *field, int64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	return json_object_set_new(obj, field, json_string(buf)) < 0 ? -ENOMEM : 0;
}

json_t *mseg_etcd_req_put(const char *key, const void *value, size_t value_len, int64_t lease)
{
	json_t *o = json_object();

	if (!o || !key || set_b64(o, "key", key, strlen(key)) < 0 ||
	    set_b64(o, "value", value ? value : "", value ? value_len : 0) < 0 ||
	    (lease && set_i64(o, "lease", lease) < 0)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *mseg_etcd_req_range(const char *key, bool prefix)
{
	json_t *o = json_object();

	if (!o || !key || set_key_range(o, key, prefix) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *mseg_etcd_req_delete(const char *key, bool prefix)
{
	return mseg_etcd_req_range(key, prefix);
}

static json_t *req_op(const struct mseg_etcd_op *op)
{
	json_t *inner = NULL, *o;
	const char *name;

	switch (op->kind) {
	case MSEG_ETCD_OP_PUT:
		inner = mseg_etcd_req_put(op->key, op->value, op->value_len, op->lease);
		name = "request_put";
		break;
	case MSEG_ETCD_OP_GET:
		inner = mseg_etcd_req_range(op->key, op->prefix);
		name = "request_range";
		break;
	case MSEG_ETCD_OP_DELETE:
		inner = mseg_etcd_req_delete(op->key, op->prefix);
		name = "request_delete_range";
		break;
	default:
		return NULL;
	}
	if (!inner)
		return NULL;
	o = json_object();
	if (!o || json_object_set_new(o, name, inner) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *req_cmp(const struct mseg_etcd_cmp *c)
{
	static const char *const targets[] = {"CREATE", "MOD", "VERSION", "VALUE"};
	static const char *const fields[] = {"create_revision", "mod_revision", "version", NULL};
	static const char *const results[] = {"EQUAL", "GREATER", "LESS", "NOT_EQUAL"};
	json_t *o;
	int r;

	if (!c->key || (unsigned)c->target >= ARRAY_SIZE(targets) ||
	    (unsigned)c->result >= ARRAY_SIZE(results))
		return NULL;
	o = json_object();
	if (!o)
		return NULL;
	r = set_b64(o, "key", c->key, strlen(c->key));
	if (r >= 0)
		r = json_object_set_new(o, "target", json_string(targets[c->target]));
	if (r >= 0)
		r = json_object_set_new(o, "result", json_string(results[c->result]));
	if (r >= 0 && c->target == MSEG_ETCD_CMP_VALUE)
		r = set_b64(o, "value", c->value ? c->value : "", c->value ? c->value_len : 0);
	else if (r >= 0)
		r = set_i64(o, fields[c->target], c->number);
	if (r < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static int append_ops(json_t *arr, const struct mseg_etcd_op *ops, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (json_array_append_new(arr, req_op(&ops[i])) < 0)
			return -EINVAL;
	return 0;
}

json_t *mseg_etcd_req_txn(const struct mseg_etcd_cmp *cmps, size_t n_cmps,
			  const struct mseg_etcd_op *success, size_t n_success,
			  const struct mseg_etcd_op *failure, size_t n_failure)
{
	json_t *o = json_object(), *c = json_array(), *s = json_array(), *f = json_array();

	if (!o || !c || !s || !f)
		goto fail;
	for (size_t i = 0; i < n_cmps; i++)
		if (json_array_append_new(c, req_cmp(&cmps[i])) < 0)
			goto fail;
	if (append_ops(s, success, n_success) < 0 || append_ops(f, failure, n_failure) < 0)
		goto fail;
	if (json_object_set_new(o, "compare", c) < 0) {
		c = NULL;
		goto fail;
	}
	c = NULL;
	if (json_object_set_new(o, "success", s) < 0) {
		s = NULL;
		goto fail;
	}
	s = NULL;
	if (json_object_set_new(o, "failure", f) < 0) {
		f = NULL;
		goto fail;
	}
	return o;
fail:
	json_decref(c);
	json_decref(s);
	json_decref(f);
	json_decref(o);
	return NULL;
}

json_t *mseg_etcd_req_watch(const char *prefix, int64_t start_revision)
{
	json_t *o = json_object(), *inner = mseg_etcd_req_range(prefix ? prefix : "", true);

	if (!o || !inner ||
	    (start_revision > 0 && set_i64(inner, "start_revision", start_revision) < 0) ||
	    json_object_set_new(inner, "prev_kv", json_false()) < 0 ||
	    json_object_set_new(o, "create_request", inner) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int mseg_etcd_json_int64(const json_t *obj, const char *field, int64_t *ret)
{
	const json_t *v = json_object_get(obj, field);
	const char *s;
	char *end;
	long long n;

	*ret = 0;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		*ret = json_integer_value(v);
		return 0;
	}
	if (!json_is_string(v))
		return -EPROTO;
	s = json_string_value(v);
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		return -EPROTO;
	*ret = n;
	return 0;
}

static int get_b64(const json_t *obj, const char *field, char **ret, size_t *len)
{
	const json_t *v = json_object_get(obj, field);
	void *data;
	int r;

	if (!v) {
		/* proto3 JSON omits empty bytes. */
		*ret = calloc(1, 1);
		*len = 0;
		return *ret ? 0 : -ENOMEM;
	}
	if (!json_is_string(v))
		return -EPROTO;
	r = mseg_base64_decode(json_string_value(v), &data, len);
	if (r < 0)
		return r == -EINVAL ? -EPROTO : r;
	*ret = data;
	return 0;
}

void mseg_etcd_kv_clear(struct mseg_etcd_kv *kv)
{
	if (!kv)
		return;
	free(kv->key);
	free(kv->value);
	memset(kv, 0, sizeof(*kv));
}

int mseg_etcd_parse_kv(const json_t *obj, struct mseg_etcd_kv *kv)
{
	size_t key_len;
	int r;

	memset(kv, 0, sizeof(*kv));
	if (!json_is_object(obj))
		return -EPROTO;
	r = get_b64(obj, "key", &kv->key, &key_len);
	if (r >= 0)
		r = get_b64(obj, "value", &kv->value, &kv->value_len);
	if (r >= 0)
		r = mseg_etcd_json_int64(obj, "create_revision", &kv->create_revision);
	if (r >= 0)
		r = mseg_etcd_json_int64(obj, "mod_revision", &kv->mod_revision);
	if (r >= 0)
		r = mseg_etcd_json_int64(obj, "version", &kv->version);
	if (r >= 0)
		r = mseg_etcd_json_int64(obj, "lease", &kv->lease);
	/* A key with a NUL inside would be silently cut by every C string user. */
	if (r >= 0 && strlen(kv->key) != key_len)
		r = -EPROTO;
	if (r < 0)
		mseg_etcd_kv_clear(kv);
	return r;
}

void mseg_etcd_range_clear(struct mseg_etcd_range *range)
{
	if (!range)
		return;
	for (size_t i = 0; i < range->n_kvs; i++)
		mseg_etcd_kv_clear(&range->kvs[i]);
	free(range->kvs);
	memset(range, 0, sizeof(*range));
}

static int header_revision(const json_t *obj, int64_t *ret)
{
	return mseg_etcd_json_int64(json_object_get(obj, "header"), "revision", ret);
}

int mseg_etcd_parse_range(const json_t *obj, struct mseg_etcd_range *ret)
{
	struct mseg_etcd_range range = {0};
	const json_t *kvs = json_object_get(obj, "kvs");
	int r;

	if (!json_is_object(obj) || (kvs && !json_is_array(kvs)))
		return -EPROTO;
	r = header_revision(obj, &range.revision);
	if (r >= 0)
		r = mseg_etcd_json_int64(obj, "count", &range.count);
	if (r < 0)
		return r;
	range.more = json_is_true(json_object_get(obj, "more"));
	if (kvs && json_array_size(kvs)) {
		range.kvs = calloc(json_array_size(kvs), sizeof(*range.kvs));
		if (!range.kvs)
			return -ENOMEM;
		for (size_t i = 0; i < json_array_size(kvs); i++) {
			r = mseg_etcd_parse_kv(json_array_get(kvs, i), &range.kvs[i]);
			if (r < 0) {
				mseg_etcd_range_clear(&range);
				return r;
			}
			range.n_kvs++;
		}
	}
	*ret = range;
	return 0;
}

void mseg_etcd_txn_result_clear(struct mseg_etcd_txn_result *res)
{
	if (!res)
		return;
	for (size_t i = 0; i < res->n_ranges; i++)
		mseg_etcd_range_clear(&res->ranges[i]);
	free(res->ranges);
	memset(res, 0, sizeof(*res));
}

int mseg_etcd_parse_txn(const json_t *obj, struct mseg_etcd_txn_result *ret)
{
	struct mseg_etcd_txn_result res = {0};
	const json_t *resps = json_object_get(obj, "responses");
	int r;

	if (!json_is_object(obj) || (resps && !json_is_array(resps)))
		return -EPROTO;
	r = header_revision(obj, &res.revision);
	if (r < 0)
		return r;
	res.succeeded = json_is_true(json_object_get(obj, "succeeded"));
	if (resps && json_array_size(resps)) {
		res.ranges = calloc(json_array_size(resps), sizeof(*res.ranges));
		if (!res.ranges)
			return -ENOMEM;
		for (size_t i = 0; i < json_array_size(resps); i++) {
			const json_t *range =
			    json_object_get(json_array_get(resps, i), "response_range");

			res.n_ranges++;
			if (!range)
				continue;
			r = mseg_etcd_parse_range(range, &res.ranges[i]);
			if (r < 0) {
				mseg_etcd_txn_result_clear(&res);
				return r;
			}
		}
	}
	*ret = res;
	return 0;
}

/* gRPC status codes (google.golang.org/grpc/codes) to errno. */
static int grpc_errno(int64_t code)
{
	switch (code) {
	case 1: /* Canceled */
		return -ECANCELED;
	case 3: /* InvalidArgument */
		return -EINVAL;
	case 4: /* DeadlineExceeded */
		return -ETIMEDOUT;
	case 5: /* NotFound: e.g. "requested lease not found" */
		return -ENOENT;
	case 6: /* AlreadyExists */
		return -EEXIST;
	case 7:	 /* PermissionDenied */
	case 16: /* Unauthenticated */
		return -EACCES;
	case 8: /* ResourceExhausted */
		return -ENOSPC;
	case 9: /* FailedPrecondition */
		return -EBUSY;
	case 11: /* OutOfRange: "mvcc: required revision has been compacted" */
		return -ERANGE;
	case 14: /* Unavailable: no leader, shutting down */
		return -EAGAIN;
	default:
		return -EIO;
	}
}

int mseg_etcd_parse_error(const json_t *obj, const char **msg)
{
	const json_t *err = json_object_get(obj, "error"), *m;
	int64_t code = 0;

	if (!err)
		return 0;
	/* 3.4 sends {"error": "text", "code": N, "message": "text"} (watch: nested object). */
	if (json_is_object(err)) {
		obj = err;
		m = json_object_get(err, "message");
	} else {
		m = json_object_get(obj, "message");
		if (!json_is_string(m))
			m = err;
	}
	if (msg)
		*msg = json_is_string(m) ? json_string_value(m) : "unknown etcd error";
	if (mseg_etcd_json_int64(obj, "code", &code) < 0)
		code = 2;
	return grpc_errno(code);
}

void mseg_etcd_watch_msg_clear(struct mseg_etcd_watch_msg *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_events; i++)
		mseg_etcd_kv_clear(&m->kvs[i]);
	free(m->kvs);
	free(m->deleted);
	free(m->cancel_reason);
	memset(m, 0, sizeof(*m));
}

int mseg_etcd_parse_watch_line(const char *line, size_t len, struct mseg_etcd_watch_msg *ret)
{
	struct mseg_etcd_watch_msg m = {0};
	json_t *doc, *res, *events, *reason;
	const char *msg = NULL;
	int r;

	doc = json_loadb(line, len, 0, NULL);
	if (!doc)
		return -EPROTO;
	r = mseg_etcd_parse_error(doc, &msg);
	if (r < 0) {
		m.canceled = true;
		m.cancel_reason = strdup(msg);
		*ret = m;
		json_decref(doc);
		return r;
	}
	res = json_object_get(doc, "result");
	if (!json_is_object(res)) {
		json_decref(doc);
		return -EPROTO;
	}
	m.created = json_is_true(json_object_get(res, "created"));
	m.canceled = json_is_true(json_object_get(res, "canceled"));
	r = header_revision(res, &m.header_revision);
	if (r >= 0)
		r = mseg_etcd_json_int64(res, "compact_revision", &m.compact_revision);
	reason = json_object_get(res, "cancel_reason");
	if (r >= 0 && json_is_string(reason)) {
		m.cancel_reason = strdup(json_string_value(reason));
		if (!m.cancel_reason)
			r = -ENOMEM;
	}
	events = json_object_get(res, "events");
	if (r >= 0 && events && !json_is_array(events))
		r = -EPROTO;
	if (r >= 0 && json_array_size(events)) {
		size_t n = json_array_size(events);

		m.kvs = calloc(n, sizeof(*m.kvs));
		m.deleted = calloc(n, sizeof(*m.deleted));
		if (!m.kvs || !m.deleted)
			r = -ENOMEM;
		for (size_t i = 0; r >= 0 && i < n; i++) {
			const json_t *ev = json_array_get(events, i);
			const json_t *type = json_object_get(ev, "type");

			r = mseg_etcd_parse_kv(json_object_get(ev, "kv"), &m.kvs[i]);
			if (r < 0)
				break;
			m.n_events++;
			/* PUT is the enum's zero value, so it is omitted. */
			if (type &&
			    !(json_is_string(type) && (!strcmp(json_string_value(type), "PUT") ||
						       !strcmp(json_string_value(type), "DELETE"))))
				r = -EPROTO;
			else
				m.deleted[i] = type && !strcmp(json_string_value(type), "DELETE");
		}
	}
	json_decref(doc);
	if (r < 0) {
		mseg_etcd_watch_msg_clear(&m);
		return r;
	}
	*ret = m;
	return 0;
}
