// SPDX-License-Identifier: Apache-2.0
/* agent/request.c and agent/ports.c: parsing, dispatch and error replies of the protocol. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "agent/ports.h"
#include "agent/request.h"
#include "policy/labels.h"

struct calls {
	int n;
	json_t *last_args;
};

static int op_echo(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e)
{
	struct calls *c = ctx;

	c->n++;
	json_decref(c->last_args);
	c->last_args = json_incref(args);
	*result = json_pack("{s:O}", "echo", args);
	return 0;
}

static int op_missing(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e)
{
	const char *name;
	int r = mseg_args_string(args, "name", true, &name, e);

	if (r < 0)
		return r;
	return mseg_op_error_set(e, -ENOENT, NULL, "no endpoint '%s'", name);
}

static int op_bare_errno(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e)
{
	return -ENOSPC;
}

static int op_labels(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e)
{
	struct mseg_labels l = {0};
	int r = mseg_args_labels(args, "labels", &l, e);

	if (r < 0)
		return r;
	*result = mseg_labels_to_json(&l);
	mseg_labels_free(&l);
	return 0;
}

static const struct mseg_op ops[] = {
    {"echo", op_echo}, {"missing", op_missing}, {"bare", op_bare_errno}, {"labels", op_labels},
    {NULL, NULL},
};

static json_t *handle(struct calls *c, const char *line)
{
	json_t *reply = mseg_request_handle(ops, c, line, strlen(line));

	assert_non_null(reply);
	return reply;
}

/* Asserts an error reply with code and a message containing needle; frees the reply. */
static void expect_error(json_t *reply, const char *code, const char *needle)
{
	json_t *err = json_object_get(reply, "error");
	const char *msg = json_string_value(json_object_get(err, "message"));

	assert_non_null(err);
	assert_null(json_object_get(reply, "result"));
	assert_string_equal(json_string_value(json_object_get(err, "code")), code);
	assert_non_null(msg);
	if (!strstr(msg, needle))
		fail_msg("message '%s' lacks '%s'", msg, needle);
	json_decref(reply);
}

static void test_malformed_requests(void **state)
{
	struct calls c = {0};

	expect_error(handle(&c, "not json"), MSEG_ERR_MALFORMED, "not valid JSON");
	expect_error(handle(&c, "{\"op\": \"echo\""), MSEG_ERR_MALFORMED, "not valid JSON");
	expect_error(handle(&c, "[\"echo\"]"), MSEG_ERR_MALFORMED, "JSON object");
	expect_error(handle(&c, "{}"), MSEG_ERR_MALFORMED, "\"op\"");
	expect_error(handle(&c, "{\"op\": 7}"), MSEG_ERR_MALFORMED, "\"op\"");
	expect_error(handle(&c, "{\"op\": \"echo\", \"args\": [1]}"), MSEG_ERR_MALFORMED,
		     "must be an object");
	expect_error(handle(&c, "{\"op\": \"echo\"} trailing"), MSEG_ERR_MALFORMED,
		     "not valid JSON");
	/* An embedded NUL ends the line for JSON: rejected, not truncated silently. */
	{
		const char line[] = "{\"op\":\"echo\"}\0{\"op\":\"echo\"}";
		json_t *reply = mseg_request_handle(ops, &c, line, sizeof(line) - 1);

		expect_error(reply, MSEG_ERR_MALFORMED, "not valid JSON");
	}
	assert_int_equal(c.n, 0);
}

static void test_unknown_op_named(void **state)
{
	struct calls c = {0};

	expect_error(handle(&c, "{\"op\": \"policy.apply\"}"), MSEG_ERR_UNKNOWN_OP,
		     "'policy.apply'");
	assert_int_equal(c.n, 0);
}

static void test_dispatch_and_result(void **state)
{
	struct calls c = {0};
	json_t *reply;

	reply = handle(&c, "{\"op\": \"echo\", \"args\": {\"x\": 1}}");
	assert_null(json_object_get(reply, "error"));
	assert_int_equal(json_integer_value(json_object_get(
			     json_object_get(json_object_get(reply, "result"), "echo"), "x")),
			 1);
	json_decref(reply);
	/* absent or null args: the handler still gets an (empty) object */
	reply = handle(&c, "{\"op\": \"echo\"}");
	assert_true(json_is_object(c.last_args));
	assert_int_equal(json_object_size(c.last_args), 0);
	json_decref(reply);
	reply = handle(&c, "{\"op\": \"echo\", \"args\": null}");
	assert_true(json_is_object(c.last_args));
	json_decref(reply);
	assert_int_equal(c.n, 3);
	json_decref(c.last_args);
}

static void test_handler_errors(void **state)
{
	struct calls c = {0};

	expect_error(handle(&c, "{\"op\": \"missing\", \"args\": {\"name\": \"web\"}}"),
		     MSEG_ERR_NOT_FOUND, "no endpoint 'web'");
	expect_error(handle(&c, "{\"op\": \"missing\"}"), MSEG_ERR_INVALID,
		     "argument \"name\" is required");
	expect_error(handle(&c, "{\"op\": \"missing\", \"args\": {\"name\": 3}}"), MSEG_ERR_INVALID,
		     "must be a string");
	/* no message from the handler: the op name and strerror */
	expect_error(handle(&c, "{\"op\": \"bare\"}"), MSEG_ERR_EXHAUSTED, "bare: ");
}

static void test_label_arguments_checked(void **state)
{
	struct calls c = {0};
	json_t *reply;

	reply = handle(&c, "{\"op\": \"labels\", \"args\": {\"labels\": "
			   "{\"b\": \"2\", \"a\": \"1\", \"example.com/tier\": \"\"}}}");
	assert_string_equal(json_string_value(json_object_get(json_object_get(reply, "result"),
							      "example.com/tier")),
			    "");
	json_decref(reply);
	expect_error(
	    handle(&c, "{\"op\": \"labels\", \"args\": {\"labels\": {\"bad key\": \"x\"}}}"),
	    MSEG_ERR_INVALID, "invalid label key 'bad key'");
	expect_error(handle(&c, "{\"op\": \"labels\", \"args\": {\"labels\": {\"k\": \"-x\"}}}"),
		     MSEG_ERR_INVALID, "invalid value '-x' of label 'k'");
	expect_error(handle(&c, "{\"op\": \"labels\", \"args\": {\"labels\": {\"k\": 1}}}"),
		     MSEG_ERR_INVALID, "string value");
	expect_error(handle(&c, "{\"op\": \"labels\", \"args\": {\"labels\": [\"k=v\"]}}"),
		     MSEG_ERR_INVALID, "must be an object");
}

static void test_errno_codes(void **state)
{
	assert_string_equal(mseg_op_error_code(-EINVAL), MSEG_ERR_INVALID);
	assert_string_equal(mseg_op_error_code(-ENOENT), MSEG_ERR_NOT_FOUND);
	assert_string_equal(mseg_op_error_code(-EEXIST), MSEG_ERR_EXISTS);
	assert_string_equal(mseg_op_error_code(-ENOSPC), MSEG_ERR_EXHAUSTED);
	assert_string_equal(mseg_op_error_code(-EPERM), MSEG_ERR_PERMISSION);
	assert_string_equal(mseg_op_error_code(-EIO), MSEG_ERR_INTERNAL);
}

static void expect_port_bad(const char *json, const char *needle)
{
	struct mseg_named_port p = {0};
	json_t *o = json_loads(json, 0, NULL);
	char msg[256] = "";

	assert_non_null(o);
	assert_int_equal(mseg_port_from_json(o, &p, msg, sizeof(msg)), -EINVAL);
	if (!strstr(msg, needle))
		fail_msg("'%s' lacks '%s'", msg, needle);
	assert_null(p.name);
	json_decref(o);
}

static void test_ports(void **state)
{
	struct mseg_named_port p = {0};
	json_t *o = json_pack("{s:s,s:i,s:s}", "name", "dns", "port", 53, "protocol", "udp");
	char msg[256];
	const char *why;

	assert_int_equal(mseg_port_from_json(o, &p, msg, sizeof(msg)), 0);
	assert_string_equal(p.name, "dns");
	assert_int_equal(p.port, 53);
	assert_int_equal(p.proto, MSEG_PROTO_UDP);
	free(p.name);
	json_decref(o);

	assert_int_equal(mseg_port_name_check("http-alt", &why), 0);
	assert_int_equal(mseg_port_name_check("a23456789012345", &why), 0);
	assert_int_equal(mseg_port_name_check("a234567890123456", &why), -EINVAL);
	assert_int_equal(mseg_port_name_check("8080", &why), -EINVAL);
	assert_int_equal(mseg_port_name_check("-http", &why), -EINVAL);
	assert_int_equal(mseg_port_name_check("ht--tp", &why), -EINVAL);
	assert_int_equal(mseg_port_name_check("HTTP", &why), -EINVAL);
	expect_port_bad("{\"name\": \"http\", \"port\": 0}", "invalid port number 0");
	expect_port_bad("{\"name\": \"http\", \"port\": 65536}", "65536");
	expect_port_bad("{\"name\": \"http\", \"port\": \"80\"}", "invalid port number");
	expect_port_bad("{\"name\": \"Http\", \"port\": 80}", "'Http'");
	expect_port_bad("{\"name\": \"http\", \"port\": 80, \"protocol\": \"ICMP\"}", "'ICMP'");
	expect_port_bad("{\"port\": 80}", "needs a name");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_malformed_requests),
	    cmocka_unit_test(test_unknown_op_named),
	    cmocka_unit_test(test_dispatch_and_result),
	    cmocka_unit_test(test_handler_errors),
	    cmocka_unit_test(test_label_arguments_checked),
	    cmocka_unit_test(test_errno_codes),
	    cmocka_unit_test(test_ports),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
