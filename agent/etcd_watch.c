// SPDX-License-Identifier: Apache-2.0
/*
 * The etcd watch stream without blocking: POST /v3/watch on a curl multi handle, the answer
 * read as it arrives (one JSON object per line), events handed to the caller from
 * mseg_etcd_watch_poll (never from inside curl's callbacks); the caller's callback only records
 * what happened and restarts or frees the watch after the poll returns. When the stream breaks the
 * watch reconnects by itself, with backoff and rotating endpoints, from the revision after the last
 * event seen, so no event is lost or repeated across an etcd restart; if that revision was
 * compacted meanwhile, etcd says so and the caller resyncs.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>

#include "agent/etcd.h"
#include "agent/etcd_internal.h"
#include "macro.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000
#define CONNECT_TIMEOUT_MS 2000
#define MAX_LINE (64u << 20)

enum watch_state {
	WATCH_WAITING, /* not connected; (re)connect at reconnect_at */
	WATCH_RUNNING, /* a transfer is on */
	WATCH_STOPPED, /* compacted: until mseg_etcd_watch_restart */
};

struct mseg_etcd_watch {
	char *endpoints[MSEG_ETCD_MAX_ENDPOINTS];
	size_t n_endpoints, current;
	char *prefix;
	CURLM *multi;
	CURL *easy;
	struct curl_slist *headers;
	char *body;
	char *buf;
	size_t len, cap;
	bool overflow;
	enum watch_state state;
	bool connected;
	int64_t next_rev;
	uint64_t reconnect_at;
	long backoff;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *data)
{
	struct mseg_etcd_watch *w = data;
	size_t n = size * nmemb;

	if (w->len + n > MAX_LINE) {
		w->overflow = true;
		return 0;
	}
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 16384;
		char *p;

		while (cap < w->len + n)
			cap *= 2;
		p = realloc(w->buf, cap);
		if (!p)
			return 0;
		w->buf = p;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, ptr, n);
	w->len += n;
	return n;
}

static void transfer_stop(struct mseg_etcd_watch *w)
{
	if (w->easy) {
		curl_multi_remove_handle(w->multi, w->easy);
		curl_easy_cleanup(w->easy);
		w->easy = NULL;
	}
	curl_slist_free_all(w->headers);
	w->headers = NULL;
	free(w->body);
	w->body = NULL;
	w->len = 0;
	w->overflow = false;
	w->connected = false;
}

static int transfer_start(struct mseg_etcd_watch *w)
{
	_cleanup_free_ char *url = NULL;
	json_t *req;

	transfer_stop(w);
	req = mseg_etcd_req_watch(w->prefix, w->next_rev);
	if (!req)
		return -ENOMEM;
	w->body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!w->body || asprintf(&url, "%s/v3/watch", w->endpoints[w->current]) < 0)
		return -ENOMEM;
	w->headers = curl_slist_append(NULL, "Content-Type: application/json");
	w->easy = curl_easy_init();
	if (!w->headers || !w->easy)
		return -ENOMEM;
	curl_easy_setopt(w->easy, CURLOPT_URL, url);
	curl_easy_setopt(w->easy, CURLOPT_HTTPHEADER, w->headers);
	curl_easy_setopt(w->easy, CURLOPT_POSTFIELDS, w->body);
	curl_easy_setopt(w->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
	curl_easy_setopt(w->easy, CURLOPT_NOSIGNAL, 1L);
	/* The stream is idle for long stretches: keepalive probes find a peer that vanished. */
	curl_easy_setopt(w->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(w->easy, CURLOPT_TCP_KEEPIDLE, 5L);
	curl_easy_setopt(w->easy, CURLOPT_TCP_KEEPINTVL, 2L);
	curl_easy_setopt(w->easy, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(w->easy, CURLOPT_WRITEDATA, w);
	if (curl_multi_add_handle(w->multi, w->easy) != CURLM_OK)
		return -ENOMEM;
	w->state = WATCH_RUNNING;
	return 0;
}

/* The stream broke: try again later, on the next endpoint, from where we stopped. */
static void schedule_reconnect(struct mseg_etcd_watch *w)
{
	transfer_stop(w);
	w->state = WATCH_WAITING;
	w->reconnect_at = now_ms() + (uint64_t)w->backoff;
	w->backoff = w->backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : w->backoff * 2;
	w->current = (w->current + 1) % w->n_endpoints;
}

int mseg_etcd_watch_new(struct mseg_etcd_watch **ret, const char *endpoints, const char *prefix,
			int64_t start_revision)
{
	struct mseg_etcd_watch *w;
	int r;

	if (!prefix || start_revision < 0)
		return -EINVAL;
	r = mseg_etcd_curl_init();
	if (r < 0)
		return r;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	r = mseg_etcd_split_endpoints(endpoints, w->endpoints, MSEG_ETCD_MAX_ENDPOINTS,
				      &w->n_endpoints);
	if (r < 0) {
		free(w);
		return r;
	}
	w->prefix = strdup(prefix);
	w->multi = curl_multi_init();
	if (!w->prefix || !w->multi) {
		mseg_etcd_watch_free(w);
		return -ENOMEM;
	}
	w->next_rev = start_revision;
	w->backoff = BACKOFF_MIN_MS;
	w->state = WATCH_WAITING;
	w->reconnect_at = 0;
	*ret = w;
	return 0;
}

void mseg_etcd_watch_free(struct mseg_etcd_watch *w)
{
	if (!w)
		return;
	transfer_stop(w);
	if (w->multi)
		curl_multi_cleanup(w->multi);
	for (size_t i = 0; i < w->n_endpoints; i++)
		free(w->endpoints[i]);
	free(w->prefix);
	free(w->buf);
	free(w);
}

int64_t mseg_etcd_watch_next_revision(const struct mseg_etcd_watch *w)
{
	return w->next_rev;
}

bool mseg_etcd_watch_connected(const struct mseg_etcd_watch *w)
{
	return w->state == WATCH_RUNNING && w->connected;
}

int mseg_etcd_watch_restart(struct mseg_etcd_watch *w, int64_t start_revision)
{
	if (start_revision < 0)
		return -EINVAL;
	transfer_stop(w);
	w->next_rev = start_revision;
	w->backoff = BACKOFF_MIN_MS;
	w->state = WATCH_WAITING;
	w->reconnect_at = 0;
	return 0;
}

int mseg_etcd_watch_fds(struct mseg_etcd_watch *w, struct pollfd *fds, size_t max_fds,
			size_t *n_fds, long *timeout_ms)
{
	fd_set rd, wr, ex;
	int maxfd = -1;
	long t = -1;
	size_t n = 0;

	*n_fds = 0;
	if (w->state == WATCH_STOPPED) {
		*timeout_ms = -1;
		return 0;
	}
	if (w->state == WATCH_WAITING) {
		uint64_t now = now_ms();

		*timeout_ms = w->reconnect_at > now ? (long)(w->reconnect_at - now) : 0;
		return 0;
	}
	FD_ZERO(&rd);
	FD_ZERO(&wr);
	FD_ZERO(&ex);
	if (curl_multi_fdset(w->multi, &rd, &wr, &ex, &maxfd) != CURLM_OK)
		return -EIO;
	for (int fd = 0; fd <= maxfd; fd++) {
		short ev = (FD_ISSET(fd, &rd) ? POLLIN : 0) | (FD_ISSET(fd, &wr) ? POLLOUT : 0);

		if (!ev)
			continue;
		if (n == max_fds)
			return -ENOBUFS;
		fds[n].fd = fd;
		fds[n].events = ev;
		fds[n].revents = 0;
		n++;
	}
	curl_multi_timeout(w->multi, &t);
	/* No socket yet (name resolution, connect in progress): curl wants to be called soon. */
	if (n == 0 && (t < 0 || t > 100))
		t = 100;
	*n_fds = n;
	*timeout_ms = t;
	return 0;
}

static int emit(mseg_etcd_watch_cb cb, void *data, enum mseg_etcd_event_type type,
		const struct mseg_etcd_kv *kv, int64_t rev, int *first)
{
	struct mseg_etcd_event ev = {.type = type, .kv = kv, .revision = rev};
	int r = cb(&ev, data);

	if (r < 0 && !*first)
		*first = r;
	return r;
}

/* One stream message. Returns 1 when the transfer must end (canceled or compacted). */
static int handle_line(struct mseg_etcd_watch *w, const char *line, size_t len,
		       mseg_etcd_watch_cb cb, void *data, int *first)
{
	struct mseg_etcd_watch_msg m = {0};
	int r;

	r = mseg_etcd_parse_watch_line(line, len, &m);
	if (r < 0) {
		/* An error object or garbage: the stream is not usable; reconnect. */
		mseg_etcd_watch_msg_clear(&m);
		return 1;
	}
	if (m.compact_revision > 0) {
		emit(cb, data, MSEG_ETCD_EVENT_COMPACTED, NULL, m.compact_revision, first);
		w->state = WATCH_STOPPED;
		mseg_etcd_watch_msg_clear(&m);
		return 1;
	}
	if (m.created) {
		w->connected = true;
		w->backoff = BACKOFF_MIN_MS;
		/* Watching "from now": the stream starts after the revision of its creation. */
		if (w->next_rev == 0)
			w->next_rev = m.header_revision + 1;
		emit(cb, data, MSEG_ETCD_EVENT_CONNECTED, NULL, m.header_revision, first);
	}
	for (size_t i = 0; i < m.n_events; i++) {
		if (m.kvs[i].mod_revision >= w->next_rev)
			w->next_rev = m.kvs[i].mod_revision + 1;
		emit(cb, data, m.deleted[i] ? MSEG_ETCD_EVENT_DELETE : MSEG_ETCD_EVENT_PUT,
		     &m.kvs[i], m.kvs[i].mod_revision, first);
	}
	r = m.canceled ? 1 : 0;
	mseg_etcd_watch_msg_clear(&m);
	return r;
}

/* Hands every complete line to handle_line; keeps a partial one for later. */
static int drain_lines(struct mseg_etcd_watch *w, mseg_etcd_watch_cb cb, void *data, int *first)
{
	size_t start = 0;
	int end = 0;

	while (!end && start < w->len) {
		char *nl = memchr(w->buf + start, '\n', w->len - start);
		size_t llen;

		if (!nl)
			break;
		llen = (size_t)(nl - (w->buf + start));
		if (llen && !(llen == 1 && w->buf[start] == '\r'))
			end = handle_line(w, w->buf + start, llen, cb, data, first);
		start += llen + 1;
	}
	if (end)
		return 1;
	if (start) {
		memmove(w->buf, w->buf + start, w->len - start);
		w->len -= start;
	}
	return 0;
}

/* Ends the transfer and, once per outage, tells the caller the stream is gone. */
static void lost(struct mseg_etcd_watch *w, mseg_etcd_watch_cb cb, void *data, int *first)
{
	bool was = w->connected;

	schedule_reconnect(w);
	if (was)
		emit(cb, data, MSEG_ETCD_EVENT_DISCONNECTED, NULL, w->next_rev, first);
}

int mseg_etcd_watch_poll(struct mseg_etcd_watch *w, mseg_etcd_watch_cb cb, void *data)
{
	int running = 0, first = 0, r, left;
	CURLMsg *msg;

	if (!cb)
		return -EINVAL;
	if (w->state == WATCH_STOPPED)
		return 0;
	if (w->state == WATCH_WAITING) {
		if (now_ms() < w->reconnect_at)
			return 0;
		r = transfer_start(w);
		if (r < 0) {
			schedule_reconnect(w);
			return r;
		}
	}
	if (curl_multi_perform(w->multi, &running) != CURLM_OK)
		return -EIO;
	if (drain_lines(w, cb, data, &first)) {
		/* Canceled by etcd, compacted or broken: this transfer is over. */
		if (w->state == WATCH_STOPPED)
			transfer_stop(w);
		else
			lost(w, cb, data, &first);
		return first;
	}
	while ((msg = curl_multi_info_read(w->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		/* The server ended the stream (etcd stopped) or it never came up. */
		lost(w, cb, data, &first);
		break;
	}
	return first;
}
