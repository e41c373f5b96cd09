// SPDX-License-Identifier: Apache-2.0
/*
 * The decoding context: field paths, located diagnostics, typed scalar access, strict maps
 * with "did you mean", label maps and label selectors. Shared by every document decoder.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/macro.h"
#include "policy/labels.h"
#include "policy/parse_internal.h"

void mseg_pctx_init(struct mseg_pctx *c, const char *file, struct mseg_diag *diag)
{
	memset(c, 0, sizeof(*c));
	c->file = file;
	c->diag = diag;
}

/*
 * Runs for every field of every rule (tens of thousands per large policy), so it copies bytes
 * instead of formatting. A path longer than the buffer is cut, never overrun: only a message
 * gets shorter.
 */
static void path_append_n(struct mseg_pctx *c, const char *s, size_t n)
{
	size_t room = sizeof(c->path) - 1 - c->path_len;

	if (n > room)
		n = room;
	memcpy(c->path + c->path_len, s, n);
	c->path_len += n;
	c->path[c->path_len] = '\0';
}

size_t mseg_pctx_push(struct mseg_pctx *c, const char *field)
{
	size_t old = c->path_len;

	if (c->path_len > 0)
		path_append_n(c, ".", 1);
	path_append_n(c, field, strlen(field));
	return old;
}

size_t mseg_pctx_push_index(struct mseg_pctx *c, size_t i)
{
	char buf[24];
	size_t at = sizeof(buf), old = c->path_len;

	buf[--at] = ']';
	do {
		buf[--at] = (char)('0' + i % 10);
		i /= 10;
	} while (i);
	buf[--at] = '[';
	path_append_n(c, buf + at, sizeof(buf) - at);
	return old;
}

void mseg_pctx_pop(struct mseg_pctx *c, size_t old_len)
{
	c->path_len = old_len;
	c->path[old_len] = '\0';
}

bool mseg_pctx_fail(struct mseg_pctx *c, int r)
{
	if (r < 0 && !c->fatal)
		c->fatal = r;
	return c->fatal < 0;
}

void mseg_pctx_error(struct mseg_pctx *c, const struct mseg_ynode *at, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;
	int r;

	c->errors++;
	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0) {
		msg = NULL;
		mseg_pctx_fail(c, -ENOMEM);
		return;
	}
	r = mseg_diag_add(c->diag, c->file, at ? at->line : 0, at ? at->col : 0, c->path, "%s",
			  msg);
	mseg_pctx_fail(c, r);
}

unsigned mseg_edit_distance(const char *a, const char *b, unsigned cap)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned row[64];

	/* Field names are short; anything longer than the row is simply "not close". */
	if (lb + 1 > ARRAY_SIZE(row) || la > 63)
		return cap + 1;
	if ((la > lb ? la - lb : lb - la) > cap)
		return cap + 1;
	for (size_t j = 0; j <= lb; j++)
		row[j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		unsigned diag = row[0], best;

		row[0] = (unsigned)i;
		best = row[0];
		for (size_t j = 1; j <= lb; j++) {
			unsigned up = row[j];
			unsigned v = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < v)
				v = up + 1;
			if (row[j - 1] + 1 < v)
				v = row[j - 1] + 1;
			diag = up;
			row[j] = v;
			if (v < best)
				best = v;
		}
		if (best > cap)
			return cap + 1;
	}
	return row[lb] > cap ? cap + 1 : row[lb];
}

static void unknown_field(struct mseg_pctx *c, const struct mseg_ynode *key,
			  const char *const *fields)
{
	const char *best = NULL;
	unsigned best_d = 3;
	char list[512] = "";
	size_t off = 0;
	size_t old;

	for (const char *const *f = fields; *f; f++) {
		unsigned d = mseg_edit_distance(key->value, *f, 2);

		if (d < best_d) {
			best_d = d;
			best = *f;
		}
		if (off < sizeof(list))
			off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
						off ? ", " : "", *f);
	}
	/*
	 * Mix-ups no edit distance catches: the peer list of the other direction, and the
	 * endpoint selector of the other kind.
	 */
	static const char *const swaps[][2] = {
	    {"from", "to"},
	    {"to", "from"},
	    {"podSelector", "endpointSelector"},
	    {"endpointSelector", "podSelector"},
	};
	for (size_t i = 0; !best && i < ARRAY_SIZE(swaps); i++) {
		if (strcmp(key->value, swaps[i][0]))
			continue;
		for (const char *const *f = fields; *f && !best; f++)
			if (!strcmp(*f, swaps[i][1]))
				best = *f;
	}
	old = mseg_pctx_push(c, key->value);
	if (best)
		mseg_pctx_error(c, key, "unknown field \"%s\", did you mean \"%s\"?", key->value,
				best);
	else
		mseg_pctx_error(c, key, "unknown field \"%s\", expected one of: %s", key->value,
				list);
	mseg_pctx_pop(c, old);
}

struct key_ref {
	const struct mseg_ynode *key;
	size_t index;
};

static int key_ref_cmp(const void *a, const void *b)
{
	const struct key_ref *x = a, *y = b;
	int r = strcmp(x->key->value, y->key->value);

	if (r)
		return r;
	return x->index < y->index ? -1 : x->index > y->index;
}

static void report_duplicates(struct mseg_pctx *c, const struct mseg_ynode *map, const bool *dup)
{
	for (size_t i = 0; i < map->n; i++) {
		size_t old;

		if (!dup[i])
			continue;
		old = mseg_pctx_push(c, map->keys[i]->value);
		mseg_pctx_error(c, map->keys[i], "duplicate field \"%s\"", map->keys[i]->value);
		mseg_pctx_pop(c, old);
	}
}

/*
 * Reports every key that repeats an earlier one, in document order. Sorting keeps a hostile
 * map with many keys at n log n.
 */
static void check_duplicates(struct mseg_pctx *c, const struct mseg_ynode *map)
{
	_cleanup_free_ struct key_ref *refs = NULL;
	_cleanup_free_ bool *dup = NULL;
	bool small[8] = {false};
	size_t n = 0;

	if (map->n < 2)
		return;
	/* the maps of a policy have a handful of keys: compare pairwise, allocate nothing */
	if (map->n <= ARRAY_SIZE(small)) {
		bool any = false;

		for (size_t i = 1; i < map->n; i++) {
			const struct mseg_ynode *k = map->keys[i];

			if (k->type != MSEG_YNODE_SCALAR)
				continue;
			for (size_t j = 0; j < i && !small[i]; j++)
				small[i] = map->keys[j]->type == MSEG_YNODE_SCALAR &&
					   !strcmp(map->keys[j]->value, k->value);
			any |= small[i];
		}
		if (!any)
			return;
		report_duplicates(c, map, small);
		return;
	}
	refs = calloc(map->n, sizeof(*refs));
	dup = calloc(map->n, sizeof(*dup));
	if (!refs || !dup) {
		mseg_pctx_fail(c, -ENOMEM);
		return;
	}
	for (size_t i = 0; i < map->n; i++)
		if (map->keys[i]->type == MSEG_YNODE_SCALAR)
			refs[n++] = (struct key_ref){map->keys[i], i};
	qsort(refs, n, sizeof(*refs), key_ref_cmp);
	for (size_t i = 1; i < n; i++)
		if (!strcmp(refs[i].key->value, refs[i - 1].key->value))
			dup[refs[i].index] = true;
	report_duplicates(c, map, dup);
}

/* Keys must be scalars; reports the others. Returns whether all were scalars. */
static bool check_keys(struct mseg_pctx *c, const struct mseg_ynode *map)
{
	bool ok = true;

	for (size_t i = 0; i < map->n; i++) {
		if (map->keys[i]->type == MSEG_YNODE_SCALAR)
			continue;
		mseg_pctx_error(c, map->keys[i], "a key must be a string, got %s",
				mseg_ynode_describe(map->keys[i]));
		ok = false;
	}
	return ok;
}

bool mseg_pctx_check_map(struct mseg_pctx *c, const struct mseg_ynode *node,
			 const char *const *fields)
{
	if (node->type != MSEG_YNODE_MAP) {
		mseg_pctx_error(c, node, "expected a map, got %s", mseg_ynode_describe(node));
		return false;
	}
	check_keys(c, node);
	check_duplicates(c, node);
	for (size_t i = 0; i < node->n; i++) {
		const struct mseg_ynode *k = node->keys[i];
		bool known = false;

		if (k->type != MSEG_YNODE_SCALAR)
			continue;
		for (const char *const *f = fields; *f && !known; f++)
			known = !strcmp(k->value, *f);
		if (!known)
			unknown_field(c, k, fields);
	}
	return true;
}

void mseg_pctx_missing(struct mseg_pctx *c, const struct mseg_ynode *map, const char *key,
		       const char *expected)
{
	size_t old = mseg_pctx_push(c, key);

	mseg_pctx_error(c, map, "required field is missing, expected %s", expected);
	mseg_pctx_pop(c, old);
}

bool mseg_pctx_expect_seq(struct mseg_pctx *c, const struct mseg_ynode *node)
{
	if (node->type == MSEG_YNODE_SEQ)
		return true;
	mseg_pctx_error(c, node, "expected a list, got %s", mseg_ynode_describe(node));
	return false;
}

const char *mseg_pctx_string(struct mseg_pctx *c, const struct mseg_ynode *node)
{
	if (node->type != MSEG_YNODE_SCALAR) {
		mseg_pctx_error(c, node, "expected a string, got %s", mseg_ynode_describe(node));
		return NULL;
	}
	if (node->kind != MSEG_YSCALAR_STRING) {
		mseg_pctx_error(c, node, "expected a string, got %s (quote it: \"%s\")",
				mseg_ynode_describe(node), node->value);
		return NULL;
	}
	if (strlen(node->value) != node->len) {
		mseg_pctx_error(c, node, "a string must not contain a NUL character");
		return NULL;
	}
	return node->value;
}

char *mseg_pctx_strdup(struct mseg_pctx *c, const struct mseg_ynode *node)
{
	const char *s = mseg_pctx_string(c, node);
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		mseg_pctx_fail(c, -ENOMEM);
	return d;
}

/* Shortens long user text in messages so one bad value cannot make a line unreadable. */
static const char *excerpt(const char *s, char *buf, size_t size)
{
	if (strlen(s) < size)
		return s;
	snprintf(buf, size, "%.*s...", (int)(size - 4), s);
	return buf;
}

bool mseg_pctx_int(struct mseg_pctx *c, const struct mseg_ynode *node, long long min, long long max,
		   long long *ret)
{
	char ex[48];
	const char *p;
	long long v;
	char *end;
	int base = 10;

	if (node->type != MSEG_YNODE_SCALAR ||
	    (node->kind != MSEG_YSCALAR_INT && node->kind != MSEG_YSCALAR_FLOAT)) {
		if (node->type == MSEG_YNODE_SCALAR && node->kind == MSEG_YSCALAR_STRING)
			mseg_pctx_error(c, node, "expected a number, got a string (\"%s\")",
					excerpt(node->value, ex, sizeof(ex)));
		else
			mseg_pctx_error(c, node, "expected a number, got %s",
					mseg_ynode_describe(node));
		return false;
	}
	if (node->kind == MSEG_YSCALAR_FLOAT) {
		mseg_pctx_error(c, node, "%s is not an integer",
				excerpt(node->value, ex, sizeof(ex)));
		return false;
	}
	p = node->value;
	if ((p[0] == '0' && (p[1] == 'x' || p[1] == 'o'))) {
		base = p[1] == 'x' ? 16 : 8;
		p += 2;
	}
	errno = 0;
	v = strtoll(p, &end, base);
	if (*end || end == p) {
		mseg_pctx_error(c, node, "%s is not an integer",
				excerpt(node->value, ex, sizeof(ex)));
		return false;
	}
	if (errno == ERANGE || v < min || v > max) {
		mseg_pctx_error(c, node, "%s is out of range %lld-%lld",
				excerpt(node->value, ex, sizeof(ex)), min, max);
		return false;
	}
	*ret = v;
	return true;
}

int mseg_pctx_enum(struct mseg_pctx *c, const struct mseg_ynode *node, const char *const *names)
{
	const char *s = mseg_pctx_string(c, node);
	char list[256] = "";
	size_t off = 0, n = 0;
	char ex[48];

	if (!s)
		return -1;
	for (const char *const *p = names; *p; p++, n++)
		if (!strcmp(s, *p))
			return (int)n;
	for (size_t i = 0; i < n; i++)
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
					i == 0	     ? ""
					: i + 1 == n ? " or "
						     : ", ",
					names[i]);
	mseg_pctx_error(c, node, "\"%s\" is not valid, expected %s", excerpt(s, ex, sizeof(ex)),
			list);
	return -1;
}

void mseg_pctx_labels(struct mseg_pctx *c, const struct mseg_ynode *node, struct mseg_labels *out)
{
	char ex[80];

	if (node->type != MSEG_YNODE_MAP) {
		mseg_pctx_error(c, node, "expected a map of labels, got %s",
				mseg_ynode_describe(node));
		return;
	}
	if (!check_keys(c, node))
		return;
	check_duplicates(c, node);
	for (size_t i = 0; i < node->n && !c->fatal; i++) {
		const struct mseg_ynode *k = node->keys[i];
		const char *why = NULL, *v;
		size_t old;

		if (strlen(k->value) != k->len || mseg_label_key_check(k->value, &why) < 0) {
			mseg_pctx_error(c, k, "\"%s\" is not a valid label key: %s",
					excerpt(k->value, ex, sizeof(ex)),
					why ? why : "must not contain a NUL character");
			continue;
		}
		old = mseg_pctx_push(c, k->value);
		v = mseg_pctx_string(c, node->values[i]);
		if (v && mseg_label_value_check(v, &why) < 0)
			mseg_pctx_error(c, node->values[i], "\"%s\" is not a valid label value: %s",
					excerpt(v, ex, sizeof(ex)), why);
		else if (v)
			mseg_pctx_fail(c, mseg_labels_set(out, k->value, v));
		mseg_pctx_pop(c, old);
	}
}

static void selector_expr(struct mseg_pctx *c, const struct mseg_ynode *node,
			  struct mseg_selector_expr *e)
{
	static const char *const fields[] = {"key", "operator", "values", NULL};
	static const char *const ops[] = {"In", "NotIn", "Exists", "DoesNotExist", NULL};
	const struct mseg_ynode *key, *op, *values;
	int opi = -1;
	char ex[80];
	size_t old;

	if (!mseg_pctx_check_map(c, node, fields))
		return;
	key = mseg_ynode_get(node, "key");
	op = mseg_ynode_get(node, "operator");
	values = mseg_ynode_get(node, "values");
	if (!key) {
		mseg_pctx_missing(c, node, "key", "a label key");
	} else {
		const char *why = NULL;

		old = mseg_pctx_push(c, "key");
		e->key = mseg_pctx_strdup(c, key);
		if (e->key && mseg_label_key_check(e->key, &why) < 0)
			mseg_pctx_error(c, key, "\"%s\" is not a valid label key: %s",
					excerpt(e->key, ex, sizeof(ex)), why);
		mseg_pctx_pop(c, old);
	}
	if (!op) {
		mseg_pctx_missing(c, node, "operator", "In, NotIn, Exists or DoesNotExist");
	} else {
		old = mseg_pctx_push(c, "operator");
		opi = mseg_pctx_enum(c, op, ops);
		mseg_pctx_pop(c, old);
		if (opi >= 0)
			e->op = (enum mseg_selector_op)opi;
	}
	old = mseg_pctx_push(c, "values");
	if (values && mseg_pctx_expect_seq(c, values)) {
		if (values->n > 0) {
			e->values = calloc(values->n, sizeof(*e->values));
			if (!e->values) {
				mseg_pctx_fail(c, -ENOMEM);
				mseg_pctx_pop(c, old);
				return;
			}
		}
		for (size_t i = 0; i < values->n && !c->fatal; i++) {
			size_t old_i = mseg_pctx_push_index(c, i);
			char *v = mseg_pctx_strdup(c, values->values[i]);
			const char *why = NULL;

			if (v && mseg_label_value_check(v, &why) < 0)
				mseg_pctx_error(c, values->values[i],
						"\"%s\" is not a valid label value: %s",
						excerpt(v, ex, sizeof(ex)), why);
			if (v)
				e->values[e->n_values++] = v;
			mseg_pctx_pop(c, old_i);
		}
	}
	if (opi == MSEG_SEL_IN || opi == MSEG_SEL_NOT_IN) {
		if (!values || (values->type == MSEG_YNODE_SEQ && values->n == 0))
			mseg_pctx_error(c, values ? values : node,
					"must be a non-empty list for operator %s", ops[opi]);
	} else if (opi >= 0 && values && values->type == MSEG_YNODE_SEQ && values->n > 0) {
		mseg_pctx_error(c, values, "must be empty for operator %s", ops[opi]);
	}
	mseg_pctx_pop(c, old);
}

void mseg_pctx_selector(struct mseg_pctx *c, const struct mseg_ynode *node,
			struct mseg_selector *out)
{
	static const char *const fields[] = {"matchLabels", "matchExpressions", NULL};
	const struct mseg_ynode *ml, *me;
	size_t old;

	/* "podSelector:" with no value is the empty selector, as in Kubernetes. */
	if (mseg_ynode_is_null(node))
		return;
	if (!mseg_pctx_check_map(c, node, fields))
		return;
	ml = mseg_ynode_get(node, "matchLabels");
	me = mseg_ynode_get(node, "matchExpressions");
	if (ml) {
		old = mseg_pctx_push(c, "matchLabels");
		mseg_pctx_labels(c, ml, &out->match_labels);
		mseg_pctx_pop(c, old);
	}
	if (!me)
		return;
	old = mseg_pctx_push(c, "matchExpressions");
	if (mseg_pctx_expect_seq(c, me) && me->n > 0) {
		out->exprs = calloc(me->n, sizeof(*out->exprs));
		if (!out->exprs) {
			mseg_pctx_fail(c, -ENOMEM);
		} else {
			out->n_exprs = me->n;
			for (size_t i = 0; i < me->n && !c->fatal; i++) {
				size_t old_i = mseg_pctx_push_index(c, i);

				selector_expr(c, me->values[i], &out->exprs[i]);
				mseg_pctx_pop(c, old_i);
			}
		}
	}
	mseg_pctx_pop(c, old);
}

bool mseg_port_name_valid(const char *name, const char **why)
{
	size_t len = strlen(name);
	bool letter = false;

	if (len == 0 || len > 15) {
		*why = "a port name must be 1-15 characters";
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		char ch = name[i];

		if (ch >= 'a' && ch <= 'z')
			letter = true;
		else if (!(ch >= '0' && ch <= '9') && ch != '-') {
			*why = "a port name may contain only lower case letters, digits and '-'";
			return false;
		}
	}
	if (!letter) {
		*why = "a port name must contain at least one letter";
		return false;
	}
	if (strstr(name, "--")) {
		*why = "a port name must not contain \"--\"";
		return false;
	}
	if (name[0] == '-' || name[len - 1] == '-') {
		*why = "a port name must not start or end with '-'";
		return false;
	}
	return true;
}

int mseg_pctx_protocol(struct mseg_pctx *c, const struct mseg_ynode *node, bool allow_icmp)
{
	static const char *const k8s[] = {"TCP", "UDP", "SCTP", NULL};
	static const char *const mseg[] = {"TCP", "UDP", "SCTP", "ICMP", NULL};
	static const int protos[] = {MSEG_PROTO_TCP, MSEG_PROTO_UDP, MSEG_PROTO_SCTP,
				     MSEG_PROTO_ICMP};
	int i;

	if (!allow_icmp && node->type == MSEG_YNODE_SCALAR && !strcmp(node->value, "ICMP")) {
		mseg_pctx_error(c, node,
				"\"ICMP\" is not valid in a NetworkPolicy, expected TCP, UDP or "
				"SCTP (ICMP rules need apiVersion mseg.io/v1)");
		return -1;
	}
	i = mseg_pctx_enum(c, node, allow_icmp ? mseg : k8s);
	return i < 0 ? -1 : protos[i];
}
