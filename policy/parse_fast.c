// SPDX-License-Identifier: Apache-2.0
/*
 * A fast path for the plain YAML that policies are written in: block mappings and sequences,
 * one-line flow collections, plain and simply quoted scalars, comments, "---" between
 * documents. It builds the very tree libyaml's events would (same nodes, lines, columns and
 * scalar kinds) at a fraction of the cost, for a 10,000-rule policy is mostly libyaml time.
 * Anything else, and anything malformed, is declined (-EOPNOTSUPP) before a node is handed
 * out, and libyaml reads the text instead: it alone reports errors, so every message stays
 * the same. tests/unit/policy/test_parse_fast.c compares both readers on every document of
 * the test corpus.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "policy/parse_tree.h"

struct line {
	const char *s; /* first byte of the line */
	size_t len;    /* without the newline */
	unsigned no;   /* 1-based */
	size_t indent; /* leading spaces */
};

struct fast {
	const char *buf;
	size_t len;
	size_t pos; /* start of the next unread line */
	unsigned no;
	struct line cur; /* the current content line */
	bool have;	 /* cur holds an unconsumed content line of this document */
	bool eof;	 /* every line has been read */
	struct mseg_yarena **arena;
	int depth;
};

#define DECLINE (-EOPNOTSUPP)

/* Bytes that never occur in the subset: their meaning depends on context libyaml tracks. */
static bool byte_refused(unsigned char c)
{
	return c == '\t' || c == '\r' || c == '\0' || c >= 0x80 || c == '&' || c == '*' ||
	       c == '!' || c == '|' || c == '>' || c == '%' || c == '@' || c == '`' || c == '?' ||
	       c == '\\' || (c < 0x20 && c != '\n');
}

/* Reads lines up to the next content line (skipping blank and comment lines). */
static int next_line(struct fast *f)
{
	f->have = false;
	while (f->pos < f->len) {
		const char *s = f->buf + f->pos, *nl = memchr(s, '\n', f->len - f->pos);
		size_t len = nl ? (size_t)(nl - s) : f->len - f->pos, i = 0;

		f->pos += len + (nl != NULL);
		f->no++;
		while (i < len && s[i] == ' ')
			i++;
		if (i == len || s[i] == '#')
			continue;
		f->cur = (struct line){.s = s, .len = len, .no = f->no, .indent = i};
		if (len >= 3 && !memcmp(s, "---", 3)) {
			size_t k = 3;

			if (len > 3 && s[3] != ' ')
				return DECLINE; /* "---x" is a scalar; keep it simple */
			while (k < len && s[k] == ' ')
				k++;
			if (k < len && s[k] != '#')
				return DECLINE; /* content on the marker line */
			return 0; /* a document ends: have stays false */
		}
		if (len >= 3 && !memcmp(s, "...", 3))
			return DECLINE;
		f->have = true;
		return 0;
	}
	f->eof = true;
	return 0;
}

static struct mseg_ynode *node(struct fast *f, enum mseg_ynode_type t, unsigned line, size_t col)
{
	struct mseg_ynode *n = mseg_yarena_alloc(f->arena, sizeof(*n));

	if (n) {
		memset(n, 0, sizeof(*n));
		n->type = t;
		n->line = line;
		n->col = (unsigned)col + 1;
	}
	return n;
}

/* Appends to a map (key != NULL) or a sequence, doubling arena arrays. */
static int add(struct fast *f, struct mseg_ynode *c, size_t *cap, struct mseg_ynode *key,
	       struct mseg_ynode *value)
{
	if (c->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 4;
		struct mseg_ynode **v = mseg_yarena_alloc(f->arena, nc * sizeof(*v));
		struct mseg_ynode **k = key ? mseg_yarena_alloc(f->arena, nc * sizeof(*k)) : NULL;

		if (!v || (key && !k))
			return -ENOMEM;
		if (c->n) {
			memcpy(v, c->values, c->n * sizeof(*v));
			if (key)
				memcpy(k, c->keys, c->n * sizeof(*k));
		}
		c->values = v;
		if (key)
			c->keys = k;
		*cap = nc;
	}
	if (key)
		c->keys[c->n] = key;
	c->values[c->n++] = value;
	return 0;
}

static bool plain_stop(char c, bool flow)
{
	return c == ':' || c == '#' || c == '"' || c == '\'' ||
	       (flow ? c == ',' || c == '[' || c == ']' || c == '{' || c == '}'
		     : c == '[' || c == ']' || c == '{' || c == '}' || c == ',');
}

/*
 * A scalar at s[i] on line l, ending where the subset says (flow: before , ] } or spaces
 * before them; block: at the end of the line or before " #"). Quoted scalars have no escapes
 * (backslash is refused; '' is declined here).
 */
static int scalar(struct fast *f, const struct line *l, size_t *i, bool flow,
		  struct mseg_ynode **ret)
{
	const char *s = l->s;
	size_t start = *i, end, vs, ve;
	struct mseg_ynode *n;
	bool quoted = s[start] == '"' || s[start] == '\'';

	if (start >= l->len)
		return DECLINE;
	if (quoted) {
		const char *q = memchr(s + start + 1, s[start], l->len - start - 1);

		if (!q || (s[start] == '\'' && (size_t)(q - s) + 1 < l->len && q[1] == '\''))
			return DECLINE;
		vs = start + 1;
		ve = (size_t)(q - s);
		end = ve + 1;
	} else {
		/* no indicator first: "- x", ": x", "[", "{", "#", "," ... */
		if (s[start] == '-' && (start + 1 == l->len || s[start + 1] == ' '))
			return DECLINE;
		if (plain_stop(s[start], flow) || s[start] == ' ')
			return DECLINE;
		end = start;
		while (end < l->len) {
			char c = s[end];

			if (c == ' ') {
				size_t k = end;

				while (k < l->len && s[k] == ' ')
					k++;
				if (k == l->len || s[k] == '#' || (flow && (s[k] == ',' || s[k] == ']' ||
									   s[k] == '}')))
					break;
				end = k;
				continue;
			}
			if (c == ':' && (end + 1 == l->len || s[end + 1] == ' ')) {
				if (s[end - 1] == ' ')
					return DECLINE; /* "key :" */
				break; /* a key ends here; elsewhere the caller declines */
			}
			if (plain_stop(c, flow)) {
				if (flow && (c == ',' || c == ']' || c == '}'))
					break;
				return DECLINE; /* ':' '#' quotes brackets inside a plain scalar */
			}
			end++;
		}
		vs = start;
		ve = end;
	}
	n = node(f, MSEG_YNODE_SCALAR, l->no, start);
	if (!n)
		return -ENOMEM;
	n->len = ve - vs;
	n->value = mseg_yarena_alloc(f->arena, n->len + 1);
	if (!n->value)
		return -ENOMEM;
	memcpy(n->value, s + vs, n->len);
	n->value[n->len] = '\0';
	n->kind = quoted ? MSEG_YSCALAR_STRING : mseg_yscalar_resolve(n->value);
	*i = end;
	*ret = n;
	return 0;
}

static size_t skip_spaces(const struct line *l, size_t i)
{
	while (i < l->len && l->s[i] == ' ')
		i++;
	return i;
}

/* The rest of the line after i holds nothing but spaces or a comment (after a space). */
static bool line_done(const struct line *l, size_t i)
{
	size_t k = skip_spaces(l, i);

	return k == l->len || (l->s[k] == '#' && k > i);
}

/* A flow collection or scalar at l->s[*i], all on this line. */
static int flow_node(struct fast *f, const struct line *l, size_t *i, struct mseg_ynode **ret)
{
	const char *s = l->s;
	char open = s[*i], close;
	struct mseg_ynode *c;
	size_t cap = 0;
	int r;

	if (open != '{' && open != '[')
		return scalar(f, l, i, true, ret);
	if (++f->depth > MSEG_YNODE_MAX_DEPTH)
		return DECLINE;
	close = open == '{' ? '}' : ']';
	c = node(f, open == '{' ? MSEG_YNODE_MAP : MSEG_YNODE_SEQ, l->no, *i);
	if (!c)
		return -ENOMEM;
	*i = skip_spaces(l, *i + 1);
	if (*i < l->len && s[*i] == close) {
		(*i)++;
		f->depth--;
		*ret = c;
		return 0;
	}
	for (;;) {
		struct mseg_ynode *k = NULL, *v;

		if (*i >= l->len)
			return DECLINE; /* goes on over the next line */
		if (open == '{') {
			r = scalar(f, l, i, true, &k);
			if (r < 0)
				return r;
			if (*i >= l->len || s[*i] != ':' || *i + 1 >= l->len || s[*i + 1] != ' ')
				return DECLINE;
			*i = skip_spaces(l, *i + 1);
			if (*i >= l->len || s[*i] == ',' || s[*i] == '}')
				return DECLINE; /* empty value */
		}
		r = flow_node(f, l, i, &v);
		if (r < 0)
			return r;
		r = add(f, c, &cap, k, v);
		if (r < 0)
			return r;
		*i = skip_spaces(l, *i);
		if (*i < l->len && s[*i] == close) {
			(*i)++;
			break;
		}
		if (*i >= l->len || s[*i] != ',')
			return DECLINE;
		*i = skip_spaces(l, *i + 1);
		if (*i < l->len && (s[*i] == close || s[*i] == ','))
			return DECLINE; /* trailing or empty entry */
	}
	f->depth--;
	*ret = c;
	return 0;
}

/* A value after "key: " or "- " on the same line: a flow collection or a scalar, to the end. */
static int inline_value(struct fast *f, const struct line *l, size_t i, struct mseg_ynode **ret)
{
	int r;

	if (l->s[i] == '-' && (i + 1 == l->len || l->s[i + 1] == ' '))
		return DECLINE;
	r = l->s[i] == '{' || l->s[i] == '[' ? flow_node(f, l, &i, ret)
					     : scalar(f, l, &i, false, ret);
	if (r < 0)
		return r;
	return line_done(l, i) ? 0 : DECLINE;
}

/* "key:" at column col of line l: the key node and where its value starts (or l->len). */
static int map_key(struct fast *f, const struct line *l, size_t col, struct mseg_ynode **key,
		   size_t *after)
{
	size_t i = col;
	int r;

	if (l->s[i] == '"' || l->s[i] == '\'' || l->s[i] == '-' || l->s[i] == '{' ||
	    l->s[i] == '[')
		return DECLINE;
	r = scalar(f, l, &i, false, key);
	if (r < 0)
		return r;
	/* scalar() stops before " #" or the end: the key must end right at ':' */
	if (i >= l->len || l->s[i] != ':')
		return DECLINE;
	if (i + 1 < l->len && l->s[i + 1] != ' ')
		return DECLINE;
	*after = skip_spaces(l, i + 1);
	if (*after < l->len && l->s[*after] == '#' && *after == i + 1)
		return DECLINE;
	return 0;
}

static int block_node(struct fast *f, size_t col, bool indentless, struct mseg_ynode **ret);

/* A value on the lines after "key:" (or "-"): more indented, or an indentless sequence. */
static int value_below(struct fast *f, size_t col, bool in_map, struct mseg_ynode **ret)
{
	int r = next_line(f);

	if (r < 0)
		return r;
	if (!f->have)
		return DECLINE; /* empty value: libyaml's null has its own position rules */
	if (f->cur.indent > col)
		return block_node(f, f->cur.indent, false, ret);
	if (in_map && f->cur.indent == col && f->cur.s[col] == '-' &&
	    (f->cur.len == col + 1 || f->cur.s[col + 1] == ' '))
		return block_node(f, col, true, ret);
	return DECLINE;
}

/*
 * The block collection whose first line is f->cur, content at column col. indentless: a
 * sequence at its parent mapping's column. On return f->cur is the first line after it
 * (or the document's end).
 */
static int block_node(struct fast *f, size_t col, bool indentless, struct mseg_ynode **ret)
{
	const struct line *l = &f->cur;
	struct mseg_ynode *c;
	size_t cap = 0;
	bool seq = l->s[col] == '-' && (l->len == col + 1 || l->s[col + 1] == ' ');
	int r;

	if (++f->depth > MSEG_YNODE_MAX_DEPTH)
		return DECLINE;
	c = node(f, seq ? MSEG_YNODE_SEQ : MSEG_YNODE_MAP, l->no, col);
	if (!c)
		return -ENOMEM;
	for (;;) {
		struct mseg_ynode *k = NULL, *v = NULL;
		size_t at;

		if (seq) {
			if (l->s[col] != '-' || (l->len > col + 1 && l->s[col + 1] != ' '))
				return DECLINE;
			at = skip_spaces(l, col + 1);
			if (at == l->len || l->s[at] == '#')
				return DECLINE; /* "-" alone: nested on the next lines or null */
			if (l->s[at] == '-')
				return DECLINE; /* "- - x" */
			/* "- key: ..." opens a mapping at the item's column */
			{
				size_t j = at;
				bool key_line = false;

				if (l->s[j] != '{' && l->s[j] != '[' && l->s[j] != '"' &&
				    l->s[j] != '\'') {
					while (j < l->len && l->s[j] != ':' && l->s[j] != '#')
						j++;
					key_line = j < l->len && l->s[j] == ':' &&
						   (j + 1 == l->len || l->s[j + 1] == ' ');
				}
				if (key_line) {
					r = block_node(f, at, false, &v);
					if (r < 0)
						return r;
					r = add(f, c, &cap, NULL, v);
					if (r < 0)
						return r;
					goto next_entry_seen;
				}
			}
			r = inline_value(f, l, at, &v);
			if (r < 0)
				return r;
			r = add(f, c, &cap, NULL, v);
		} else {
			r = map_key(f, l, col, &k, &at);
			if (r < 0)
				return r;
			if (at == l->len || l->s[at] == '#') {
				r = value_below(f, col, true, &v);
				if (r < 0)
					return r;
				r = add(f, c, &cap, k, v);
				if (r < 0)
					return r;
				goto next_entry_seen;
			}
			r = inline_value(f, l, at, &v);
			if (r < 0)
				return r;
			r = add(f, c, &cap, k, v);
		}
		if (r < 0)
			return r;
		r = next_line(f);
		if (r < 0)
			return r;
next_entry_seen:
		/* f->cur is the line after the entry */
		if (!f->have)
			break;
		if (f->cur.indent > col)
			return DECLINE; /* a continuation line: multi-line scalar or an error */
		if (f->cur.indent < col)
			break;
		/* same column: the next entry of this collection, or (indentless) the parent's */
		{
			bool dash = f->cur.s[col] == '-' &&
				    (f->cur.len == col + 1 || f->cur.s[col + 1] == ' ');

			if (seq && !dash) {
				if (indentless)
					break;
				return DECLINE;
			}
			if (!seq && dash)
				return DECLINE;
		}
	}
	f->depth--;
	*ret = c;
	return 0;
}

static int push_doc(struct mseg_ydocs *docs, struct mseg_ynode *root)
{
	if (docs->n == 0 || (docs->n & (docs->n - 1)) == 0) {
		struct mseg_ynode **v = realloc(docs->docs, (docs->n ? docs->n * 2 : 1) * sizeof(*v));

		if (!v)
			return -ENOMEM;
		docs->docs = v;
	}
	docs->docs[docs->n++] = root;
	return 0;
}

int mseg_ydocs_read_fast(const char *buf, size_t len, struct mseg_ydocs *docs)
{
	struct fast f = {.buf = buf, .len = len, .arena = &docs->arena};
	int r;

	for (size_t i = 0; i < len; i++)
		if (byte_refused((unsigned char)buf[i]))
			return DECLINE;
	do {
		struct mseg_ynode *root = NULL;

		r = next_line(&f);
		if (r < 0)
			return r;
		if (!f.have)
			continue; /* a "---" or the end */
		if (f.cur.indent != 0)
			return DECLINE;
		r = block_node(&f, 0, false, &root);
		if (r < 0)
			return r;
		/* the root is at column 0: it ends at a "---" or the end only */
		r = push_doc(docs, root);
		if (r < 0)
			return r;
	} while (!f.eof);
	return 0;
}
