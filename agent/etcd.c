// SPDX-License-Identifier: Apache-2.0
/*
 * The etcd client's unary calls: one POST per operation to ENDPOINT/v3/..., a short timeout,
 * and failover to the next endpoint when one does not answer. One curl easy handle is kept so
 * the TCP connection is reused between calls.
 */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/etcd.h"
#include "agent/etcd_internal.h"
#include "macro.h"

#define MAX_ENDPOINTS MSEG_ETCD_MAX_ENDPOINTS
#define MAX_RESPONSE (64u << 20)

struct mseg_etcd {
	char *endpoints[MAX_ENDPOINTS];
	size_t n_endpoints, current;
	long timeout_ms;
	CURL *curl;
	char error[512];
};

struct buffer {
	char *data;
	size_t len, cap;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_code;

static void curl_init(void)
{
	curl_init_code = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int mseg_etcd_curl_init(void)
{
	pthread_once(&curl_once, curl_init);
	return curl_init_code == CURLE_OK ? 0 : -ENOMEM;
}

static void set_error(struct mseg_etcd *etcd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_error(struct mseg_etcd *etcd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(etcd->error, sizeof(etcd->error), fmt, ap);
	va_end(ap);
}

int mseg_etcd_split_endpoints(const char *list, char **out, size_t max, size_t *n)
{
	_cleanup_free_ char *copy = NULL;
	char *save = NULL, *tok;
	size_t count = 0;

	if (!list)
		return -EINVAL;
	copy = strdup(list);
	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		size_t len;

		while (*tok == ' ')
			tok++;
		len = strlen(tok);
		while (len && (tok[len - 1] == '/' || tok[len - 1] == ' '))
			tok[--len] = 0;
		if (!len)
			continue;
		if ((strncmp(tok, "http://", 7) && strncmp(tok, "https://", 8)) || count == max ||
		    strchr(tok, '?')) {
			for (size_t i = 0; i < count; i++)
				free(out[i]);
			return -EINVAL;
		}
		out[count] = strdup(tok);
		if (!out[count]) {
			for (size_t i = 0; i < count; i++)
				free(out[i]);
			return -ENOMEM;
		}
		count++;
	}
	if (!count)
		return -EINVAL;
	*n = count;
	return 0;
}

int mseg_etcd_new(struct mseg_etcd **ret, const char *endpoints, long timeout_ms)
{
	struct mseg_etcd *etcd;
	int r;

	if (timeout_ms < 0)
		return -EINVAL;
	r = mseg_etcd_curl_init();
	if (r < 0)
		return r;
	etcd = calloc(1, sizeof(*etcd));
	if (!etcd)
		return -ENOMEM;
	r = mseg_etcd_split_endpoints(endpoints, etcd->endpoints, MAX_ENDPOINTS,
				      &etcd->n_endpoints);
	if (r < 0) {
		free(etcd);
		return r;
	}
	etcd->timeout_ms = timeout_ms ? timeout_ms : MSEG_ETCD_TIMEOUT_MS;
	etcd->curl = curl_easy_init();
	if (!etcd->curl) {
		mseg_etcd_free(etcd);
		return -ENOMEM;
	}
	*ret = etcd;
	return 0;
}

void mseg_etcd_free(struct mseg_etcd *etcd)
{
	if (!etcd)
		return;
	if (etcd->curl)
		curl_easy_cleanup(etcd->curl);
	for (size_t i = 0; i < etcd->n_endpoints; i++)
		free(etcd->endpoints[i]);
	free(etcd);
}

const char *mseg_etcd_last_error(const struct mseg_etcd *etcd)
{
	return etcd->error;
}

const char *mseg_etcd_endpoint(const struct mseg_etcd *etcd)
{
	return etcd->endpoints[etcd->current];
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *data)
{
	struct buffer *b = data;
	size_t n = size * nmemb;

	if (b->len + n + 1 > MAX_RESPONSE)
		return 0;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->data, cap);
		if (!p)
			return 0;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = 0;
	return n;
}

/* curl's transport errors to errno: these (and only these) try the next endpoint. */
static int curl_errno(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
		return -ECONNRESET;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

/* One POST to one endpoint; *ret gets the JSON answer (HTTP 200) or the mapped error. */
static int post_once(struct mseg_etcd *etcd, const char *endpoint, const char *path,
		     const char *body, json_t **ret)
{
	_cleanup_free_ char *url = NULL;
	struct buffer b = {0};
	struct curl_slist *headers = NULL;
	const char *msg = NULL;
	json_error_t jerr;
	long status = 0;
	json_t *doc;
	CURLcode c;
	int r;

	if (asprintf(&url, "%s%s", endpoint, path) < 0)
		return -ENOMEM;
	headers = curl_slist_append(NULL, "Content-Type: application/json");
	if (!headers)
		return -ENOMEM;
	curl_easy_reset(etcd->curl);
	curl_easy_setopt(etcd->curl, CURLOPT_URL, url);
	curl_easy_setopt(etcd->curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(etcd->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(etcd->curl, CURLOPT_TIMEOUT_MS, etcd->timeout_ms);
	curl_easy_setopt(etcd->curl, CURLOPT_CONNECTTIMEOUT_MS, etcd->timeout_ms);
	curl_easy_setopt(etcd->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(etcd->curl, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(etcd->curl, CURLOPT_WRITEDATA, &b);
	c = curl_easy_perform(etcd->curl);
	curl_slist_free_all(headers);
	if (c != CURLE_OK) {
		set_error(etcd, "%s: %s", endpoint, curl_easy_strerror(c));
		free(b.data);
		return curl_errno(c);
	}
	curl_easy_getinfo(etcd->curl, CURLINFO_RESPONSE_CODE, &status);
	doc = b.data ? json_loadb(b.data, b.len, 0, &jerr) : NULL;
	free(b.data);
	if (!doc) {
		set_error(etcd, "%s%s: HTTP %ld with no JSON answer", endpoint, path, status);
		return status == 404 ? -EOPNOTSUPP : -EPROTO;
	}
	r = mseg_etcd_parse_error(doc, &msg);
	if (r < 0 || status != 200) {
		set_error(etcd, "%s%s: %s", endpoint, path, msg ? msg : "HTTP error");
		json_decref(doc);
		return r < 0 ? r : -EPROTO;
	}
	*ret = doc;
	return 0;
}

static bool transport_error(int r)
{
	return r == -ECONNREFUSED || r == -ETIMEDOUT || r == -EHOSTUNREACH || r == -ECONNRESET ||
	       r == -EAGAIN;
}

/* POSTs body (consumed) to path, trying each endpoint once starting with the current one. */
static int post(struct mseg_etcd *etcd, const char *path, json_t *body, json_t **ret)
{
	_cleanup_free_ char *text = NULL;
	int r = -EINVAL;

	if (!body)
		return -ENOMEM;
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (!text)
		return -ENOMEM;
	etcd->error[0] = 0;
	for (size_t i = 0; i < etcd->n_endpoints; i++) {
		size_t idx = (etcd->current + i) % etcd->n_endpoints;

		r = post_once(etcd, etcd->endpoints[idx], path, text, ret);
		if (!transport_error(r)) {
			etcd->current = idx;
			if (r >= 0)
				etcd->error[0] = 0;
			return r;
		}
	}
	return r;
}

int mseg_etcd_put(struct mseg_etcd *etcd, const char *key, const void *value, size_t value_len,
		  int64_t lease, int64_t *revision)
{
	json_t *doc = NULL;
	int64_t rev;
	int r;

	if (!key)
		return -EINVAL;
	r = post(etcd, "/v3/kv/put", mseg_etcd_req_put(key, value, value_len, lease), &doc);
	if (r < 0)
		return r;
	r = mseg_etcd_json_int64(json_object_get(doc, "header"), "revision", &rev);
	json_decref(doc);
	if (r >= 0 && revision)
		*revision = rev;
	return r;
}

static int range(struct mseg_etcd *etcd, const char *key, bool prefix, struct mseg_etcd_range *ret)
{
	json_t *doc = NULL;
	int r;

	if (!key)
		return -EINVAL;
	r = post(etcd, "/v3/kv/range", mseg_etcd_req_range(key, prefix), &doc);
	if (r < 0)
		return r;
	r = mseg_etcd_parse_range(doc, ret);
	json_decref(doc);
	return r;
}

int mseg_etcd_get(struct mseg_etcd *etcd, const char *key, struct mseg_etcd_range *ret)
{
	return range(etcd, key, false, ret);
}

int mseg_etcd_range_prefix(struct mseg_etcd *etcd, const char *prefix, struct mseg_etcd_range *ret)
{
	return range(etcd, prefix, true, ret);
}

int mseg_etcd_delete(struct mseg_etcd *etcd, const char *key, bool prefix, int64_t *deleted,
		     int64_t *revision)
{
	json_t *doc = NULL;
	int64_t n = 0, rev = 0;
	int r;

	if (!key)
		return -EINVAL;
	r = post(etcd, "/v3/kv/deleterange", mseg_etcd_req_delete(key, prefix), &doc);
	if (r < 0)
		return r;
	r = mseg_etcd_json_int64(doc, "deleted", &n);
	if (r >= 0)
		r = mseg_etcd_json_int64(json_object_get(doc, "header"), "revision", &rev);
	json_decref(doc);
	if (r >= 0 && deleted)
		*deleted = n;
	if (r >= 0 && revision)
		*revision = rev;
	return r;
}

int mseg_etcd_txn(struct mseg_etcd *etcd, const struct mseg_etcd_cmp *cmps, size_t n_cmps,
		  const struct mseg_etcd_op *success, size_t n_success,
		  const struct mseg_etcd_op *failure, size_t n_failure,
		  struct mseg_etcd_txn_result *ret)
{
	json_t *req, *doc = NULL;
	int r;

	req = mseg_etcd_req_txn(cmps, n_cmps, success, n_success, failure, n_failure);
	if (!req)
		return -EINVAL;
	r = post(etcd, "/v3/kv/txn", req, &doc);
	if (r < 0)
		return r;
	r = mseg_etcd_parse_txn(doc, ret);
	json_decref(doc);
	return r;
}

static json_t *id_body(int64_t id, const char *field, int64_t value)
{
	char a[24], b[24];

	snprintf(a, sizeof(a), "%lld", (long long)id);
	snprintf(b, sizeof(b), "%lld", (long long)value);
	return field ? json_pack("{s:s, s:s}", "ID", a, field, b) : json_pack("{s:s}", "ID", a);
}

int mseg_etcd_lease_grant(struct mseg_etcd *etcd, int64_t ttl_seconds, int64_t *id)
{
	json_t *doc = NULL;
	int64_t v = 0;
	int r;

	if (ttl_seconds <= 0 || !id)
		return -EINVAL;
	/* ID 0: etcd picks one. */
	r = post(etcd, "/v3/lease/grant", id_body(0, "TTL", ttl_seconds), &doc);
	if (r < 0)
		return r;
	r = mseg_etcd_json_int64(doc, "ID", &v);
	json_decref(doc);
	if (r >= 0 && v == 0)
		r = -EPROTO;
	if (r >= 0)
		*id = v;
	return r;
}

int mseg_etcd_lease_keepalive(struct mseg_etcd *etcd, int64_t id, int64_t *ttl)
{
	json_t *doc = NULL, *res;
	int64_t v = 0;
	int r;

	if (id == 0)
		return -EINVAL;
	/* The gateway's keepalive is a stream; one request gets one answer, then EOF. */
	r = post(etcd, "/v3/lease/keepalive", id_body(id, NULL, 0), &doc);
	if (r < 0)
		return r;
	res = json_object_get(doc, "result");
	r = mseg_etcd_json_int64(res ? res : doc, "TTL", &v);
	json_decref(doc);
	if (r < 0)
		return r;
	/* An expired or unknown lease answers TTL 0 (omitted). */
	if (v <= 0) {
		set_error(etcd, "lease %llx expired or unknown", (unsigned long long)id);
		return -ENOENT;
	}
	if (ttl)
		*ttl = v;
	return 0;
}

int mseg_etcd_lease_revoke(struct mseg_etcd *etcd, int64_t id)
{
	json_t *doc = NULL;
	int r;

	if (id == 0)
		return -EINVAL;
	/* 3.4 serves /v3/lease/revoke (and the older /v3/kv/lease/revoke). */
	r = post(etcd, "/v3/lease/revoke", id_body(id, NULL, 0), &doc);
	json_decref(doc);
	return r;
}

int mseg_etcd_compact(struct mseg_etcd *etcd, int64_t revision)
{
	char buf[24];
	json_t *doc = NULL;
	int r;

	if (revision <= 0)
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%lld", (long long)revision);
	r = post(etcd, "/v3/kv/compaction", json_pack("{s:s, s:b}", "revision", buf, "physical", 1),
		 &doc);
	json_decref(doc);
	return r;
}
