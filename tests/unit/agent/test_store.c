// SPDX-License-Identifier: Apache-2.0
/* agent/store.c and agent/state.c: atomic JSON files, and corrupt state reported by path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/state.h"
#include "agent/store.h"
#include "policy/cidr.h"
#include "policy/labels.h"

static int dir_setup(void **state)
{
	char *dir = strdup("/tmp/mseg-test-store.XXXXXX");

	assert_non_null(mkdtemp(dir));
	*state = dir;
	return 0;
}

static int dir_teardown(void **state)
{
	char *dir = *state, path[4096];
	struct dirent *d;
	DIR *dp = opendir(dir);

	while (dp && (d = readdir(dp)))
		if (strcmp(d->d_name, ".") && strcmp(d->d_name, "..")) {
			snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
			unlink(path);
		}
	if (dp)
		closedir(dp);
	rmdir(dir);
	free(dir);
	return 0;
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_write_read_round_trip(void **state)
{
	const char *dir = *state;
	char why[MSEG_STORE_WHY_LEN] = "", path[4096];
	json_t *doc = json_pack("{s:i,s:[s]}", "version", 1, "list", "a"), *back = NULL;
	struct stat st;
	DIR *dp;
	struct dirent *d;
	int files = 0;

	assert_int_equal(mseg_store_write_json(dir, "x.json", doc), 0);
	assert_int_equal(mseg_store_read_json(dir, "x.json", &back, why), 0);
	assert_true(json_equal(doc, back));
	json_decref(back);

	/* Replacing keeps exactly one file, private to root, and no temp file behind. */
	json_object_set_new(doc, "version", json_integer(2));
	assert_int_equal(mseg_store_write_json(dir, "x.json", doc), 0);
	assert_int_equal(mseg_store_read_json(dir, "x.json", &back, why), 0);
	assert_int_equal(json_integer_value(json_object_get(back, "version")), 2);
	json_decref(back);
	json_decref(doc);
	snprintf(path, sizeof(path), "%s/x.json", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	dp = opendir(dir);
	while ((d = readdir(dp)))
		if (strcmp(d->d_name, ".") && strcmp(d->d_name, ".."))
			files++;
	closedir(dp);
	assert_int_equal(files, 1);
}

static void test_missing_file_is_enoent(void **state)
{
	char why[MSEG_STORE_WHY_LEN] = "";
	json_t *doc = NULL;

	assert_int_equal(mseg_store_read_json(*state, "absent.json", &doc, why), -ENOENT);
	assert_null(doc);
}

static void expect_bad(const char *dir, const char *text, const char *needle)
{
	char why[MSEG_STORE_WHY_LEN] = "", path[4096];
	json_t *doc = NULL;

	write_file(dir, "bad.json", text);
	assert_int_equal(mseg_store_read_json(dir, "bad.json", &doc, why), -EBADMSG);
	assert_null(doc);
	snprintf(path, sizeof(path), "%s/bad.json: ", dir);
	/* The message starts with the path, then says what is wrong. */
	assert_memory_equal(why, path, strlen(path));
	assert_non_null(strstr(why, needle));
}

static void test_corrupt_files_reported_with_path(void **state)
{
	char path[4096];
	FILE *f;
	char buf[64];

	expect_bad(*state, "{\"version\": 1, \"list\": [", "line 1");
	expect_bad(*state, "", "empty file");
	expect_bad(*state, "[1, 2]", "not a JSON object");
	expect_bad(*state, "{\"a\": 1, \"a\": 2}", "duplicate");
	/* and the file is left exactly as it was */
	snprintf(path, sizeof(path), "%s/bad.json", (char *)*state);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "{\"a\": 1, \"a\": 2}");
}

static void test_state_round_trip(void **state)
{
	const char *dir = *state, *why;
	char err[MSEG_STORE_WHY_LEN] = "";
	struct mseg_state *s = NULL, *back = NULL;
	struct mseg_labels l = {0};
	struct mseg_agent_endpoint *ep = calloc(1, sizeof(*ep)), *got;

	assert_int_equal(mseg_state_load(dir, &s, err), 0);
	assert_int_equal(s->n_namespaces, 0);
	assert_int_equal(s->next_endpoint_id, 1);
	assert_int_equal(mseg_labels_set(&l, "env", "prod"), 0);
	assert_int_equal(mseg_state_namespace_add(s, "prod", &l, NULL), 0);

	ep->ep.id = s->next_endpoint_id++;
	ep->ep.namespace = strdup("prod");
	ep->ep.name = strdup("web");
	ep->netns = strdup("mseg-prod_web");
	ep->command = strdup("sleep 1");
	strcpy(ep->ifname, "mseg00000001");
	ep->pid = 42;
	ep->state = MSEG_EP_READY;
	assert_int_equal(mseg_labels_set(&ep->ep.labels, "app", "web"), 0);
	assert_int_equal(mseg_cidr_parse("10.200.0.7", false, &ep->ep.ip, &why), 0);
	ep->ep.ports = calloc(1, sizeof(*ep->ep.ports));
	ep->ep.ports[0] = (struct mseg_named_port){strdup("http"), 80, MSEG_PROTO_TCP};
	ep->ep.n_ports = 1;
	ep->host_mac[5] = 0xab;
	assert_int_equal(mseg_state_endpoint_add(s, ep), 0);
	assert_int_equal(mseg_state_save_namespaces(s), 0);
	assert_int_equal(mseg_state_save_endpoints(s), 0);

	assert_int_equal(mseg_state_load(dir, &back, err), 0);
	assert_int_equal(back->n_namespaces, 1);
	assert_string_equal(mseg_labels_get(&back->namespaces[0].labels, "env"), "prod");
	assert_string_equal(mseg_labels_get(&back->namespaces[0].labels, MSEG_NAMESPACE_NAME_LABEL),
			    "prod");
	assert_int_equal(back->next_endpoint_id, 2);
	got = mseg_state_endpoint_find(back, "prod", "web");
	assert_non_null(got);
	{
		json_t *a = mseg_agent_endpoint_to_json(got), *b = mseg_agent_endpoint_to_json(ep);

		assert_true(json_equal(a, b));
		json_decref(a);
		json_decref(b);
	}
	assert_int_equal(got->ep.ports[0].port, 80);
	assert_int_equal(got->pid, 42);
	mseg_state_free(back);
	mseg_state_free(s);
}

static void expect_state_bad(const char *dir, const char *endpoints, const char *needle)
{
	char why[MSEG_STORE_WHY_LEN] = "", path[4096];
	struct mseg_state *s = NULL;

	write_file(dir, "namespaces.json",
		   "{\"version\":1,\"namespaces\":[{\"name\":\"prod\",\"labels\":{}}]}");
	write_file(dir, "endpoints.json", endpoints);
	assert_int_equal(mseg_state_load(dir, &s, why), -EBADMSG);
	assert_null(s);
	snprintf(path, sizeof(path), "%s/endpoints.json: ", dir);
	assert_memory_equal(why, path, strlen(path));
	if (!strstr(why, needle))
		fail_msg("'%s' lacks '%s'", why, needle);
}

#define EP(fields)                                                                                 \
	"{\"version\":1,\"next_id\":5,\"endpoints\":[{\"id\":1,\"namespace\":\"prod\","            \
	"\"name\":\"web\",\"labels\":{},\"ports\":[],\"state\":\"ready\",\"netns\":\"n\","         \
	"\"interface\":\"mseg00000001\",\"ifindex\":3,\"host_mac\":\"00:00:00:00:00:01\","         \
	"\"container_mac\":\"02:00:0a:c8:00:07\",\"pid\":0" fields "}]}"

static void test_state_inconsistencies_reported(void **state)
{
	const char *dir = *state;

	/* the base record is valid */
	{
		char why[MSEG_STORE_WHY_LEN] = "";
		struct mseg_state *s = NULL;

		write_file(dir, "namespaces.json",
			   "{\"version\":1,\"namespaces\":[{\"name\":\"prod\",\"labels\":{}}]}");
		write_file(dir, "endpoints.json", EP(",\"ip\":\"10.200.0.7\""));
		assert_int_equal(mseg_state_load(dir, &s, why), 0);
		mseg_state_free(s);
	}
	expect_state_bad(dir, EP(",\"ip\":\"10.200.0.999\""), "endpoints[0].ip: '10.200.0.999'");
	expect_state_bad(dir, EP(",\"ip\":\"10.200.0.7\",\"x\":1}, {\"y\":2"), "endpoints[1]");
	expect_state_bad(dir, "{\"version\":1,\"next_id\":1,\"endpoints\":[]}x", "line 1");
	expect_state_bad(dir, "{\"version\":9,\"next_id\":1,\"endpoints\":[]}",
			 "unsupported version 9");
	expect_state_bad(dir,
			 "{\"version\":1,\"next_id\":1,\"endpoints\":[{\"id\":3,"
			 "\"namespace\":\"dev\"}]}",
			 "endpoints[0]");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_write_read_round_trip, dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(test_missing_file_is_enoent, dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_files_reported_with_path, dir_setup,
					    dir_teardown),
	    cmocka_unit_test_setup_teardown(test_state_round_trip, dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(test_state_inconsistencies_reported, dir_setup,
					    dir_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
