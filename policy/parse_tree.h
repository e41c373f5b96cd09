/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal to policy/: YAML (and JSON, which libyaml reads as the flow subset of YAML) into a
 * small tree of nodes that remember their 1-based line and column, so every later error can
 * point at the offending value. Aliases are refused and nesting is bounded, so a hostile
 * document costs memory linear in its size and no deep recursion.
 */
#ifndef MSEG_POLICY_PARSE_TREE_H
#define MSEG_POLICY_PARSE_TREE_H

#include <stdbool.h>
#include <stddef.h>

#include "policy/diag.h"

enum mseg_ynode_type {
	MSEG_YNODE_SCALAR,
	MSEG_YNODE_MAP,
	MSEG_YNODE_SEQ,
};

/* What a scalar means under the YAML core schema (plain scalars) or "string" (quoted). */
enum mseg_yscalar_kind {
	MSEG_YSCALAR_STRING,
	MSEG_YSCALAR_NULL,
	MSEG_YSCALAR_BOOL,
	MSEG_YSCALAR_INT,
	MSEG_YSCALAR_FLOAT,
};

struct mseg_ynode {
	enum mseg_ynode_type type;
	unsigned line, col; /* 1-based */
	/* SCALAR */
	char *value; /* NUL-terminated; may hold an embedded NUL (len says) */
	size_t len;
	enum mseg_yscalar_kind kind;
	/* MAP: keys[i] -> values[i] (keys are scalars); SEQ: values[i] */
	struct mseg_ynode **keys;
	struct mseg_ynode **values;
	size_t n;
};

/*
 * The documents of one stream; empty documents are already dropped. When each is set, every
 * document is handed to it as soon as it is complete and freed after, instead of being kept:
 * memory then stays proportional to the largest document, not to the file.
 */
struct mseg_yarena;

struct mseg_ydocs {
	struct mseg_ynode **docs;
	size_t n;
	/* the nodes and their strings: one bump allocator for the stream, freed in one go */
	struct mseg_yarena *arena;
	void (*each)(void *userdata, const struct mseg_ynode *doc);
	void *userdata;
};

#define MSEG_YNODE_MAX_DEPTH 64

/*
 * Reads buf. Syntax errors go to diag (file name) and make the result -EINVAL, but the
 * documents that were complete before the error are still returned, so their own errors can
 * be reported too. -ENOMEM on allocation failure. docs must start empty; free it always.
 */
int mseg_ydocs_read(const char *file, const char *buf, size_t len, struct mseg_ydocs *docs,
		    struct mseg_diag *diag);
void mseg_ydocs_free(struct mseg_ydocs *docs);

/* Internal to the readers: memory from the documents' arena (16-byte aligned), NULL on ENOMEM. */
void *mseg_yarena_alloc(struct mseg_yarena **arena, size_t size);
/* The YAML core-schema meaning of a plain scalar (quoted ones are strings). */
enum mseg_yscalar_kind mseg_yscalar_resolve(const char *value);
/*
 * policy/parse_fast.c: the common subset of YAML without libyaml; -EOPNOTSUPP when the text
 * is outside it (or malformed), and then docs may hold partial results: the caller resets it.
 */
int mseg_ydocs_read_fast(const char *buf, size_t len, struct mseg_ydocs *docs);
/* libyaml alone: what mseg_ydocs_read() falls back to (and what tests compare the fast one with). */
int mseg_ydocs_read_libyaml(const char *file, const char *buf, size_t len,
			    struct mseg_ydocs *docs, struct mseg_diag *diag);

/* The value under key in a map, or NULL (also NULL when the value is a null scalar). */
struct mseg_ynode *mseg_ynode_get(const struct mseg_ynode *map, const char *key);
/* "a map", "a list", "a string", "a number", "a boolean", "null". */
const char *mseg_ynode_describe(const struct mseg_ynode *n);
bool mseg_ynode_is_null(const struct mseg_ynode *n);

#endif
