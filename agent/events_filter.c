// SPDX-License-Identifier: Apache-2.0
/* The filters of events.list / events.follow (mseg observe's options), matched on records. */
#include "agent/events.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/macro.h"
#include "policy/labels.h"
#include "policy/selector.h"

enum end_kind {
	END_ANY,
	END_REF,   /* NS/NAME */
	END_WORLD, /* outside the cluster */
	END_SEL,   /* label selector on the endpoint's labels */
};

struct end_filter {
	enum end_kind kind;
	char *ns, *name;
	struct mseg_selector sel;
};

struct mseg_events_filter {
	unsigned verdicts; /* bit per MSEG_EVENT_*; 0: every verdict */
	struct end_filter from, to;
	bool has_port;
	uint16_t port;
	uint8_t proto; /* 0: any protocol */
	uint64_t since_ns;
	size_t last;
	bool packets;
};

void mseg_events_filter_free(struct mseg_events_filter *f)
{
	if (!f)
		return;
	free(f->from.ns);
	free(f->from.name);
	mseg_selector_free(&f->from.sel);
	free(f->to.ns);
	free(f->to.name);
	mseg_selector_free(&f->to.sel);
	free(f);
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static int expr_add(struct mseg_selector *sel, const char *key, enum mseg_selector_op op,
		    char **values, size_t n_values, const char **why)
{
	struct mseg_selector_expr *x;

	if (mseg_label_key_check(key, why) < 0)
		return -EINVAL;
	for (size_t i = 0; i < n_values; i++)
		if (mseg_label_value_check(values[i], why) < 0)
			return -EINVAL;
	x = realloc(sel->exprs, (sel->n_exprs + 1) * sizeof(*x));
	if (!x)
		return -ENOMEM;
	sel->exprs = x;
	x = &sel->exprs[sel->n_exprs];
	*x = (struct mseg_selector_expr){.op = op};
	x->key = strdup(key);
	x->values = calloc(n_values + 1, sizeof(*x->values));
	if (!x->key || !x->values) {
		free(x->key);
		free(x->values);
		return -ENOMEM;
	}
	sel->n_exprs++;
	for (size_t i = 0; i < n_values; i++) {
		x->values[i] = strdup(values[i]);
		if (!x->values[i])
			return -ENOMEM;
		x->n_values++;
	}
	return 0;
}

/* "key in (a, b)" / "key notin (a,b)": term is modified. */
static int term_set(struct mseg_selector *sel, char *term, const char **why)
{
	char *open = strchr(term, '('), *close = strrchr(term, ')'), *key, *word, *vals[64];
	size_t n = 0;
	enum mseg_selector_op op;

	if (!open || !close || close < open || *trim(close + 1)) {
		*why = "expected KEY in (V1,V2) or KEY notin (V1,V2)";
		return -EINVAL;
	}
	*open = *close = '\0';
	key = trim(term);
	word = key;
	while (*word && !isspace((unsigned char)*word))
		word++;
	if (!*word) {
		*why = "expected KEY in (V1,V2) or KEY notin (V1,V2)";
		return -EINVAL;
	}
	*word++ = '\0';
	word = trim(word);
	if (!strcmp(word, "in"))
		op = MSEG_SEL_IN;
	else if (!strcmp(word, "notin"))
		op = MSEG_SEL_NOT_IN;
	else {
		*why = "expected 'in' or 'notin' after the key";
		return -EINVAL;
	}
	for (char *save = NULL, *v = strtok_r(open + 1, ",", &save); v;
	     v = strtok_r(NULL, ",", &save)) {
		if (n == ARRAY_SIZE(vals)) {
			*why = "more than 64 values";
			return -EINVAL;
		}
		vals[n++] = trim(v);
	}
	if (!n) {
		*why = "an empty value list";
		return -EINVAL;
	}
	return expr_add(sel, key, op, vals, n, why);
}

int mseg_selector_parse_string(const char *s, struct mseg_selector *sel, const char **why)
{
	_cleanup_free_ char *copy = strdup(s ? s : "");
	char *p, *start;
	int depth = 0, r;

	if (!copy)
		return -ENOMEM;
	*why = NULL;
	if (!*trim(copy)) {
		*why = "an empty selector";
		return -EINVAL;
	}
	/* split at commas outside parentheses */
	for (p = start = copy;; p++) {
		char *term, *op;

		if (*p == '(')
			depth++;
		else if (*p == ')')
			depth--;
		if (*p && (*p != ',' || depth > 0))
			continue;
		bool end = !*p;
		*p = '\0';
		term = trim(start);
		start = p + 1;
		if (!*term) {
			*why = "an empty term";
			r = -EINVAL;
		} else if (strchr(term, '(')) {
			r = term_set(sel, term, why);
		} else if (term[0] == '!') {
			r = expr_add(sel, trim(term + 1), MSEG_SEL_DOES_NOT_EXIST, NULL, 0, why);
		} else if ((op = strstr(term, "!="))) {
			char *v;

			*op = '\0';
			v = trim(op + 2);
			r = expr_add(sel, trim(term), MSEG_SEL_NOT_IN, &v, 1, why);
		} else if ((op = strchr(term, '='))) {
			char *v;

			*op = '\0';
			v = trim(op[1] == '=' ? op + 2 : op + 1);
			r = expr_add(sel, trim(term), MSEG_SEL_IN, &v, 1, why);
		} else {
			r = expr_add(sel, term, MSEG_SEL_EXISTS, NULL, 0, why);
		}
		if (r < 0) {
			if (!*why)
				*why = "out of memory";
			mseg_selector_free(sel);
			*sel = (struct mseg_selector){0};
			return r;
		}
		if (end)
			break;
	}
	return 0;
}

/* NS/NAME (no selector characters), "world", or a selector. */
static int end_parse(const char *arg, const char *what, struct end_filter *ef,
		     struct mseg_op_error *e)
{
	const char *why = NULL, *slash;

	if (!strcmp(arg, "world")) {
		ef->kind = END_WORLD;
		return 0;
	}
	slash = strchr(arg, '/');
	if (slash && !strpbrk(arg, "=!(), ")) {
		if (slash == arg || !slash[1] || strchr(slash + 1, '/'))
			return mseg_op_error_set(e, -EINVAL, NULL,
						 "invalid %s '%s': expected NS/NAME or a selector",
						 what, arg);
		ef->kind = END_REF;
		ef->ns = strndup(arg, (size_t)(slash - arg));
		ef->name = strdup(slash + 1);
		return ef->ns && ef->name ? 0 : -ENOMEM;
	}
	ef->kind = END_SEL;
	if (mseg_selector_parse_string(arg, &ef->sel, &why) < 0)
		return mseg_op_error_set(e, -EINVAL, NULL, "invalid %s selector '%s': %s", what,
					 arg, why ? why : "malformed");
	return 0;
}

static int verdict_bit(const char *v, unsigned *mask)
{
	if (!strcmp(v, "forwarded"))
		*mask |= 1u << MSEG_EVENT_FORWARDED;
	else if (!strcmp(v, "dropped"))
		*mask |= 1u << MSEG_EVENT_DROPPED;
	else if (!strcmp(v, "audit"))
		*mask |= 1u << MSEG_EVENT_AUDIT;
	else
		return -EINVAL;
	return 0;
}

static int port_parse(const char *s, struct mseg_events_filter *f)
{
	char *end;
	unsigned long p = strtoul(s, &end, 10);

	if (end == s || p > 65535)
		return -EINVAL;
	f->has_port = true;
	f->port = (uint16_t)p;
	if (!*end)
		return 0;
	if (*end != '/')
		return -EINVAL;
	end++;
	if (!strcasecmp(end, "tcp"))
		f->proto = MSEG_PROTO_TCP;
	else if (!strcasecmp(end, "udp"))
		f->proto = MSEG_PROTO_UDP;
	else if (!strcasecmp(end, "sctp"))
		f->proto = MSEG_PROTO_SCTP;
	else
		return -EINVAL;
	return 0;
}

/* An optional string argument: *ret NULL when absent. */
static int opt_string(json_t *args, const char *key, const char **ret, struct mseg_op_error *e)
{
	int r = mseg_args_string(args, key, false, ret, e);

	if (r == -ENOENT) {
		*ret = NULL;
		return 0;
	}
	return r;
}

int mseg_events_filter_parse(json_t *args, struct mseg_events_filter **ret, struct mseg_op_error *e)
{
	struct mseg_events_filter *f = calloc(1, sizeof(*f));
	json_t *v;
	const char *s;
	int r = 0;

	if (!f)
		return -ENOMEM;
	v = json_object_get(args, "verdict");
	if (json_is_string(v)) {
		if (verdict_bit(json_string_value(v), &f->verdicts) < 0)
			r = mseg_op_error_set(e, -EINVAL, NULL,
					      "invalid verdict '%s': dropped, forwarded or audit",
					      json_string_value(v));
	} else if (json_is_array(v)) {
		size_t i;
		json_t *x;

		json_array_foreach(v, i, x)
		{
			if (!json_is_string(x) ||
			    verdict_bit(json_string_value(x), &f->verdicts) < 0) {
				r = mseg_op_error_set(e, -EINVAL, NULL,
						      "invalid verdict in 'verdict': dropped, "
						      "forwarded or audit");
				break;
			}
		}
	} else if (v) {
		r = mseg_op_error_set(e, -EINVAL, NULL, "'verdict' must be a string or an array");
	}
	if (r == 0)
		r = opt_string(args, "from", &s, e);
	if (r == 0 && s)
		r = end_parse(s, "--from", &f->from, e);
	if (r == 0)
		r = opt_string(args, "to", &s, e);
	if (r == 0 && s)
		r = end_parse(s, "--to", &f->to, e);
	if (r == 0)
		r = opt_string(args, "port", &s, e);
	if (r == 0 && s && port_parse(s, f) < 0)
		r = mseg_op_error_set(e, -EINVAL, NULL,
				      "invalid port '%s': expected PORT or PORT/PROTO (tcp, udp, "
				      "sctp)",
				      s);
	v = json_object_get(args, "since");
	if (r == 0 && v) {
		if (!json_is_number(v) || json_number_value(v) < 0)
			r = mseg_op_error_set(e, -EINVAL, NULL,
					      "'since' must be a non-negative number of seconds");
		else
			f->since_ns = (uint64_t)(json_number_value(v) * 1e9);
	}
	v = json_object_get(args, "last");
	if (r == 0 && v) {
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			r = mseg_op_error_set(e, -EINVAL, NULL,
					      "'last' must be a non-negative integer");
		else
			f->last = (size_t)json_integer_value(v);
	}
	v = json_object_get(args, "packets");
	if (r == 0 && v)
		f->packets = json_is_true(v);
	if (r < 0) {
		mseg_events_filter_free(f);
		return r;
	}
	*ret = f;
	return 0;
}

static bool end_match(const struct end_filter *ef, const json_t *end)
{
	const char *ns, *name;
	struct mseg_labels labels = {0};
	const char *k;
	json_t *v;
	bool ok;

	switch (ef->kind) {
	case END_ANY:
		return true;
	case END_WORLD:
		return json_is_true(json_object_get(end, "world"));
	case END_REF:
		ns = json_string_value(json_object_get(end, "namespace"));
		name = json_string_value(json_object_get(end, "name"));
		return ns && name && !strcmp(ns, ef->ns) && !strcmp(name, ef->name);
	case END_SEL:
		if (!json_object_get(end, "name"))
			return false; /* not an endpoint: no labels to select on */
		json_object_foreach(json_object_get(end, "labels"), k, v)
		{
			if (mseg_labels_set(&labels, k, json_string_value(v) ?: "") < 0) {
				mseg_labels_free(&labels);
				return false;
			}
		}
		ok = mseg_selector_matches(&ef->sel, &labels);
		mseg_labels_free(&labels);
		return ok;
	}
	return false;
}

bool mseg_events_filter_prematch(const struct mseg_events_filter *f, uint64_t time_ns,
				 uint8_t verdict, uint64_t now_ns)
{
	if (f->verdicts && (verdict > 31 || !(f->verdicts & (1u << verdict))))
		return false;
	if (f->since_ns && now_ns > f->since_ns && time_ns < now_ns - f->since_ns)
		return false;
	return true;
}

bool mseg_events_filter_match(const struct mseg_events_filter *f, const json_t *rec,
			      uint64_t now_ns)
{
	const json_t *dst = json_object_get(rec, "destination");

	if (!end_match(&f->from, json_object_get(rec, "source")) || !end_match(&f->to, dst))
		return false;
	if (f->has_port) {
		const char *proto = json_string_value(json_object_get(rec, "protocol"));
		json_t *port = json_object_get(dst, "port");
		uint8_t p = !proto		     ? 0
			    : !strcmp(proto, "TCP")  ? MSEG_PROTO_TCP
			    : !strcmp(proto, "UDP")  ? MSEG_PROTO_UDP
			    : !strcmp(proto, "SCTP") ? MSEG_PROTO_SCTP
						     : 0;

		if (!json_is_integer(port) || json_integer_value(port) != f->port)
			return false;
		if (f->proto && p != f->proto)
			return false;
	}
	return true;
}

size_t mseg_events_filter_last(const struct mseg_events_filter *f)
{
	return f->last;
}

bool mseg_events_filter_packets(const struct mseg_events_filter *f)
{
	return f->packets;
}
