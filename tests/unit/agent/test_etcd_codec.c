// SPDX-License-Identifier: Apache-2.0
/* agent/etcd_codec.c: base64, range ends, request bodies and gateway answers, without etcd. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/etcd.h"
#include "lib/base64.h"

static void check_b64(const char *plain, size_t len, const char *enc)
{
	char *s = NULL;
	void *back = NULL;
	size_t back_len = 0;

	assert_int_equal(mseg_base64_encode(plain, len, &s), 0);
	assert_string_equal(s, enc);
	assert_int_equal(mseg_base64_decode(enc, &back, &back_len), 0);
	assert_int_equal(back_len, len);
	assert_memory_equal(back, plain, len);
	/* Decoded values come NUL-terminated. */
	assert_int_equal(((char *)back)[len], 0);
	free(s);
	free(back);
}

static void test_base64(void **state)
{
	/* RFC 4648 section 10 vectors. */
	check_b64("", 0, "");
	check_b64("f", 1, "Zg==");
	check_b64("fo", 2, "Zm8=");
	check_b64("foo", 3, "Zm9v");
	check_b64("foob", 4, "Zm9vYg==");
	check_b64("fooba", 5, "Zm9vYmE=");
	check_b64("foobar", 6, "Zm9vYmFy");
	check_b64("\xff\xfe\x00\x01", 4, "//4AAQ==");
	check_b64("/mseg/ids/next", 14, "L21zZWcvaWRzL25leHQ=");
}

static void test_base64_rejects(void **state)
{
	void *out = NULL;
	size_t len;

	assert_int_equal(mseg_base64_decode("Zm9v!", &out, &len), -EINVAL);
	assert_int_equal(mseg_base64_decode("Z", &out, &len), -EINVAL);
	assert_int_equal(mseg_base64_decode("Zg===", &out, &len), -EINVAL);
	assert_int_equal(mseg_base64_decode("Zm 9v", &out, &len), -EINVAL);
	/* Padding is optional (some encoders drop it). */
	assert_int_equal(mseg_base64_decode("Zm8", &out, &len), 0);
	assert_int_equal(len, 2);
	assert_memory_equal(out, "fo", 2);
	free(out);
}

static void test_prefix_end(void **state)
{
	char *end = NULL;
	size_t len;

	assert_int_equal(mseg_etcd_prefix_end("/mseg/", &end, &len), 0);
	assert_int_equal(len, 6);
	assert_memory_equal(end, "/mseg0", 6);
	free(end);
	assert_int_equal(mseg_etcd_prefix_end("a\xff", &end, &len), 0);
	assert_int_equal(len, 1);
	assert_memory_equal(end, "b", 1);
	free(end);
	/* Everything: etcd's "\0". */
	assert_int_equal(mseg_etcd_prefix_end("", &end, &len), 0);
	assert_int_equal(len, 1);
	assert_int_equal(end[0], 0);
	free(end);
}

static char *dump(json_t *o)
{
	char *s;

	assert_non_null(o);
	s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	assert_non_null(s);
	return s;
}

static void expect_json(json_t *o, const char *want)
{
	char *s = dump(o);

	assert_string_equal(s, want);
	free(s);
}

static void test_requests(void **state)
{
	expect_json(mseg_etcd_req_put("/k", "v", 1, 0), "{\"key\":\"L2s=\",\"value\":\"dg==\"}");
	/* Leases and revisions travel as strings: exact beyond 2^53. */
	expect_json(mseg_etcd_req_put("/k", "", 0, 7587827491624357391ll),
		    "{\"key\":\"L2s=\",\"lease\":\"7587827491624357391\",\"value\":\"\"}");
	expect_json(mseg_etcd_req_range("/k", false), "{\"key\":\"L2s=\"}");
	/* "/a/" .. "/a0" */
	expect_json(mseg_etcd_req_range("/a/", true), "{\"key\":\"L2Ev\",\"range_end\":\"L2Ew\"}");
	expect_json(mseg_etcd_req_delete("/a/", true), "{\"key\":\"L2Ev\",\"range_end\":\"L2Ew\"}");
	expect_json(mseg_etcd_req_watch("/a/", 42),
		    "{\"create_request\":{\"key\":\"L2Ev\",\"prev_kv\":false,\"range_end\":"
		    "\"L2Ew\",\"start_revision\":\"42\"}}");
	expect_json(mseg_etcd_req_watch("/a/", 0),
		    "{\"create_request\":{\"key\":\"L2Ev\",\"prev_kv\":false,\"range_end\":"
		    "\"L2Ew\"}}");
}

static void test_request_txn(void **state)
{
	const struct mseg_etcd_cmp cmps[] = {
	    {.key = "/k", .target = MSEG_ETCD_CMP_CREATE, .number = 0},
	    {.key = "/c", .target = MSEG_ETCD_CMP_MOD, .result = MSEG_ETCD_NOT_EQUAL, .number = 7},
	    {.key = "/v", .target = MSEG_ETCD_CMP_VALUE, .value = "x", .value_len = 1},
	};
	const struct mseg_etcd_op ok[] = {
	    {.kind = MSEG_ETCD_OP_PUT, .key = "/k", .value = "1", .value_len = 1, .lease = 5},
	    {.kind = MSEG_ETCD_OP_DELETE, .key = "/d/", .prefix = true},
	};
	const struct mseg_etcd_op bad[] = {
	    {.kind = MSEG_ETCD_OP_GET, .key = "/k"},
	};
	const struct mseg_etcd_op wrong[] = {{.kind = (enum mseg_etcd_op_kind)9, .key = "/k"}};

	expect_json(
	    mseg_etcd_req_txn(cmps, 3, ok, 2, bad, 1),
	    "{\"compare\":["
	    "{\"create_revision\":\"0\",\"key\":\"L2s=\",\"result\":\"EQUAL\","
	    "\"target\":\"CREATE\"},"
	    "{\"key\":\"L2M=\",\"mod_revision\":\"7\",\"result\":\"NOT_EQUAL\","
	    "\"target\":\"MOD\"},"
	    "{\"key\":\"L3Y=\",\"result\":\"EQUAL\",\"target\":\"VALUE\",\"value\":\"eA==\"}],"
	    "\"failure\":[{\"request_range\":{\"key\":\"L2s=\"}}],"
	    "\"success\":[{\"request_put\":{\"key\":\"L2s=\",\"lease\":\"5\",\"value\":"
	    "\"MQ==\"}},{\"request_delete_range\":{\"key\":\"L2Qv\",\"range_end\":"
	    "\"L2Qw\"}}]}");
	/* An op it cannot encode fails the whole request instead of dropping the op. */
	assert_null(mseg_etcd_req_txn(NULL, 0, wrong, 1, NULL, 0));
	expect_json(mseg_etcd_req_txn(NULL, 0, NULL, 0, NULL, 0),
		    "{\"compare\":[],\"failure\":[],\"success\":[]}");
}

static json_t *load(const char *s)
{
	json_t *o = json_loads(s, 0, NULL);

	assert_non_null(o);
	return o;
}

static void test_parse_range(void **state)
{
	/* As etcd 3.4's gateway sends it: int64 as strings, defaults omitted. */
	json_t *o = load("{\"header\":{\"cluster_id\":\"14841639068965178418\",\"revision\":"
			 "\"9007199254740993\",\"raft_term\":\"2\"},\"kvs\":[{\"key\":\"L2E=\","
			 "\"create_revision\":\"3\",\"mod_revision\":\"5\",\"version\":\"2\","
			 "\"value\":\"eA==\",\"lease\":\"7587827491624357391\"},{\"key\":\"L2I=\","
			 "\"create_revision\":\"4\",\"mod_revision\":\"4\",\"version\":\"1\"}],"
			 "\"count\":\"2\"}");
	struct mseg_etcd_range r = {0};

	assert_int_equal(mseg_etcd_parse_range(o, &r), 0);
	assert_int_equal(r.revision, 9007199254740993ll);
	assert_int_equal(r.n_kvs, 2);
	assert_int_equal(r.count, 2);
	assert_false(r.more);
	assert_string_equal(r.kvs[0].key, "/a");
	assert_string_equal(r.kvs[0].value, "x");
	assert_int_equal(r.kvs[0].value_len, 1);
	assert_int_equal(r.kvs[0].create_revision, 3);
	assert_int_equal(r.kvs[0].mod_revision, 5);
	assert_int_equal(r.kvs[0].version, 2);
	assert_int_equal(r.kvs[0].lease, 7587827491624357391ll);
	/* An empty value is omitted by the gateway: it reads as "". */
	assert_string_equal(r.kvs[1].value, "");
	assert_int_equal(r.kvs[1].value_len, 0);
	assert_int_equal(r.kvs[1].lease, 0);
	mseg_etcd_range_clear(&r);
	json_decref(o);

	/* Nothing found: no kvs, no count. */
	o = load("{\"header\":{\"revision\":\"7\"}}");
	assert_int_equal(mseg_etcd_parse_range(o, &r), 0);
	assert_int_equal(r.n_kvs, 0);
	assert_int_equal(r.revision, 7);
	mseg_etcd_range_clear(&r);
	json_decref(o);

	/* Malformed answers are protocol errors, not crashes. */
	o = load("{\"header\":{\"revision\":\"x7\"}}");
	assert_int_equal(mseg_etcd_parse_range(o, &r), -EPROTO);
	json_decref(o);
	o = load("{\"kvs\":[{\"key\":\"!!\"}]}");
	assert_int_equal(mseg_etcd_parse_range(o, &r), -EPROTO);
	json_decref(o);
	o = load("{\"kvs\":{}}");
	assert_int_equal(mseg_etcd_parse_range(o, &r), -EPROTO);
	json_decref(o);
	/* A key with a NUL inside would be cut short by every C string user. */
	o = load("{\"kvs\":[{\"key\":\"YQBi\"}]}");
	assert_int_equal(mseg_etcd_parse_range(o, &r), -EPROTO);
	json_decref(o);
}

static void test_parse_txn(void **state)
{
	json_t *o =
	    load("{\"header\":{\"revision\":\"12\"},\"succeeded\":true,\"responses\":["
		 "{\"response_put\":{\"header\":{\"revision\":\"12\"}}},"
		 "{\"response_range\":{\"header\":{\"revision\":\"12\"},\"kvs\":[{\"key\":"
		 "\"L2s=\",\"value\":\"MQ==\",\"mod_revision\":\"12\"}],\"count\":\"1\"}}]}");
	struct mseg_etcd_txn_result t = {0};

	assert_int_equal(mseg_etcd_parse_txn(o, &t), 0);
	assert_true(t.succeeded);
	assert_int_equal(t.revision, 12);
	assert_int_equal(t.n_ranges, 2);
	assert_int_equal(t.ranges[0].n_kvs, 0);
	assert_int_equal(t.ranges[1].n_kvs, 1);
	assert_string_equal(t.ranges[1].kvs[0].value, "1");
	mseg_etcd_txn_result_clear(&t);
	json_decref(o);

	/* "succeeded": false is omitted. */
	o = load("{\"header\":{\"revision\":\"13\"},\"responses\":[{\"response_range\":"
		 "{\"header\":{\"revision\":\"13\"}}}]}");
	assert_int_equal(mseg_etcd_parse_txn(o, &t), 0);
	assert_false(t.succeeded);
	assert_int_equal(t.n_ranges, 1);
	mseg_etcd_txn_result_clear(&t);
	json_decref(o);
}

static void test_parse_error(void **state)
{
	const char *msg = NULL;
	json_t *o;

	o = load("{\"error\":\"etcdserver: requested lease not found\",\"code\":5,\"message\":"
		 "\"etcdserver: requested lease not found\"}");
	assert_int_equal(mseg_etcd_parse_error(o, &msg), -ENOENT);
	assert_string_equal(msg, "etcdserver: requested lease not found");
	json_decref(o);
	o = load("{\"error\":\"mvcc: required revision has been compacted\",\"code\":11}");
	assert_int_equal(mseg_etcd_parse_error(o, &msg), -ERANGE);
	assert_string_equal(msg, "mvcc: required revision has been compacted");
	json_decref(o);
	o = load("{\"error\":{\"grpc_code\":14,\"http_code\":503,\"message\":\"no leader\","
		 "\"code\":14}}");
	assert_int_equal(mseg_etcd_parse_error(o, &msg), -EAGAIN);
	assert_string_equal(msg, "no leader");
	json_decref(o);
	o = load("{\"header\":{}}");
	assert_int_equal(mseg_etcd_parse_error(o, &msg), 0);
	json_decref(o);
}

static void test_parse_watch_lines(void **state)
{
	struct mseg_etcd_watch_msg m = {0};
	const char *created = "{\"result\":{\"header\":{\"revision\":\"6\"},\"created\":true}}";
	const char *events =
	    "{\"result\":{\"header\":{\"revision\":\"8\"},\"events\":[{\"kv\":{\"key\":"
	    "\"L3cvYQ==\",\"create_revision\":\"7\",\"mod_revision\":\"7\",\"version\":\"1\","
	    "\"value\":\"MQ==\"}},{\"type\":\"DELETE\",\"kv\":{\"key\":\"L3cvYQ==\","
	    "\"mod_revision\":\"8\"}}]}}";
	const char *compacted = "{\"result\":{\"header\":{\"revision\":\"10\"},\"compact_revision\""
				":\"10\",\"canceled\":true}}";
	const char *bad_type = "{\"result\":{\"events\":[{\"type\":\"MOVE\",\"kv\":{\"key\":"
			       "\"L3c=\"}}]}}";

	assert_int_equal(mseg_etcd_parse_watch_line(created, strlen(created), &m), 0);
	assert_true(m.created);
	assert_false(m.canceled);
	assert_int_equal(m.header_revision, 6);
	assert_int_equal(m.n_events, 0);
	mseg_etcd_watch_msg_clear(&m);

	assert_int_equal(mseg_etcd_parse_watch_line(events, strlen(events), &m), 0);
	assert_int_equal(m.n_events, 2);
	/* PUT is the zero value: no "type" field. */
	assert_false(m.deleted[0]);
	assert_string_equal(m.kvs[0].key, "/w/a");
	assert_string_equal(m.kvs[0].value, "1");
	assert_int_equal(m.kvs[0].mod_revision, 7);
	assert_true(m.deleted[1]);
	assert_int_equal(m.kvs[1].mod_revision, 8);
	mseg_etcd_watch_msg_clear(&m);

	assert_int_equal(mseg_etcd_parse_watch_line(compacted, strlen(compacted), &m), 0);
	assert_true(m.canceled);
	assert_int_equal(m.compact_revision, 10);
	mseg_etcd_watch_msg_clear(&m);

	assert_int_equal(mseg_etcd_parse_watch_line(bad_type, strlen(bad_type), &m), -EPROTO);
	assert_int_equal(mseg_etcd_parse_watch_line("{\"res", 5, &m), -EPROTO);
	assert_int_equal(mseg_etcd_parse_watch_line("[]", 2, &m), -EPROTO);

	const char *err = "{\"error\":{\"grpc_code\":14,\"message\":\"unavailable\",\"code\":14}}";
	assert_int_equal(mseg_etcd_parse_watch_line(err, strlen(err), &m), -EAGAIN);
	assert_true(m.canceled);
	assert_string_equal(m.cancel_reason, "unavailable");
	mseg_etcd_watch_msg_clear(&m);
}

static void test_json_int64(void **state)
{
	json_t *o = load("{\"a\":\"-5\",\"b\":12,\"c\":\"\",\"d\":true,\"e\":null}");
	int64_t v = 99;

	assert_int_equal(mseg_etcd_json_int64(o, "a", &v), 0);
	assert_int_equal(v, -5);
	assert_int_equal(mseg_etcd_json_int64(o, "b", &v), 0);
	assert_int_equal(v, 12);
	assert_int_equal(mseg_etcd_json_int64(o, "c", &v), -EPROTO);
	assert_int_equal(mseg_etcd_json_int64(o, "d", &v), -EPROTO);
	assert_int_equal(mseg_etcd_json_int64(o, "e", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(mseg_etcd_json_int64(o, "absent", &v), 0);
	assert_int_equal(v, 0);
	json_decref(o);
}

static void test_client_endpoints(void **state)
{
	struct mseg_etcd *e = NULL;

	assert_int_equal(mseg_etcd_new(&e, "", 0), -EINVAL);
	assert_int_equal(mseg_etcd_new(&e, "10.0.0.1:2379", 0), -EINVAL);
	assert_int_equal(mseg_etcd_new(&e, "ftp://x", 0), -EINVAL);
	assert_null(e);
	assert_int_equal(mseg_etcd_new(&e, " http://a:2379/ , https://b:2379", 0), 0);
	assert_string_equal(mseg_etcd_endpoint(e), "http://a:2379");
	assert_string_equal(mseg_etcd_last_error(e), "");
	mseg_etcd_free(e);
	mseg_etcd_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_base64),
	    cmocka_unit_test(test_base64_rejects),
	    cmocka_unit_test(test_prefix_end),
	    cmocka_unit_test(test_requests),
	    cmocka_unit_test(test_request_txn),
	    cmocka_unit_test(test_parse_range),
	    cmocka_unit_test(test_parse_txn),
	    cmocka_unit_test(test_parse_error),
	    cmocka_unit_test(test_parse_watch_lines),
	    cmocka_unit_test(test_json_int64),
	    cmocka_unit_test(test_client_endpoints),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
