/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The control protocol, independent of the socket: one request per line,
 *   {"op": "namespace.create", "args": {...}}
 * answered by one line, either {"result": ...} or
 *   {"error": {"code": "invalid-argument", "message": "..."}}.
 * Ops are looked up in a table (agent/ops.c), so adding one is adding a line there. Handlers
 * return 0 or a negative errno; the errno picks the error code unless the handler names one.
 */
#ifndef MSEG_AGENT_REQUEST_H
#define MSEG_AGENT_REQUEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "policy/model.h"

#define MSEG_ERR_INVALID "invalid-argument"
#define MSEG_ERR_NOT_FOUND "not-found"
#define MSEG_ERR_EXISTS "already-exists"
#define MSEG_ERR_EXHAUSTED "exhausted"
#define MSEG_ERR_PERMISSION "permission-denied"
#define MSEG_ERR_UNKNOWN_OP "unknown-op"
#define MSEG_ERR_MALFORMED "malformed-request"
#define MSEG_ERR_TOO_LARGE "request-too-large"
#define MSEG_ERR_INTERNAL "internal"

struct mseg_op_error {
	const char *code; /* NULL: derived from the handler's errno */
	char message[512];
};

/* Sets the message (and, when code is non-NULL, the code); returns err for `return ...`. */
int mseg_op_error_set(struct mseg_op_error *e, int err, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The wire code for a negative errno: EINVAL invalid-argument, ENOENT not-found, ... */
const char *mseg_op_error_code(int err);

/* *result: a new reference (NULL means JSON null). ctx is the table owner's (the agent). */
typedef int (*mseg_op_fn)(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e);

struct mseg_op {
	const char *name;
	mseg_op_fn fn;
};

/*
 * Parses one request line (without its newline), runs the op from ops (terminated by a NULL
 * name) and returns the reply object (new reference; NULL only when out of memory). Malformed
 * JSON, a missing or non-string op, non-object args and unknown ops get error replies.
 */
json_t *mseg_request_handle(const struct mseg_op *ops, void *ctx, const char *line, size_t len);
json_t *mseg_reply_error(const char *code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- argument helpers for handlers: each sets e (naming the argument) on bad input ---- */

/* args[key] as a string; absent: -ENOENT without message when !required, else -EINVAL. */
int mseg_args_string(json_t *args, const char *key, bool required, const char **ret,
		     struct mseg_op_error *e);
int mseg_args_bool(json_t *args, const char *key, bool *ret, struct mseg_op_error *e);
/*
 * args[key], an object of label key -> value strings, each checked by the Kubernetes rules
 * (policy/labels.h), into ret (which must start empty; left empty on failure). Absent: empty.
 */
int mseg_args_labels(json_t *args, const char *key, struct mseg_labels *ret,
		     struct mseg_op_error *e);
/* args[key], an array of label keys to remove (each checked); absent: n = 0. */
int mseg_args_label_keys(json_t *args, const char *key, const char ***ret, size_t *n,
			 struct mseg_op_error *e);
/* Labels as a JSON object (new reference). */
json_t *mseg_labels_to_json(const struct mseg_labels *l);

#endif
