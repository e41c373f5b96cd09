// SPDX-License-Identifier: Apache-2.0
#include "agent/request.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/macro.h"
#include "policy/labels.h"

const char *mseg_op_error_code(int err)
{
	switch (err) {
	case -EINVAL:
	case -ERANGE:
	case -ENAMETOOLONG:
		return MSEG_ERR_INVALID;
	case -ENOENT:
	case -ESRCH:
		return MSEG_ERR_NOT_FOUND;
	case -EEXIST:
		return MSEG_ERR_EXISTS;
	case -ENOSPC:
		return MSEG_ERR_EXHAUSTED;
	case -EPERM:
	case -EACCES:
		return MSEG_ERR_PERMISSION;
	default:
		return MSEG_ERR_INTERNAL;
	}
}

int mseg_op_error_set(struct mseg_op_error *e, int err, const char *code, const char *fmt, ...)
{
	va_list ap;

	if (code)
		e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return err;
}

static json_t *reply_error_v(const char *code, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	return json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
}

json_t *mseg_reply_error(const char *code, const char *fmt, ...)
{
	va_list ap;
	json_t *r;

	va_start(ap, fmt);
	r = reply_error_v(code, fmt, ap);
	va_end(ap);
	return r;
}

json_t *mseg_request_handle(const struct mseg_op *ops, void *ctx, const char *line, size_t len)
{
	struct mseg_op_error e = {0};
	json_t *req, *args, *result = NULL, *reply;
	json_error_t jerr;
	const char *opname;
	const struct mseg_op *op;
	int r;

	req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!req)
		return mseg_reply_error(MSEG_ERR_MALFORMED,
					"request is not valid JSON: column %d: %s", jerr.column,
					jerr.text);
	if (!json_is_object(req)) {
		json_decref(req);
		return mseg_reply_error(MSEG_ERR_MALFORMED, "request must be a JSON object");
	}
	opname = json_string_value(json_object_get(req, "op"));
	if (!opname) {
		json_decref(req);
		return mseg_reply_error(MSEG_ERR_MALFORMED, "request lacks a string \"op\"");
	}
	args = json_object_get(req, "args");
	if (args && !json_is_object(args) && !json_is_null(args)) {
		reply = mseg_reply_error(MSEG_ERR_MALFORMED, "\"args\" of '%s' must be an object",
					 opname);
		json_decref(req);
		return reply;
	}
	for (op = ops; op->name; op++)
		if (!strcmp(op->name, opname))
			break;
	if (!op->name) {
		reply = mseg_reply_error(MSEG_ERR_UNKNOWN_OP, "unknown op '%s'", opname);
		json_decref(req);
		return reply;
	}
	/* Handlers always see an object, so "args" may be left out when there are none. */
	if (!json_is_object(args)) {
		args = json_object();
		json_object_set_new(req, "args", args);
	}
	r = op->fn(ctx, args, &result, &e);
	if (r < 0) {
		json_decref(result);
		if (!e.message[0])
			snprintf(e.message, sizeof(e.message), "%s: %s", opname, strerror(-r));
		reply = mseg_reply_error(e.code ? e.code : mseg_op_error_code(r), "%s", e.message);
	} else {
		reply = json_pack("{s:o}", "result", result ? result : json_null());
	}
	json_decref(req);
	return reply;
}

int mseg_args_string(json_t *args, const char *key, bool required, const char **ret,
		     struct mseg_op_error *e)
{
	json_t *v = json_object_get(args, key);

	if (!v || json_is_null(v)) {
		if (!required)
			return -ENOENT;
		return mseg_op_error_set(e, -EINVAL, NULL, "argument \"%s\" is required", key);
	}
	if (!json_is_string(v))
		return mseg_op_error_set(e, -EINVAL, NULL, "argument \"%s\" must be a string", key);
	*ret = json_string_value(v);
	return 0;
}

int mseg_args_bool(json_t *args, const char *key, bool *ret, struct mseg_op_error *e)
{
	json_t *v = json_object_get(args, key);

	if (!v || json_is_null(v)) {
		*ret = false;
		return 0;
	}
	if (!json_is_boolean(v))
		return mseg_op_error_set(e, -EINVAL, NULL, "argument \"%s\" must be true or false",
					 key);
	*ret = json_is_true(v);
	return 0;
}

int mseg_args_labels(json_t *args, const char *key, struct mseg_labels *ret,
		     struct mseg_op_error *e)
{
	struct mseg_labels l = {0};
	json_t *obj = json_object_get(args, key), *v;
	const char *k, *why;
	int r;

	if (!obj || json_is_null(obj))
		return 0;
	if (!json_is_object(obj))
		return mseg_op_error_set(
		    e, -EINVAL, NULL, "argument \"%s\" must be an object of label keys to values",
		    key);
	json_object_foreach(obj, k, v)
	{
		const char *val = json_string_value(v);

		r = mseg_label_key_check(k, &why);
		if (r < 0) {
			mseg_labels_free(&l);
			return mseg_op_error_set(e, -EINVAL, NULL, "invalid label key '%s': %s", k,
						 why);
		}
		if (!val) {
			mseg_labels_free(&l);
			return mseg_op_error_set(e, -EINVAL, NULL,
						 "label '%s' must have a string value", k);
		}
		r = mseg_label_value_check(val, &why);
		if (r < 0) {
			mseg_labels_free(&l);
			return mseg_op_error_set(
			    e, -EINVAL, NULL, "invalid value '%s' of label '%s': %s", val, k, why);
		}
		r = mseg_labels_set(&l, k, val);
		if (r < 0) {
			mseg_labels_free(&l);
			return r;
		}
	}
	*ret = l;
	return 0;
}

int mseg_args_label_keys(json_t *args, const char *key, const char ***ret, size_t *n,
			 struct mseg_op_error *e)
{
	json_t *arr = json_object_get(args, key), *v;
	_cleanup_free_ const char **keys = NULL;
	const char *why;
	size_t i;

	*n = 0;
	*ret = NULL;
	if (!arr || json_is_null(arr))
		return 0;
	if (!json_is_array(arr))
		return mseg_op_error_set(e, -EINVAL, NULL,
					 "argument \"%s\" must be an array of label keys", key);
	keys = calloc(json_array_size(arr) + 1, sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	json_array_foreach(arr, i, v)
	{
		const char *k = json_string_value(v);

		if (!k)
			return mseg_op_error_set(e, -EINVAL, NULL,
						 "argument \"%s\" must hold strings only", key);
		if (mseg_label_key_check(k, &why) < 0)
			return mseg_op_error_set(e, -EINVAL, NULL, "invalid label key '%s': %s", k,
						 why);
		keys[i] = k;
	}
	*n = json_array_size(arr);
	*ret = TAKE_PTR(keys);
	return 0;
}

json_t *mseg_labels_to_json(const struct mseg_labels *l)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	for (size_t i = 0; i < l->n; i++)
		json_object_set_new(o, l->items[i].key, json_string(l->items[i].value));
	return o;
}
