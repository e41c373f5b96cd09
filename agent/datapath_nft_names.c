// SPDX-License-Identifier: Apache-2.0
/*
 * The nft backend's pure functions: remote classes as disjoint intervals, object names and
 * the NFLOG prefix that carries a decision to the agent. No kernel, no I/O.
 */
#include "agent/datapath_nft.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpf/abi.h"
#include "lib/macro.h"
#include "policy/cidr.h"

/* ---- intervals --------------------------------------------------------------------------- */

struct span {
	uint64_t lo, hi;
	uint32_t class;
};

static int span_cmp(const void *pa, const void *pb)
{
	const struct span *a = pa, *b = pb;

	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	/* the wider prefix first, so that it is below the narrower one on the stack */
	if (a->hi != b->hi)
		return a->hi > b->hi ? -1 : 1;
	return 0;
}

struct out {
	struct mseg_nft_interval *v;
	size_t n, cap;
};

static int out_push(struct out *o, uint64_t lo, uint64_t hi, uint32_t class)
{
	if (lo > hi)
		return 0;
	/* merge with the previous interval when it touches and has the same class */
	if (o->n && o->v[o->n - 1].class == class && (uint64_t)o->v[o->n - 1].hi + 1 == lo) {
		o->v[o->n - 1].hi = (uint32_t)hi;
		return 0;
	}
	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 16;
		struct mseg_nft_interval *v = realloc(o->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		o->v = v;
		o->cap = cap;
	}
	o->v[o->n++] =
	    (struct mseg_nft_interval){.lo = (uint32_t)lo, .hi = (uint32_t)hi, .class = class};
	return 0;
}

int mseg_nft_intervals_compute(const struct mseg_ipcache_entry *ipc, size_t n,
			       struct mseg_nft_interval **ret, size_t *n_ret)
{
	_cleanup_free_ struct span *spans = NULL;
	_cleanup_free_ struct span *stack = NULL;
	struct out o = {0};
	size_t ns = 0, depth = 0;
	uint64_t pos = 0;
	int r = 0;

	spans = calloc(n + 1, sizeof(*spans));
	stack = calloc(n + 1, sizeof(*stack));
	if (!spans || !stack)
		return -ENOMEM;
	/* The root: what no prefix covers is WORLD. A /0 in the ipcache sorts after it (equal
	 * span) and so sits above it on the stack and wins, as longest-prefix match would. */
	spans[ns++] = (struct span){.lo = 0, .hi = UINT32_MAX, .class = MSEG_ID_WORLD};
	for (size_t i = 0; i < n; i++) {
		uint32_t a, mask;

		if (ipc[i].prefix.family != MSEG_AF_INET || ipc[i].prefix.prefixlen > 32)
			continue;
		a = mseg_cidr_v4(&ipc[i].prefix);
		mask = ipc[i].prefix.prefixlen ? 0xffffffffu << (32 - ipc[i].prefix.prefixlen) : 0;
		spans[ns++] =
		    (struct span){.lo = a & mask, .hi = (a & mask) | ~mask, .class = ipc[i].class};
	}
	/* the nft backend's mirror keeps the ipcache sorted by prefix, which is this order:
	 * one pass to see it saves an O(n log n) sort on every ipcache change */
	bool sorted = true;
	for (size_t i = 2; i < ns && sorted; i++)
		sorted = span_cmp(&spans[i - 1], &spans[i]) <= 0;
	if (!sorted)
		qsort(spans + 1, ns - 1, sizeof(*spans), span_cmp);

	/* Prefixes nest or are disjoint; a sweep with a stack of the open prefixes gives each
	 * address to the innermost prefix holding it. */
	for (size_t i = 0; i < ns && r == 0; i++) {
		while (depth && stack[depth - 1].hi < spans[i].lo) {
			r = out_push(&o, pos, stack[depth - 1].hi, stack[depth - 1].class);
			pos = stack[depth - 1].hi + 1;
			depth--;
		}
		if (depth && r == 0 && spans[i].lo > pos)
			r = out_push(&o, pos, spans[i].lo - 1, stack[depth - 1].class);
		if (spans[i].lo > pos)
			pos = spans[i].lo;
		stack[depth++] = spans[i];
	}
	while (depth && r == 0) {
		r = out_push(&o, pos, stack[depth - 1].hi, stack[depth - 1].class);
		pos = stack[depth - 1].hi + 1;
		depth--;
	}
	if (r < 0) {
		free(o.v);
		return r;
	}
	*ret = o.v;
	*n_ret = o.n;
	return 0;
}

/* ---- names ------------------------------------------------------------------------------- */

/* The longest suffix the backend appends to an endpoint base: "_out_clsany". */
#define BASE_SUFFIX_MAX 11

static size_t escape(char *buf, size_t len, size_t at, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') {
			if (at + 1 < len)
				buf[at] = (char)c;
			at++;
		} else {
			if (at + 3 < len) {
				buf[at] = '_';
				buf[at + 1] = hex[c >> 4];
				buf[at + 2] = hex[c & 15];
			}
			at += 3;
		}
	}
	return at;
}

int mseg_nft_endpoint_base(char *buf, size_t len, const char *ns, const char *name, uint32_t id)
{
	size_t at;

	if (len < 16)
		return -ENOBUFS;
	memcpy(buf, "ep_", 3);
	at = escape(buf, len, 3, ns ? ns : "");
	if (at + 1 < len)
		buf[at] = '_';
	at = escape(buf, len, at + 1, name ? name : "");
	if (!ns || !*ns || !name || !*name || at + BASE_SUFFIX_MAX >= len ||
	    at + BASE_SUFFIX_MAX >= MSEG_NFT_NAME_MAX) {
		snprintf(buf, len, "ep_%" PRIu32, id);
		return 0;
	}
	buf[at] = '\0';
	return 0;
}

static const char *side(uint8_t dir)
{
	return dir == MSEG_DIR_INGRESS ? "in" : "out";
}

/*
 * Names are built by hand, not with snprintf: a 10,000-rule policy names 10,000 elements on
 * every plan of its endpoint, and two snprintf calls a name were a fifth of the user-space
 * cost of programming it. put_*() write what fits and return the length wanted, as
 * snprintf does.
 */
static size_t put_str(char *buf, size_t len, size_t at, const char *s)
{
	for (; *s; s++, at++)
		if (at + 1 < len)
			buf[at] = *s;
	return at;
}

static size_t put_u32(char *buf, size_t len, size_t at, uint32_t v)
{
	char d[10];
	size_t n = 0;

	do {
		d[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n--) {
		if (at + 1 < len)
			buf[at] = d[n];
		at++;
	}
	return at;
}

static size_t put_end(char *buf, size_t len, size_t at)
{
	if (len)
		buf[at < len ? at : len - 1] = '\0';
	return at;
}

/* The decider part of a name, at buf + at: p5_ing3, iso_p2, default. */
static size_t put_decider(char *buf, size_t len, size_t at, const struct mseg_decider *d)
{
	switch (d->kind) {
	case MSEG_DECIDED_RULE:
		at = put_str(buf, len, at, "p");
		at = put_u32(buf, len, at, d->policy);
		at = put_str(buf, len, at, d->dir == MSEG_DIR_INGRESS ? "_ing" : "_egr");
		return put_u32(buf, len, at, d->rule);
	case MSEG_DECIDED_ISOLATION:
		at = put_str(buf, len, at, "iso_p");
		return put_u32(buf, len, at, d->policy);
	case MSEG_DECIDED_DEFAULT:
		return put_str(buf, len, at, "default");
	}
	return put_str(buf, len, at, "none");
}

static const char *special_name(uint16_t reason)
{
	switch (reason) {
	case MSEG_DROP_SPOOFED_IP:
		return "spoofed_ip";
	case MSEG_DROP_SPOOFED_MAC:
		return "spoofed_mac";
	case MSEG_DROP_UNSUPPORTED_L3:
		return "unsupported_l3";
	case MSEG_DROP_NO_POLICY:
		return "no_policy";
	}
	return "other";
}

int mseg_nft_decision_name(char *buf, size_t len, const struct mseg_nft_decision *d)
{
	size_t n = 0;

	if (d->special) {
		n = put_str(buf, len, n, "drop_");
		n = put_str(buf, len, n, special_name(d->reason));
	} else if (d->verdict == MSEG_VERDICT_ALLOW && d->audit) {
		n = put_str(buf, len, n, "audit_");
		n = put_decider(buf, len, n, &d->by);
		n = put_str(buf, len, n, "_by_");
		n = put_decider(buf, len, n, &d->audit_by);
	} else {
		n = put_str(buf, len, n, d->verdict == MSEG_VERDICT_ALLOW ? "allow_" : "deny_");
		n = put_decider(buf, len, n, &d->by);
	}
	n = put_str(buf, len, n, "_");
	n = put_str(buf, len, n, side(d->dir));
	put_end(buf, len, n);
	if (n >= len)
		return -ENOBUFS;
	return 0;
}

static bool decider_equal(const struct mseg_decider *a, const struct mseg_decider *b)
{
	if (a->kind != b->kind)
		return false;
	if (a->kind == MSEG_DECIDED_DEFAULT)
		return true;
	if (a->kind == MSEG_DECIDED_ISOLATION)
		return a->policy == b->policy;
	return a->policy == b->policy && a->rule == b->rule && a->dir == b->dir;
}

bool mseg_nft_decision_equal(const struct mseg_nft_decision *a, const struct mseg_nft_decision *b)
{
	if (a->special != b->special || a->dir != b->dir)
		return false;
	if (a->special)
		return a->reason == b->reason;
	if (a->verdict != b->verdict || !!a->audit != !!b->audit || a->reason != b->reason)
		return false;
	if (!decider_equal(&a->by, &b->by))
		return false;
	return !(a->verdict == MSEG_VERDICT_ALLOW && a->audit) ||
	       decider_equal(&a->audit_by, &b->audit_by);
}

/* ---- the NFLOG prefix -------------------------------------------------------------------- */

static char kind_char(const struct mseg_decider *d)
{
	switch (d->kind) {
	case MSEG_DECIDED_RULE:
		return 'R';
	case MSEG_DECIDED_ISOLATION:
		return 'I';
	case MSEG_DECIDED_DEFAULT:
		return 'D';
	}
	return 'N';
}

int mseg_nft_log_prefix(char *buf, size_t len, const struct mseg_nft_decision *d)
{
	const struct mseg_decider none = {.kind = (enum mseg_decider_kind)MSEG_ABI_DECIDED_NONE};
	bool audit = !d->special && d->verdict == MSEG_VERDICT_ALLOW && d->audit;
	const struct mseg_decider *by = d->special ? &none : audit ? &d->audit_by : &d->by;
	int n;

	/* F: an allowed new connection (msegd --flows), logged by the allow chains */
	char v = d->special || d->verdict != MSEG_VERDICT_ALLOW ? 'D' : audit ? 'A' : 'F';

	n = snprintf(
	    buf, len, "mseg:%c:%c:%u:%c:%" PRIu32 ":%c:%u", v,
	    d->dir == MSEG_DIR_INGRESS ? 'i' : 'o', (unsigned)d->reason, kind_char(by),
	    by->kind == MSEG_DECIDED_RULE || by->kind == MSEG_DECIDED_ISOLATION ? by->policy : 0,
	    by->dir == MSEG_DIR_EGRESS ? 'e' : 'i',
	    by->kind == MSEG_DECIDED_RULE ? (unsigned)by->rule : 0);
	/* NFLOG carries at most 127 bytes of prefix; ours stays far below */
	if (n < 0 || (size_t)n >= len || n > 127)
		return -ENOBUFS;
	return 0;
}

static int parse_uint(const char **s, unsigned long max, unsigned long *ret)
{
	char *end;
	unsigned long v;

	if (**s < '0' || **s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(*s, &end, 10);
	if (errno || v > max)
		return -EINVAL;
	*s = end;
	*ret = v;
	return 0;
}

static int expect(const char **s, char c)
{
	if (**s != c)
		return -EINVAL;
	(*s)++;
	return 0;
}

int mseg_nft_log_prefix_parse(const char *prefix, uint8_t *event_verdict, uint8_t *dir,
			      uint16_t *reason, struct mseg_decider *by)
{
	const char *s = prefix;
	unsigned long reason_v, policy, rule;
	char v, d, k, rd;

	if (strncmp(s, "mseg:", 5) != 0)
		return -EINVAL;
	s += 5;
	v = *s++;
	if ((v != 'D' && v != 'A' && v != 'F') || expect(&s, ':'))
		return -EINVAL;
	d = *s++;
	if ((d != 'i' && d != 'o') || expect(&s, ':'))
		return -EINVAL;
	if (parse_uint(&s, MSEG_DROP_REASON_MAX - 1, &reason_v) || expect(&s, ':'))
		return -EINVAL;
	k = *s++;
	if (!strchr("RIDN", k) || !k || expect(&s, ':'))
		return -EINVAL;
	if (parse_uint(&s, UINT32_MAX, &policy) || expect(&s, ':'))
		return -EINVAL;
	rd = *s++;
	if ((rd != 'i' && rd != 'e') || expect(&s, ':'))
		return -EINVAL;
	if (parse_uint(&s, UINT16_MAX, &rule) || *s)
		return -EINVAL;

	*event_verdict = v == 'A'   ? MSEG_EVENT_AUDIT
			 : v == 'F' ? MSEG_EVENT_FORWARDED
				    : MSEG_EVENT_DROPPED;
	*dir = d == 'i' ? MSEG_DIR_INGRESS : MSEG_DIR_EGRESS;
	*reason = (uint16_t)reason_v;
	*by = (struct mseg_decider){
	    .kind = k == 'R'   ? MSEG_DECIDED_RULE
		    : k == 'I' ? MSEG_DECIDED_ISOLATION
		    : k == 'D' ? MSEG_DECIDED_DEFAULT
			       : (enum mseg_decider_kind)MSEG_ABI_DECIDED_NONE,
	    .policy = (uint32_t)policy,
	    .rule = (uint16_t)rule,
	    .dir = rd == 'e' ? MSEG_DIR_EGRESS : MSEG_DIR_INGRESS,
	};
	return 0;
}

/* ---- decision chain names back to their decider (rule hits) ---------------------------- */

/* "p<N>_ing<R>", "p<N>_egr<R>", "iso_p<N>", "default" at *s; side is the chain's, which is the
 * isolation's direction (a policy isolates the side it selects). */
static int decider_parse(const char **s, struct mseg_decider *d)
{
	unsigned long policy, rule;

	*d = (struct mseg_decider){0};
	if (!strncmp(*s, "default", 7)) {
		*s += 7;
		d->kind = MSEG_DECIDED_DEFAULT;
		return 0;
	}
	if (!strncmp(*s, "iso_p", 5)) {
		*s += 5;
		if (parse_uint(s, UINT32_MAX, &policy))
			return -EINVAL;
		d->kind = MSEG_DECIDED_ISOLATION;
		d->policy = (uint32_t)policy;
		return 0;
	}
	if (expect(s, 'p') || parse_uint(s, UINT32_MAX, &policy) || expect(s, '_'))
		return -EINVAL;
	if (!strncmp(*s, "ing", 3))
		d->dir = MSEG_DIR_INGRESS;
	else if (!strncmp(*s, "egr", 3))
		d->dir = MSEG_DIR_EGRESS;
	else
		return -EINVAL;
	*s += 3;
	if (parse_uint(s, UINT16_MAX, &rule))
		return -EINVAL;
	d->kind = MSEG_DECIDED_RULE;
	d->policy = (uint32_t)policy;
	d->rule = (uint16_t)rule;
	return 0;
}

int mseg_nft_decision_name_parse(const char *name, struct mseg_decider *by)
{
	const char *s = name;
	struct mseg_decider d, audit_by;
	uint8_t dir;
	bool audit = false;

	if (!strncmp(s, "allow_", 6))
		s += 6;
	else if (!strncmp(s, "deny_", 5))
		s += 5;
	else if (!strncmp(s, "audit_", 6)) {
		s += 6;
		audit = true;
	} else
		return -EINVAL;
	if (decider_parse(&s, &d) < 0)
		return -EINVAL;
	if (audit && (strncmp(s, "_by_", 4) || (s += 4, decider_parse(&s, &audit_by) < 0)))
		return -EINVAL;
	if (!strcmp(s, "_in"))
		dir = MSEG_DIR_INGRESS;
	else if (!strcmp(s, "_out"))
		dir = MSEG_DIR_EGRESS;
	else
		return -EINVAL;
	if (d.kind != MSEG_DECIDED_RULE)
		d.dir = dir;
	*by = d;
	return 0;
}
