// SPDX-License-Identifier: Apache-2.0
/* The event pipeline: rate limit, enrich, keep (ring, flow log), fan out (followers). */
#include "agent/events.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/control.h"
#include "agent/datapath_bpf.h"
#include "lib/macro.h"

struct ring_slot {
	uint64_t time_ns;
	char *line; /* the record, one JSON line without newline; NULL: empty slot */
	size_t len;
	uint8_t verdict;
	bool link; /* pkt starts at Ethernet (bpf) rather than IPv4 (nft) */
	uint16_t pkt_len;
	uint8_t pkt[MSEG_EVENT_PKT_MAX];
};

/* Per-endpoint token bucket, in an open-addressing table keyed by endpoint id. */
struct bucket {
	uint32_t endpoint; /* 0: free (endpoint ids are non-zero) */
	double tokens;
	uint64_t last_ns;
};

struct follower {
	struct mseg_events *ev;
	struct mseg_control_stream *stream;
	struct mseg_events_filter *filter;
	struct follower *next;
};

struct mseg_events {
	struct mseg_events_config cfg;
	char *node;
	struct ring_slot *ring;
	size_t head; /* next slot to write */
	size_t used;
	struct mseg_flow_log *log;
	struct bucket *buckets;
	size_t n_buckets, cap_buckets; /* cap: a power of two */
	struct follower *followers;
	size_t n_followers;
	uint64_t dp_lost_seen; /* the bpf backend's cumulative lost counter, last read */
	bool dp_lost_primed;
	struct mseg_events_stats st;
	struct mseg_events_cache cache; /* empty between batches */
};

void mseg_events_config_default(struct mseg_events_config *cfg)
{
	*cfg = (struct mseg_events_config){
	    .ring = MSEG_EVENTS_RING_DEFAULT,
	    .log_max = MSEG_EVENTS_LOG_MAX_DEFAULT,
	    .log_files = MSEG_EVENTS_LOG_FILES_DEFAULT,
	    .rate = MSEG_EVENTS_RATE_DEFAULT,
	    .burst = MSEG_EVENTS_BURST_DEFAULT,
	};
}

int mseg_events_flows_parse(const char *s, enum mseg_events_flows *ret)
{
	if (!s)
		return -EINVAL;
	if (!strcmp(s, "none"))
		*ret = MSEG_FLOWS_NONE;
	else if (!strcmp(s, "new"))
		*ret = MSEG_FLOWS_NEW;
	else if (!strcmp(s, "all"))
		*ret = MSEG_FLOWS_ALL;
	else
		return -EINVAL;
	return 0;
}

static uint64_t now_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t now_real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int mseg_events_new(struct mseg_events **ret, const struct mseg_events_config *cfg)
{
	struct mseg_events *ev;
	int r;

	if (!cfg || cfg->ring == 0 || cfg->log_files == 0 || cfg->log_max < 4096 || cfg->rate < 0 ||
	    (cfg->rate > 0 && cfg->burst < 1))
		return -EINVAL;
	ev = calloc(1, sizeof(*ev));
	if (!ev)
		return -ENOMEM;
	ev->cfg = *cfg;
	ev->node = strdup(cfg->node ? cfg->node : "");
	ev->ring = calloc(cfg->ring, sizeof(*ev->ring));
	ev->cap_buckets = 64;
	ev->buckets = calloc(ev->cap_buckets, sizeof(*ev->buckets));
	if (!ev->node || !ev->ring || !ev->buckets) {
		r = -ENOMEM;
		goto fail;
	}
	ev->cfg.node = ev->node;
	ev->cfg.log_dir = NULL; /* not kept: the log holds its own copy */
	if (cfg->log_dir) {
		r = mseg_flow_log_open(&ev->log, cfg->log_dir, cfg->log_max, cfg->log_files);
		if (r < 0)
			goto fail;
	}
	ev->st.ring_size = cfg->ring;
	*ret = ev;
	return 0;
fail:
	mseg_events_free(ev);
	return r;
}

static void follower_closed(void *ud)
{
	struct follower *f = ud;
	struct mseg_events *ev = f->ev;

	for (struct follower **pp = &ev->followers; *pp; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	ev->n_followers--;
	mseg_events_filter_free(f->filter);
	free(f);
}

void mseg_events_free(struct mseg_events *ev)
{
	if (!ev)
		return;
	while (ev->followers) {
		struct follower *f = ev->followers;

		/* the connection stays with the control socket; it just stops being fed */
		mseg_control_stream_on_close(f->stream, NULL, NULL);
		follower_closed(f);
	}
	for (size_t i = 0; ev->ring && i < ev->cfg.ring; i++)
		free(ev->ring[i].line);
	free(ev->ring);
	free(ev->buckets);
	mseg_flow_log_close(ev->log);
	free(ev->node);
	free(ev);
}

static size_t bucket_slot(const struct bucket *b, size_t cap, uint32_t endpoint)
{
	size_t i = (endpoint * 2654435761u) & (cap - 1);

	while (b[i].endpoint && b[i].endpoint != endpoint)
		i = (i + 1) & (cap - 1);
	return i;
}

static struct bucket *bucket_get(struct mseg_events *ev, uint32_t endpoint, uint64_t now)
{
	size_t i;

	if ((ev->n_buckets + 1) * 2 > ev->cap_buckets) {
		size_t cap = ev->cap_buckets * 2;
		struct bucket *nb = calloc(cap, sizeof(*nb));

		if (!nb)
			return NULL;
		for (size_t j = 0; j < ev->cap_buckets; j++)
			if (ev->buckets[j].endpoint)
				nb[bucket_slot(nb, cap, ev->buckets[j].endpoint)] = ev->buckets[j];
		free(ev->buckets);
		ev->buckets = nb;
		ev->cap_buckets = cap;
	}
	i = bucket_slot(ev->buckets, ev->cap_buckets, endpoint);
	if (!ev->buckets[i].endpoint) {
		ev->buckets[i] =
		    (struct bucket){.endpoint = endpoint, .tokens = ev->cfg.burst, .last_ns = now};
		ev->n_buckets++;
	}
	return &ev->buckets[i];
}

/* true when the endpoint may report one more event now */
static bool rate_allow(struct mseg_events *ev, uint32_t endpoint)
{
	uint64_t now;
	struct bucket *b;

	if (ev->cfg.rate <= 0)
		return true;
	now = now_mono_ns();
	/* endpoint 0 (no endpoint entry) shares one bucket: id 0 marks free slots */
	b = bucket_get(ev, endpoint ? endpoint : UINT32_MAX, now);
	if (!b)
		return true; /* out of memory: do not lose events over bookkeeping */
	b->tokens += (double)(now - b->last_ns) * 1e-9 * ev->cfg.rate;
	if (b->tokens > ev->cfg.burst)
		b->tokens = ev->cfg.burst;
	b->last_ns = now;
	if (b->tokens < 1.0)
		return false;
	b->tokens -= 1.0;
	return true;
}

static const char hexd[] = "0123456789abcdef";

/* The record as sent to a reader: with the packet bytes when asked (pcap). */
static json_t *slot_record(const struct ring_slot *s, bool packets)
{
	json_t *rec = json_loadb(s->line, s->len, 0, NULL);
	char hex[2 * MSEG_EVENT_PKT_MAX + 1];

	if (!rec || !packets || !s->pkt_len)
		return rec;
	for (size_t i = 0; i < s->pkt_len; i++) {
		hex[2 * i] = hexd[s->pkt[i] >> 4];
		hex[2 * i + 1] = hexd[s->pkt[i] & 15];
	}
	hex[2 * s->pkt_len] = '\0';
	json_object_set_new(rec, "packet", json_string(hex));
	json_object_set_new(rec, "packet_link", json_string(s->link ? "ethernet" : "ipv4"));
	return rec;
}

/* Does the filter need the record itself (anything beyond time and verdict)? */
static bool slot_matches(const struct mseg_events_filter *f, const struct ring_slot *s,
			 uint64_t now, json_t **rec)
{
	bool packets = mseg_events_filter_packets(f);

	*rec = NULL;
	if (!mseg_events_filter_prematch(f, s->time_ns, s->verdict, now))
		return false;
	*rec = slot_record(s, packets);
	if (!*rec)
		return false;
	if (mseg_events_filter_match(f, *rec, now))
		return true;
	json_decref(*rec);
	*rec = NULL;
	return false;
}

static void followers_feed(struct mseg_events *ev, const struct ring_slot *s)
{
	uint64_t now = now_real_ns();
	struct follower *f, *next;

	for (f = ev->followers; f; f = next) {
		json_t *rec;
		char *text;
		int r;

		next = f->next; /* f may go away inside the write */
		if (!slot_matches(f->filter, s, now, &rec))
			continue;
		text = json_dumps(rec, JSON_COMPACT);
		json_decref(rec);
		if (!text) {
			ev->st.lost_followers++;
			continue;
		}
		r = mseg_control_stream_write(f->stream, text, strlen(text),
					      MSEG_EVENTS_FOLLOWER_BACKLOG);
		free(text);
		if (r == -ENOBUFS || r == -ENOMEM)
			ev->st.lost_followers++;
	}
}

int mseg_events_push(struct mseg_events *ev, const struct mseg_events_context *ctx,
		     const struct mseg_dp_event *e, bool link)
{
	struct ring_slot *s;
	json_t *rec;
	char *text;

	ev->st.received++;
	if (e->verdict < ARRAY_SIZE(ev->st.by_verdict))
		ev->st.by_verdict[e->verdict]++;
	if (e->verdict == MSEG_EVENT_DROPPED && e->reason < MSEG_DROP_REASON_MAX && e->dir < 2)
		ev->st.drops[e->reason][e->dir]++;
	/* Before any real work: a flood costs a counter increment per event. */
	if (!rate_allow(ev, e->endpoint)) {
		ev->st.lost_rate_limit++;
		return 0;
	}
	rec = mseg_events_enrich(ctx, ev->node, e);
	if (!rec)
		return -ENOMEM;
	text = json_dumps(rec, JSON_COMPACT);
	json_decref(rec);
	if (!text)
		return -ENOMEM;
	s = &ev->ring[ev->head];
	free(s->line);
	s->line = text;
	s->len = strlen(text);
	s->time_ns = e->time_ns;
	s->verdict = e->verdict;
	s->link = link;
	s->pkt_len = e->pkt_len > MSEG_EVENT_PKT_MAX ? MSEG_EVENT_PKT_MAX : e->pkt_len;
	memcpy(s->pkt, e->pkt, s->pkt_len);
	ev->head = (ev->head + 1) % ev->cfg.ring;
	if (ev->used < ev->cfg.ring)
		ev->used++;
	ev->st.stored++;
	if (ev->log && mseg_flow_log_write(ev->log, s->line, s->len) < 0)
		ev->st.log_errors++;
	if (ev->followers)
		followers_feed(ev, s);
	return 0;
}

void mseg_events_lost_datapath(struct mseg_events *ev, uint64_t n)
{
	ev->st.lost_datapath += n;
}

struct ingest_ctx {
	struct mseg_events *ev;
	const struct mseg_events_context *ctx;
	bool link;
	int err;
};

static void ingest_one(const struct mseg_dp_event *e, void *userdata)
{
	struct ingest_ctx *c = userdata;
	int r = mseg_events_push(c->ev, c->ctx, e, c->link);

	if (r < 0 && !c->err)
		c->err = r;
}

/* The bpf backend counts what its ring buffer could not take; fold in the increase. */
static void bpf_lost_update(struct mseg_events *ev, struct mseg_datapath *dp)
{
	struct mseg_counter c;

	if (mseg_datapath_bpf_counter(dp, MSEG_COUNTER_EVENTS_LOST, &c) < 0)
		return;
	if (!ev->dp_lost_primed) {
		/* losses before this agent started were counted by an earlier one */
		ev->dp_lost_primed = true;
		ev->dp_lost_seen = c.packets;
		return;
	}
	if (c.packets > ev->dp_lost_seen)
		ev->st.lost_datapath += c.packets - ev->dp_lost_seen;
	ev->dp_lost_seen = c.packets;
}

int mseg_events_ingest(struct mseg_events *ev, const struct mseg_events_context *ctx,
		       const struct mseg_datapath_ops *ops, struct mseg_datapath *dp)
{
	bool bpf = !strcmp(ops->name, "bpf");
	struct mseg_events_context bctx = ctx ? *ctx : (struct mseg_events_context){0};
	struct ingest_ctx c = {.ev = ev, .ctx = &bctx, .link = bpf};
	int r, total = 0;

	/* the context holds still for this batch: isolation lookups may be reused within it */
	bctx.cache = &ev->cache;

	for (int round = 0; round < 2; round++) {
		r = ops->events_read(dp, MSEG_EVENTS_BUDGET, ingest_one, &c);
		if (r == -ENOBUFS) {
			/* the NFLOG socket overran: at least one event is gone, and the socket
			 * stays usable, so read what followed */
			ev->st.lost_datapath++;
			continue;
		}
		if (r > 0)
			total += r;
		break;
	}
	mseg_events_cache_clear(&ev->cache);
	if (bpf)
		bpf_lost_update(ev, dp);
	if (ev->log)
		mseg_flow_log_flush(ev->log);
	if (r < 0 && r != -ENOBUFS)
		return r;
	return c.err ? c.err : total;
}

void mseg_events_stats_get(const struct mseg_events *ev, struct mseg_events_stats *ret)
{
	*ret = ev->st;
	ret->ring_used = ev->used;
}

json_t *mseg_events_stats_to_json(const struct mseg_events_stats *s)
{
	json_t *drops = json_array();

	for (size_t r = 0; r < MSEG_DROP_REASON_MAX; r++)
		for (int d = 0; d < 2; d++)
			if (s->drops[r][d])
				json_array_append_new(
				    drops, json_pack("{s:s,s:s,s:I}", "reason",
						     mseg_drop_reason_name((uint16_t)r),
						     "direction", d ? "egress" : "ingress",
						     "events", (json_int_t)s->drops[r][d]));
	return json_pack("{s:I,s:I,s:{s:I,s:I,s:I,s:I},s:I,s:{s:I,s:I,s:I},s:o,s:I,s:I}",
			 "received", (json_int_t)s->received, "stored", (json_int_t)s->stored,
			 "lost", "datapath", (json_int_t)s->lost_datapath, "rate_limit",
			 (json_int_t)s->lost_rate_limit, "followers", (json_int_t)s->lost_followers,
			 "total",
			 (json_int_t)(s->lost_datapath + s->lost_rate_limit + s->lost_followers),
			 "log_errors", (json_int_t)s->log_errors, "verdicts", "forwarded",
			 (json_int_t)s->by_verdict[MSEG_EVENT_FORWARDED], "dropped",
			 (json_int_t)s->by_verdict[MSEG_EVENT_DROPPED], "audit",
			 (json_int_t)s->by_verdict[MSEG_EVENT_AUDIT], "drops", drops, "ring_used",
			 (json_int_t)s->ring_used, "ring_size", (json_int_t)s->ring_size);
}

int mseg_events_list(struct mseg_events *ev, const struct mseg_events_filter *f, json_t **ret)
{
	size_t last = mseg_events_filter_last(f), n = 0;
	uint64_t now = now_real_ns();
	_cleanup_free_ json_t **picked = NULL;
	json_t *arr;

	picked = calloc(ev->used + 1, sizeof(*picked));
	if (!picked)
		return -ENOMEM;
	/* Newest first, so --last N stops early; reversed below. */
	for (size_t k = 0; k < ev->used && (!last || n < last); k++) {
		size_t i = (ev->head + ev->cfg.ring - 1 - k) % ev->cfg.ring;
		json_t *rec;

		if (slot_matches(f, &ev->ring[i], now, &rec))
			picked[n++] = rec;
	}
	arr = json_array();
	if (!arr) {
		for (size_t i = 0; i < n; i++)
			json_decref(picked[i]);
		return -ENOMEM;
	}
	while (n > 0)
		json_array_append_new(arr, picked[--n]);
	*ret = arr;
	return 0;
}

int mseg_events_follow(struct mseg_events *ev, struct mseg_events_filter *f)
{
	struct mseg_control_stream *s = mseg_control_stream_current();
	struct follower *fo;

	if (!s)
		return -ENOTCONN;
	fo = calloc(1, sizeof(*fo));
	if (!fo)
		return -ENOMEM;
	fo->ev = ev;
	fo->stream = s;
	fo->filter = f;
	fo->next = ev->followers;
	ev->followers = fo;
	ev->n_followers++;
	mseg_control_stream_on_close(s, follower_closed, fo);
	return 0;
}

size_t mseg_events_followers(const struct mseg_events *ev)
{
	return ev->n_followers;
}
