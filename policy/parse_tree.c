// SPDX-License-Identifier: Apache-2.0
/* YAML/JSON text to a located node tree, with libyaml's event parser. */
#include "policy/parse_tree.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "lib/macro.h"

/*
 * Nodes live in chunks of a bump allocator: a 10,000-rule policy is some 200,000 nodes and
 * strings, and one malloc + free each cost more than libyaml's own parse of them.
 */
#define ARENA_CHUNK (64u << 10)

struct mseg_yarena {
	struct mseg_yarena *next;
	size_t used, size;
	max_align_t data[];
};

void *mseg_yarena_alloc(struct mseg_yarena **head, size_t size)
{
	struct mseg_yarena *a = *head;
	void *p;

	size = (size + 15) & ~(size_t)15;
	if (!a || a->size - a->used < size) {
		size_t cap = size > ARENA_CHUNK / 4 ? size : ARENA_CHUNK;

		a = malloc(sizeof(*a) + cap);
		if (!a)
			return NULL;
		a->size = cap;
		a->used = 0;
		if (*head && size > ARENA_CHUNK / 4) {
			/* a big block goes behind the current chunk, whose free space stays usable */
			a->next = (*head)->next;
			(*head)->next = a;
			a->used = size;
			return a->data;
		}
		a->next = *head;
		*head = a;
	}
	p = (char *)a->data + a->used;
	a->used += size;
	return p;
}

static void arena_free(struct mseg_yarena **head)
{
	while (*head) {
		struct mseg_yarena *n = (*head)->next;

		free(*head);
		*head = n;
	}
}

/* Keeps the first chunk for the next document of a stream that is read one at a time. */
static void arena_reset(struct mseg_yarena **head)
{
	if (!*head)
		return;
	arena_free(&(*head)->next);
	(*head)->used = 0;
}

void mseg_ydocs_free(struct mseg_ydocs *docs)
{
	if (!docs)
		return;
	free(docs->docs);
	arena_free(&docs->arena);
	docs->docs = NULL;
	docs->n = 0;
}

static bool str_in(const char *s, const char *const *set)
{
	for (; *set; set++)
		if (!strcmp(s, *set))
			return true;
	return false;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/*
 * Plain scalars resolve like Kubernetes' YAML reader does (YAML 1.1 as used by kubectl):
 * null, booleans (including yes/no/on/off), integers and floats; everything else and every
 * quoted scalar is a string. Strings where numbers are expected (and the reverse) are errors
 * later, as they are in Kubernetes.
 */
enum mseg_yscalar_kind mseg_yscalar_resolve(const char *v)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
	static const char *const bools[] = {
	    "true", "True", "TRUE", "false", "False", "FALSE", "yes", "Yes", "YES", "no",
	    "No",   "NO",   "on",   "On",    "ON",    "off",   "Off", "OFF", NULL};
	static const char *const floats[] = {".inf",  ".Inf", ".INF", "-.inf", "-.Inf", "-.INF",
					     "+.inf", ".nan", ".NaN", ".NAN",  NULL};
	const char *p = v;
	bool digits = false;

	/* every word of the three lists starts with one of these: most scalars skip 34 strcmps */
	if (!*v || strchr("~nNtTfFyYoO.+-", *v)) {
		if (str_in(v, nulls))
			return MSEG_YSCALAR_NULL;
		if (str_in(v, bools))
			return MSEG_YSCALAR_BOOL;
		if (str_in(v, floats))
			return MSEG_YSCALAR_FLOAT;
	}
	if (*p == '-' || *p == '+')
		p++;
	if (all_digits(p))
		return MSEG_YSCALAR_INT;
	if ((p[0] == '0' && (p[1] == 'x' || p[1] == 'o')) && p[2]) {
		/* 0x1F, 0o17: integers in YAML, and never a valid name anyway */
		return MSEG_YSCALAR_INT;
	}
	while (*p >= '0' && *p <= '9') {
		p++;
		digits = true;
	}
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9') {
			p++;
			digits = true;
		}
	}
	if (!digits)
		return MSEG_YSCALAR_STRING;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '-' || *p == '+')
			p++;
		if (!all_digits(p))
			return MSEG_YSCALAR_STRING;
		return MSEG_YSCALAR_FLOAT;
	}
	return *p ? MSEG_YSCALAR_STRING : MSEG_YSCALAR_FLOAT;
}

static struct mseg_ynode *node_new(struct mseg_yarena **arena, enum mseg_ynode_type type,
				   const yaml_mark_t *m)
{
	struct mseg_ynode *n = mseg_yarena_alloc(arena, sizeof(*n));

	if (!n)
		return NULL;
	memset(n, 0, sizeof(*n));
	n->type = type;
	n->line = (unsigned)m->line + 1;
	n->col = (unsigned)m->column + 1;
	return n;
}

/* Appends child to a container; for a map, alternating calls give key then value. */
struct builder {
	struct mseg_ynode *stack[MSEG_YNODE_MAX_DEPTH];
	struct mseg_ynode *pending_key[MSEG_YNODE_MAX_DEPTH];
	size_t cap[MSEG_YNODE_MAX_DEPTH];
	size_t depth;
	struct mseg_ynode *root;
	struct mseg_yarena **arena;
};

/* Grows an arena array by doubling: the old copy stays in the arena (at most as much again). */
static int grow(struct mseg_yarena **arena, struct mseg_ynode ***v, size_t n, size_t cap)
{
	struct mseg_ynode **nv = mseg_yarena_alloc(arena, cap * sizeof(*nv));

	if (!nv)
		return -ENOMEM;
	if (n)
		memcpy(nv, *v, n * sizeof(*nv));
	*v = nv;
	return 0;
}

static int builder_add(struct builder *b, struct mseg_ynode *child)
{
	struct mseg_ynode *top;
	size_t d;

	if (b->depth == 0) {
		b->root = child;
		return 0;
	}
	d = b->depth - 1;
	top = b->stack[d];
	if (top->type == MSEG_YNODE_MAP && !b->pending_key[d]) {
		b->pending_key[d] = child;
		return 0;
	}
	if (top->n == b->cap[d]) {
		size_t cap = b->cap[d] ? b->cap[d] * 2 : 4;

		if (grow(b->arena, &top->values, top->n, cap) < 0)
			return -ENOMEM;
		if (top->type == MSEG_YNODE_MAP && grow(b->arena, &top->keys, top->n, cap) < 0)
			return -ENOMEM;
		b->cap[d] = cap;
	}
	if (top->type == MSEG_YNODE_MAP) {
		top->keys[top->n] = b->pending_key[d];
		b->pending_key[d] = NULL;
	}
	top->values[top->n++] = child;
	return 0;
}

static int docs_push(struct mseg_ydocs *docs, struct mseg_ynode *root)
{
	/* Capacity doubles at powers of two: thousands of documents must not copy quadratically. */
	if (docs->n == 0 || (docs->n & (docs->n - 1)) == 0) {
		struct mseg_ynode **v =
		    realloc(docs->docs, (docs->n ? docs->n * 2 : 1) * sizeof(*v));

		if (!v)
			return -ENOMEM;
		docs->docs = v;
	}
	docs->docs[docs->n++] = root;
	return 0;
}

static int scalar_node(struct mseg_yarena **arena, const yaml_event_t *ev,
		       struct mseg_ynode **ret)
{
	const char *tag = (const char *)ev->data.scalar.tag;
	struct mseg_ynode *n = node_new(arena, MSEG_YNODE_SCALAR, &ev->start_mark);

	if (!n)
		return -ENOMEM;
	n->len = ev->data.scalar.length;
	n->value = mseg_yarena_alloc(arena, n->len + 1);
	if (!n->value)
		return -ENOMEM;
	memcpy(n->value, ev->data.scalar.value, n->len);
	n->value[n->len] = '\0';
	if (tag && !strcmp(tag, YAML_STR_TAG))
		n->kind = MSEG_YSCALAR_STRING;
	else if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
		n->kind = mseg_yscalar_resolve(n->value);
	else
		n->kind = MSEG_YSCALAR_STRING;
	*ret = n;
	return 0;
}

/*
 * The fast reader first (policy/parse_fast.c); libyaml when it declines. With each set the
 * fast reader's documents are handed over only once all of them were read, so a late decline
 * never hands a document twice.
 */
int mseg_ydocs_read(const char *file, const char *buf, size_t len, struct mseg_ydocs *docs,
		    struct mseg_diag *diag)
{
	int r = mseg_ydocs_read_fast(buf, len, docs);

	if (r == 0 && docs->each) {
		for (size_t i = 0; i < docs->n; i++)
			docs->each(docs->userdata, docs->docs[i]);
		free(docs->docs);
		docs->docs = NULL;
		docs->n = 0;
		arena_reset(&docs->arena);
	}
	if (r != -EOPNOTSUPP)
		return r;
	free(docs->docs);
	docs->docs = NULL;
	docs->n = 0;
	arena_free(&docs->arena);
	return mseg_ydocs_read_libyaml(file, buf, len, docs, diag);
}

int mseg_ydocs_read_libyaml(const char *file, const char *buf, size_t len,
			    struct mseg_ydocs *docs, struct mseg_diag *diag)
{
	struct builder b = {.arena = &docs->arena};
	yaml_parser_t parser;
	bool done = false;
	int r = 0;

	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);

	while (!done) {
		struct mseg_ynode *n = NULL;
		yaml_event_t ev;

		if (!yaml_parser_parse(&parser, &ev)) {
			if (parser.error == YAML_MEMORY_ERROR) {
				r = -ENOMEM;
				break;
			}
			r = mseg_diag_add(
			    diag, file, (unsigned)parser.problem_mark.line + 1,
			    (unsigned)parser.problem_mark.column + 1, NULL, "invalid YAML: %s%s%s",
			    parser.problem ? parser.problem : "syntax error",
			    parser.context ? " " : "", parser.context ? parser.context : "");
			r = r < 0 ? r : -EINVAL;
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_END_EVENT:
			/* Empty documents (a lone "---", comments only) are skipped. */
			if (b.root && !mseg_ynode_is_null(b.root) && !docs->each) {
				r = docs_push(docs, b.root);
			} else if (b.root && !mseg_ynode_is_null(b.root)) {
				docs->each(docs->userdata, b.root);
				/* nothing of it is kept: the next document reuses the memory */
				if (docs->n == 0)
					arena_reset(&docs->arena);
			}
			if (r == 0)
				b.root = NULL;
			break;
		case YAML_ALIAS_EVENT:
			r = mseg_diag_add(
			    diag, file, (unsigned)ev.start_mark.line + 1,
			    (unsigned)ev.start_mark.column + 1, NULL,
			    "YAML aliases (*%s) are not supported, write the value out",
			    (const char *)ev.data.alias.anchor);
			r = r < 0 ? r : -EINVAL;
			break;
		case YAML_SCALAR_EVENT:
			r = scalar_node(&docs->arena, &ev, &n);
			if (r == 0)
				r = builder_add(&b, n);
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (b.depth == MSEG_YNODE_MAX_DEPTH) {
				r = mseg_diag_add(diag, file, (unsigned)ev.start_mark.line + 1,
						  (unsigned)ev.start_mark.column + 1, NULL,
						  "nesting is deeper than %d levels",
						  MSEG_YNODE_MAX_DEPTH);
				r = r < 0 ? r : -EINVAL;
				break;
			}
			n = node_new(&docs->arena,
				     ev.type == YAML_MAPPING_START_EVENT ? MSEG_YNODE_MAP
									 : MSEG_YNODE_SEQ,
				     &ev.start_mark);
			if (!n) {
				r = -ENOMEM;
				break;
			}
			r = builder_add(&b, n);
			if (r < 0)
				break;
			b.stack[b.depth] = n;
			b.pending_key[b.depth] = NULL;
			b.cap[b.depth] = 0;
			b.depth++;
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			if (b.depth > 0)
				b.depth--;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
		if (r < 0)
			break;
	}
	/* a half-built document is left in the arena, which mseg_ydocs_free() releases */
	yaml_parser_delete(&parser);
	return r;
}

struct mseg_ynode *mseg_ynode_get(const struct mseg_ynode *map, const char *key)
{
	if (!map || map->type != MSEG_YNODE_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++) {
		const struct mseg_ynode *k = map->keys[i];

		if (k->type == MSEG_YNODE_SCALAR && !strcmp(k->value, key))
			return mseg_ynode_is_null(map->values[i]) ? NULL : map->values[i];
	}
	return NULL;
}

bool mseg_ynode_is_null(const struct mseg_ynode *n)
{
	return n && n->type == MSEG_YNODE_SCALAR && n->kind == MSEG_YSCALAR_NULL;
}

const char *mseg_ynode_describe(const struct mseg_ynode *n)
{
	if (n->type == MSEG_YNODE_MAP)
		return "a map";
	if (n->type == MSEG_YNODE_SEQ)
		return "a list";
	switch (n->kind) {
	case MSEG_YSCALAR_NULL:
		return "null";
	case MSEG_YSCALAR_BOOL:
		return "a boolean";
	case MSEG_YSCALAR_INT:
	case MSEG_YSCALAR_FLOAT:
		return "a number";
	default:
		return "a string";
	}
}
