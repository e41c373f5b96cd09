// SPDX-License-Identifier: Apache-2.0
#include "agent/policies.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "agent/store.h"
#include "lib/macro.h"
#include "policy/parse.h"

#define POLICIES_FILE "policies.json"
#define POLICIES_VERSION 1

const char *mseg_policy_kind_name(enum mseg_policy_kind kind)
{
	switch (kind) {
	case MSEG_KIND_NETWORK_POLICY:
		return "NetworkPolicy";
	case MSEG_KIND_POLICY:
		return "Policy";
	case MSEG_KIND_CLUSTER_POLICY:
		return "ClusterPolicy";
	}
	return "?";
}

int mseg_policy_kind_parse(const char *s, enum mseg_policy_kind *ret)
{
	static const char *const names[][3] = {
	    {"networkpolicy", "networkpolicies", "netpol"},
	    {"policy", "policies", "pol"},
	    {"clusterpolicy", "clusterpolicies", "cpol"},
	};

	for (size_t k = 0; k < ARRAY_SIZE(names); k++)
		for (size_t j = 0; j < 3; j++)
			if (!strcasecmp(s, names[k][j])) {
				*ret = (enum mseg_policy_kind)k;
				return 0;
			}
	return -EINVAL;
}

/* A new record, holding one reference, with a serial no other record of this process has. */
static struct mseg_agent_policy *agent_policy_new(void)
{
	static uint64_t serial;
	struct mseg_agent_policy *p = calloc(1, sizeof(*p));

	if (p) {
		p->refs = 1;
		p->serial = ++serial;
	}
	return p;
}

/* Drops one reference; the last one frees the record. */
static void agent_policy_free(struct mseg_agent_policy *p)
{
	if (!p || --p->refs > 0)
		return;
	free(p->file);
	free(p->text);
	mseg_policy_free(&p->pol);
	free(p);
}

void mseg_agent_policies_free(struct mseg_agent_policies *ps)
{
	if (!ps)
		return;
	for (size_t i = 0; i < ps->n; i++)
		agent_policy_free(ps->v[i]);
	free(ps->v);
	*ps = (struct mseg_agent_policies){0};
}

void mseg_agent_policies_remove(struct mseg_agent_policies *ps, size_t i)
{
	agent_policy_free(ps->v[i]);
	memmove(ps->v + i, ps->v + i + 1, (ps->n - i - 1) * sizeof(*ps->v));
	ps->n--;
}

/* Parses text and moves its index-th policy into *ret (id set to id). */
static int policy_parse_one(const char *file, const char *text, unsigned index, uint32_t id,
			    struct mseg_policy *ret, struct mseg_diag *diag)
{
	struct mseg_policy_set set = {0};
	int r;

	r = mseg_policy_parse_buffer(file, text, strlen(text), &set, diag);
	if (r < 0)
		return r;
	if (index >= set.n_policies) {
		mseg_policy_set_free(&set);
		return -EBADMSG;
	}
	*ret = set.policies[index];
	memset(&set.policies[index], 0, sizeof(set.policies[index]));
	mseg_policy_set_free(&set);
	ret->id = id;
	return 0;
}

static int append(struct mseg_agent_policies *ps, struct mseg_agent_policy *p)
{
	struct mseg_agent_policy **v = realloc(ps->v, (ps->n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	ps->v = v;
	ps->v[ps->n++] = p;
	return 0;
}

int mseg_agent_policies_load(const char *dir, struct mseg_agent_policies *ps, char *why)
{
	struct mseg_agent_policies out = {.next_id = 1};
	json_t *doc = NULL, *arr, *item;
	size_t i;
	int r;

	r = mseg_store_read_json(dir, POLICIES_FILE, &doc, why);
	if (r == -ENOENT) {
		*ps = out;
		return 0;
	}
	if (r < 0)
		return r;
	arr = json_object_get(doc, "policies");
	out.next_id = (uint32_t)json_integer_value(json_object_get(doc, "next_id"));
	if (!json_is_array(arr) || out.next_id < 1) {
		snprintf(why, MSEG_STORE_WHY_LEN, "%s/%s: needs \"next_id\" and \"policies\"", dir,
			 POLICIES_FILE);
		r = -EBADMSG;
		goto out;
	}
	json_array_foreach(arr, i, item)
	{
		const char *file = json_string_value(json_object_get(item, "file"));
		const char *text = json_string_value(json_object_get(item, "text"));
		json_int_t id = json_integer_value(json_object_get(item, "id"));
		json_int_t index = json_integer_value(json_object_get(item, "index"));
		struct mseg_diag diag = {0};
		struct mseg_agent_policy *p;

		if (!file || !text || id < 1 || id >= out.next_id || index < 0) {
			snprintf(why, MSEG_STORE_WHY_LEN,
				 "%s/%s: policies[%zu] needs id (< next_id), file, text, index",
				 dir, POLICIES_FILE, i);
			r = -EBADMSG;
			goto out;
		}
		p = agent_policy_new();
		if (!p) {
			r = -ENOMEM;
			goto out;
		}
		p->id = (uint32_t)id;
		p->index = (unsigned)index;
		p->file = strdup(file);
		p->text = strdup(text);
		r = p->file && p->text
			? policy_parse_one(file, text, p->index, p->id, &p->pol, &diag)
			: -ENOMEM;
		if (r == 0)
			r = append(&out, p);
		if (r < 0) {
			char *first = diag.n ? mseg_diag_entry_format(&diag.items[0]) : NULL;

			snprintf(why, MSEG_STORE_WHY_LEN, "%s/%s: policies[%zu] (id %lld): %s", dir,
				 POLICIES_FILE, i, (long long)id, first ? first : strerror(-r));
			free(first);
			mseg_diag_free(&diag);
			agent_policy_free(p);
			r = -EBADMSG;
			goto out;
		}
	}
	*ps = out;
	out = (struct mseg_agent_policies){0};
out:
	mseg_agent_policies_free(&out);
	json_decref(doc);
	return r;
}

/* A growing output buffer; failed stays set after the first allocation failure. */
struct obuf {
	char *p;
	size_t n, cap;
	bool failed;
};

static void obuf_put(struct obuf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *np;

		while (cap < b->n + n + 1)
			cap *= 2;
		np = realloc(b->p, cap);
		if (!np) {
			b->failed = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

/*
 * A JSON string as jansson writes it (text arrived as valid UTF-8 through a JSON request or
 * the file): quote, backslash and control characters escaped, everything else as is. Runs of
 * plain bytes are copied in one go: a policy file is hundreds of kilobytes.
 */
static void obuf_json_string(struct obuf *b, const char *s)
{
	const char *run = s;

	obuf_put(b, "\"", 1);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		char esc[8];

		if (ch >= 0x20 && ch != '"' && ch != '\\')
			continue;
		obuf_put(b, run, (size_t)(s - run));
		run = s + 1;
		switch (ch) {
		case '"':
			obuf_put(b, "\\\"", 2);
			break;
		case '\\':
			obuf_put(b, "\\\\", 2);
			break;
		case '\n':
			obuf_put(b, "\\n", 2);
			break;
		case '\t':
			obuf_put(b, "\\t", 2);
			break;
		case '\r':
			obuf_put(b, "\\r", 2);
			break;
		default:
			snprintf(esc, sizeof(esc), "\\u%04x", ch);
			obuf_put(b, esc, 6);
			break;
		}
	}
	obuf_put(b, run, (size_t)(s - run));
	obuf_put(b, "\"", 1);
}

/*
 * Written by hand rather than through a json_t: every change rewrites the file, and building
 * and dumping a tree of several hundred kilobytes of policy text cost more than compiling a
 * one-rule change. The result is the compact, key-sorted JSON mseg_store_write_json() writes.
 */
int mseg_agent_policies_save(const char *dir, const struct mseg_agent_policies *ps)
{
	struct obuf b = {0};
	char num[96];
	int r;

	snprintf(num, sizeof(num), "{\"next_id\":%u,\"policies\":[", ps->next_id);
	obuf_put(&b, num, strlen(num));
	for (size_t i = 0; i < ps->n; i++) {
		const char *lead = i ? ",{\"file\":" : "{\"file\":";

		obuf_put(&b, lead, strlen(lead));
		obuf_json_string(&b, ps->v[i]->file);
		snprintf(num, sizeof(num), ",\"id\":%u,\"index\":%u,\"text\":", ps->v[i]->id,
			 ps->v[i]->index);
		obuf_put(&b, num, strlen(num));
		obuf_json_string(&b, ps->v[i]->text);
		obuf_put(&b, "}", 1);
	}
	snprintf(num, sizeof(num), "],\"version\":%d}", POLICIES_VERSION);
	obuf_put(&b, num, strlen(num));
	obuf_put(&b, "\n", 1);
	r = b.failed ? -ENOMEM
		     : mseg_store_replace(dir, POLICIES_FILE, b.p, b.n, MSEG_STORE_SYNC_ALL);
	free(b.p);
	return r;
}

int mseg_agent_policies_view(const struct mseg_agent_policies *ps, struct mseg_policy_set *ret)
{
	struct mseg_policy *v = calloc(ps->n + 1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < ps->n; i++)
		v[i] = ps->v[i]->pol;
	*ret = (struct mseg_policy_set){.policies = v, .n_policies = ps->n};
	return 0;
}

/* ---- apply ------------------------------------------------------------------------------ */

struct chunk {
	size_t off, len;
	unsigned line; /* 1-based line of its first byte */
};

/*
 * Cuts a YAML file at its "---" document markers. JSON (and anything whose cut does not give
 * one policy per piece) is kept whole by the caller.
 */
static int split_documents(const char *text, size_t len, struct chunk **ret, size_t *n_ret)
{
	struct chunk *v = NULL;
	size_t n = 0, start = 0;
	unsigned line = 1, start_line = 1;

	for (size_t i = 0; i <= len; i++) {
		bool at_bol = i == 0 || text[i - 1] == '\n';
		bool marker = i < len && at_bol && len - i >= 3 && !strncmp(text + i, "---", 3) &&
			      (i + 3 == len || text[i + 3] == '\n' || text[i + 3] == ' ' ||
			       text[i + 3] == '\t' || text[i + 3] == '\r');

		if ((marker && i > start) || i == len) {
			struct chunk *nv = realloc(v, (n + 1) * sizeof(*v));

			if (!nv) {
				free(v);
				return -ENOMEM;
			}
			v = nv;
			v[n++] = (struct chunk){.off = start, .len = i - start, .line = start_line};
			start = i;
			start_line = line;
		}
		if (i < len && text[i] == '\n')
			line++;
	}
	*ret = v;
	*n_ret = n;
	return 0;
}

/* The piece's text, with blank lines in front so its line numbers are the file's. */
static char *chunk_text(const char *text, const struct chunk *c)
{
	char *s = malloc(c->line - 1 + c->len + 1);

	if (!s)
		return NULL;
	memset(s, '\n', c->line - 1);
	memcpy(s + c->line - 1, text + c->off, c->len);
	s[c->line - 1 + c->len] = '\0';
	return s;
}

static bool same_policy(const struct mseg_policy *a, const struct mseg_policy *b)
{
	return a->kind == b->kind && !strcmp(a->name, b->name) &&
	       (a->namespace ? b->namespace && !strcmp(a->namespace, b->namespace) : !b->namespace);
}

/* Equal source, ignoring the blank lines that only carry the position in the file. */
static bool same_source(const struct mseg_agent_policy *a, const struct mseg_agent_policy *b)
{
	const char *x = a->text, *y = b->text;

	while (*x == '\n')
		x++;
	while (*y == '\n')
		y++;
	return a->index == b->index && !strcmp(x, y);
}

/* Equal in everything the record says: file, text byte for byte (so every line), index. */
static bool same_record(const struct mseg_agent_policy *a, const struct mseg_agent_policy *b)
{
	return a->index == b->index && !strcmp(a->file, b->file) && !strcmp(a->text, b->text);
}

/* Appends a record of file, taking its text and the parsed policy (left zeroed for the set's
 * free). */
static int record_add(struct mseg_agent_policies *out, const char *file, char **text,
		      struct mseg_policy *pol)
{
	struct mseg_agent_policy *p = agent_policy_new();

	if (!p || append(out, p) < 0) {
		free(p);
		return -ENOMEM;
	}
	p->file = strdup(file);
	p->text = TAKE_PTR(*text);
	p->pol = *pol;
	memset(pol, 0, sizeof(*pol));
	return p->file ? 0 : -ENOMEM;
}

/* One parsed document file as new records (ids not yet assigned). */
static int doc_records(const struct mseg_policy_doc *d, struct mseg_agent_policies *out,
		       struct mseg_diag *diag)
{
	_cleanup_free_ char *whole = strndup(d->text, d->len);
	_cleanup_free_ struct chunk *chunks = NULL;
	struct mseg_policy_set set = {0};
	size_t n_chunks = 0, k = 0, first = out->n;
	bool cut = true;
	int r;

	if (!whole)
		return -ENOMEM;
	r = mseg_policy_parse_buffer(d->name, whole, strlen(whole), &set, diag);
	if (r < 0)
		return r;
	r = split_documents(whole, strlen(whole), &chunks, &n_chunks);
	/*
	 * One piece is the whole text (line 1 on), so the whole parse above already is its parse:
	 * the common one-document file (the 10,000-rule policy) is parsed once, not twice.
	 */
	if (r == 0 && n_chunks == 1 && set.n_policies == 1) {
		r = record_add(out, d->name, &whole, &set.policies[0]);
		mseg_policy_set_free(&set);
		return r;
	}
	/* try the cut: every piece must parse to exactly the next policy of the file */
	for (size_t c = 0; c < n_chunks && r == 0 && cut; c++) {
		struct mseg_policy_set one = {0};
		struct mseg_diag quiet = {0};
		_cleanup_free_ char *t = chunk_text(whole, &chunks[c]);

		if (!t) {
			r = -ENOMEM;
			break;
		}
		if (mseg_policy_parse_buffer(d->name, t, strlen(t), &one, &quiet) < 0 ||
		    one.n_policies > 1 ||
		    (one.n_policies == 1 &&
		     (k >= set.n_policies || !same_policy(&one.policies[0], &set.policies[k]))))
			cut = false;
		if (cut && one.n_policies == 1) {
			r = record_add(out, d->name, &t, &one.policies[0]);
			k++;
		}
		mseg_policy_set_free(&one);
		mseg_diag_free(&quiet);
	}
	if (r == 0 && (!cut || k != set.n_policies)) {
		/* fall back: the whole file, each policy by its index */
		while (out->n > first)
			mseg_agent_policies_remove(out, out->n - 1);
		for (size_t i = 0; i < set.n_policies && r == 0; i++) {
			struct mseg_agent_policy *p = agent_policy_new();

			if (!p || append(out, p) < 0) {
				free(p);
				r = -ENOMEM;
				break;
			}
			p->file = strdup(d->name);
			p->text = strdup(whole);
			p->index = (unsigned)i;
			p->pol = set.policies[i];
			memset(&set.policies[i], 0, sizeof(set.policies[i]));
			if (!p->file || !p->text)
				r = -ENOMEM;
		}
	}
	mseg_policy_set_free(&set);
	return r;
}

void mseg_apply_results_free(struct mseg_apply_result *r, size_t n)
{
	for (size_t i = 0; r && i < n; i++) {
		free(r[i].namespace);
		free(r[i].name);
	}
	free(r);
}

static ssize_t find_policy(const struct mseg_agent_policies *ps, const struct mseg_policy *p)
{
	for (size_t i = 0; i < ps->n; i++)
		if (same_policy(&ps->v[i]->pol, p))
			return (ssize_t)i;
	return -1;
}

int mseg_agent_policies_apply(const struct mseg_agent_policies *ps,
			      const struct mseg_policy_doc *docs, size_t n_docs,
			      struct mseg_agent_policies *next, struct mseg_apply_result **results,
			      size_t *n_results, struct mseg_diag *diag)
{
	struct mseg_agent_policies in = {0}, out = {.next_id = ps->next_id};
	struct mseg_apply_result *res = NULL;
	int r = 0, bad = 0;

	for (size_t i = 0; i < n_docs; i++) {
		r = doc_records(&docs[i], &in, diag);
		if (r == -EINVAL)
			bad = r; /* keep going: every file's errors are reported */
		else if (r < 0)
			goto fail;
	}
	for (size_t i = 0; i < in.n; i++)
		for (size_t j = 0; j < i; j++)
			if (same_policy(&in.v[i]->pol, &in.v[j]->pol)) {
				const struct mseg_policy *p = &in.v[i]->pol;

				r = mseg_diag_add(diag, p->file, p->line, 1, "metadata.name",
						  "%s %s%s%s is also defined at %s:%u",
						  mseg_policy_kind_name(p->kind),
						  p->namespace ? p->namespace : "",
						  p->namespace ? "/" : "", p->name,
						  in.v[j]->pol.file, in.v[j]->pol.line);
				if (r < 0)
					goto fail;
				bad = -EINVAL;
				break;
			}
	if (bad) {
		r = bad;
		goto fail;
	}
	res = calloc(in.n + 1, sizeof(*res));
	if (!res) {
		r = -ENOMEM;
		goto fail;
	}
	/*
	 * the existing policies, in order, each replaced in place when re-applied; shared, not
	 * copied: records never change once in a set
	 */
	for (size_t i = 0; i < ps->n; i++) {
		r = append(&out, ps->v[i]);
		if (r < 0)
			goto fail;
		ps->v[i]->refs++;
	}
	for (size_t i = 0; i < in.n; i++) {
		struct mseg_agent_policy *p = in.v[i];
		ssize_t at = find_policy(&out, &p->pol);

		res[i].kind = p->pol.kind;
		res[i].id = 0;
		res[i].name = strdup(p->pol.name);
		res[i].namespace = p->pol.namespace ? strdup(p->pol.namespace) : NULL;
		if (at < 0) {
			p->id = p->pol.id = out.next_id++;
			res[i].id = p->id;
			res[i].action = MSEG_APPLY_CREATED;
			r = append(&out, p);
		} else {
			p->id = p->pol.id = out.v[at]->id;
			res[i].id = p->id;
			res[i].action = same_source(out.v[at], p) ? MSEG_APPLY_UNCHANGED
								  : MSEG_APPLY_CONFIGURED;
			if (res[i].action == MSEG_APPLY_UNCHANGED && same_record(out.v[at], p)) {
				/* the very same record stays: nothing about it needs compiling */
				agent_policy_free(p);
			} else {
				agent_policy_free(out.v[at]);
				out.v[at] = p;
			}
		}
		if (r < 0)
			goto fail;
		in.v[i] = NULL;
	}
	*n_results = in.n;
	in.n = 0;
	mseg_agent_policies_free(&in);
	*next = out;
	*results = res;
	return 0;

fail:
	/* records already moved into out are NULL in in.v */
	mseg_apply_results_free(res, in.n);
	mseg_agent_policies_free(&in);
	mseg_agent_policies_free(&out);
	return r;
}
