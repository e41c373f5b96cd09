// SPDX-License-Identifier: Apache-2.0
/* Errors: located messages, every error reported, all-or-nothing, loading paths, garbage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/parse.h"

static const char valid_doc[] =
    "apiVersion: networking.k8s.io/v1\n"
    "kind: NetworkPolicy\n"
    "metadata: {name: ok, namespace: x}\n"
    "spec:\n"
    "  podSelector: {matchLabels: {pod: a}}\n"
    "  ingress:\n"
    "    - from:\n"
    "        - namespaceSelector: {matchLabels: {ns: y}}\n"
    "          podSelector:\n"
    "            matchExpressions:\n"
    "              - {key: pod, operator: In, values: [b, c]}\n"
    "        - ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}\n"
    "      ports:\n"
    "        - {protocol: UDP, port: 80, endPort: 90}\n"
    "        - port: serve-80-tcp\n"
    "  egress: [{to: [{podSelector: {}}], ports: [{protocol: SCTP}]}]\n";

/* Parses text and returns the formatted diagnostics joined by '\n' (malloc'd). */
static char *parse_errors(const char *text, size_t len, struct mseg_policy_set *set, int *ret)
{
	struct mseg_diag diag = {0};
	char *out = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&out, &size);

	assert_non_null(f);
	*ret = mseg_policy_parse_buffer("e.yaml", text, len, set, &diag);
	for (size_t i = 0; i < diag.n; i++) {
		char *s = mseg_diag_entry_format(&diag.items[i]);

		fprintf(f, "%s\n", s);
		free(s);
	}
	fclose(f);
	mseg_diag_free(&diag);
	return out;
}

static void expect_error(const char *text, const char *expected_line)
{
	struct mseg_policy_set set = {0};
	char *out;
	int r;

	out = parse_errors(text, strlen(text), &set, &r);
	if (!strstr(out, expected_line))
		print_error("expected \"%s\" in:\n%s", expected_line, out);
	assert_int_equal(r, -EINVAL);
	assert_non_null(strstr(out, expected_line));
	assert_int_equal(set.n_policies, 0);
	assert_null(set.policies);
	free(out);
}

static void test_messages_are_located(void **state)
{
	expect_error(
	    "apiVersion: networking.k8s.io/v1\n"
	    "kind: NetworkPolicy\n"
	    "metadata: {name: web}\n"
	    "spec:\n"
	    "  podSelector: {}\n"
	    "  ingress:\n"
	    "    - ports:\n"
	    "        - port: 80\n"
	    "        - port: 80\n"
	    "          endPort: 70000\n",
	    "e.yaml:10:20: spec.ingress[0].ports[1].endPort: 70000 is out of range 1-65535\n");
	expect_error("apiVersion: networking.k8s.io/v1\n"
		     "kind: NetworkPolicy\n"
		     "metadata: {name: web}\n"
		     "spec:\n"
		     "  podSelector: {}\n"
		     "  ingress:\n"
		     "    - form: []\n",
		     "e.yaml:7:7: spec.ingress[0].form: unknown field \"form\", did you mean "
		     "\"from\"?\n");
	expect_error("apiVersion: networking.k8s.io/v1\n"
		     "kind: NetworkPolicy\n"
		     "metadata: {name: web}\n"
		     "spec:\n"
		     "  ingress: []\n",
		     "e.yaml:5:3: spec.podSelector: required field is missing");
	expect_error("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
		     "metadata: {name: Web}\nspec: {podSelector: {}}\n",
		     "e.yaml:3:18: metadata.name: \"Web\" is not a valid name");
	expect_error("apiVersion: mseg.io/v1\nkind: ClusterPolicy\n"
		     "metadata: {name: c}\nspec: {tier: baseline, priority: 5, ingress: "
		     "[{action: pass}]}\n",
		     "spec.ingress[0].action: \"pass\" is only allowed in tier admin");
	expect_error("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
		     "metadata: {name: a}\nspec:\n  podSelector:\n    matchLabels: {app: 1}\n",
		     "e.yaml:6:24: spec.podSelector.matchLabels.app: expected a string, got a "
		     "number (quote it: \"1\")");
}

static void test_every_error_is_reported_in_order(void **state)
{
	static const char doc[] = "apiVersion: networking.k8s.io/v1\n"
				  "kind: NetworkPolicy\n"
				  "metadata: {name: a, namespace: -bad}\n"
				  "spec:\n"
				  "  podSelector: {matchLabels: {\"a b\": x}}\n"
				  "  policyTypes: [Ingres]\n"
				  "  ingress:\n"
				  "    - from: [{}]\n"
				  "      ports: [{protocol: tcp}, {port: 0}, {port: x--y}]\n"
				  "---\n"
				  "apiVersion: networking.k8s.io/v2\n"
				  "kind: NetworkPolicy\n";
	struct mseg_policy_set set = {0};
	char *out;
	int r;

	out = parse_errors(doc, strlen(doc), &set, &r);
	assert_int_equal(r, -EINVAL);
	assert_string_equal(
	    out,
	    "e.yaml:3:32: metadata.namespace: \"-bad\" is not a valid namespace name: must "
	    "start and end with a lower case alphanumeric character\n"
	    "e.yaml:5:31: spec.podSelector.matchLabels: \"a b\" is not a valid label key: must "
	    "consist of alphanumeric characters, '-', '_' or '.'\n"
	    "e.yaml:6:17: spec.policyTypes[0]: \"Ingres\" is not valid, expected Ingress or "
	    "Egress\n"
	    "e.yaml:8:14: spec.ingress[0].from[0]: a peer needs podSelector, namespaceSelector "
	    "or ipBlock\n"
	    "e.yaml:9:26: spec.ingress[0].ports[0].protocol: \"tcp\" is not valid, expected TCP, "
	    "UDP or SCTP\n"
	    "e.yaml:9:39: spec.ingress[0].ports[1].port: 0 is out of range 1-65535\n"
	    "e.yaml:9:50: spec.ingress[0].ports[2].port: \"x--y\" is not a valid port name: a "
	    "port name must not contain \"--\"\n"
	    "e.yaml:11:13: apiVersion: \"networking.k8s.io/v2\" is not valid, expected "
	    "networking.k8s.io/v1 or mseg.io/v1\n");
	free(out);
	mseg_policy_set_free(&set);
}

static void test_all_or_nothing(void **state)
{
	static const char good_then_bad[] =
	    "apiVersion: networking.k8s.io/v1\n"
	    "kind: NetworkPolicy\n"
	    "metadata: {name: good}\n"
	    "spec: {podSelector: {}}\n"
	    "---\n"
	    "apiVersion: networking.k8s.io/v1\n"
	    "kind: NetworkPolicy\n"
	    "metadata: {name: bad}\n"
	    "spec: {podSelector: {}, egress: [{to: [{ipBlock: {}}]}]}\n";
	struct mseg_policy_set set = {0};
	struct mseg_policy *before;
	char *out;
	int r;

	/* a set that already holds one policy stays exactly as it was */
	out = parse_errors(valid_doc, strlen(valid_doc), &set, &r);
	assert_int_equal(r, 0);
	assert_string_equal(out, "");
	free(out);
	assert_int_equal(set.n_policies, 1);
	before = set.policies;
	out = parse_errors(good_then_bad, strlen(good_then_bad), &set, &r);
	assert_int_equal(r, -EINVAL);
	assert_non_null(strstr(out, "e.yaml:9:50: spec.egress[0].to[0].ipBlock.cidr: required"));
	free(out);
	assert_int_equal(set.n_policies, 1);
	assert_ptr_equal(set.policies, before);
	assert_string_equal(set.policies[0].name, "ok");
	/* the same name again is a duplicate of what the set holds */
	out = parse_errors(valid_doc, strlen(valid_doc), &set, &r);
	assert_int_equal(r, -EINVAL);
	assert_non_null(strstr(out, "e.yaml:3:18: metadata.name: duplicate NetworkPolicy \"x/ok\", "
				    "already defined at e.yaml:1"));
	free(out);
	assert_int_equal(set.n_policies, 1);
	mseg_policy_set_free(&set);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_load_paths(void **state)
{
	char dir[] = "/tmp/mseg-parse-XXXXXX";
	char a[128], b[128], c[128], sub[128], bad[128];
	char *paths[2];
	struct mseg_policy_set set = {0};
	struct mseg_diag diag = {0};
	char *s;

	assert_non_null(mkdtemp(dir));
	snprintf(a, sizeof(a), "%s/b.yaml", dir);
	snprintf(b, sizeof(b), "%s/a.json", dir);
	snprintf(c, sizeof(c), "%s/notes.txt", dir);
	snprintf(sub, sizeof(sub), "%s/sub.yml", dir);
	write_file(a, "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
		      "metadata: {name: from-yaml}\nspec: {podSelector: {}}\n");
	write_file(b,
		   "{\"apiVersion\": \"mseg.io/v1\", \"kind\": \"Policy\",\n"
		   " \"metadata\": {\"name\": \"from-json\"}, \"spec\": {\"podSelector\": {}}}\n");
	write_file(c, "not a policy");
	assert_int_equal(mkdir(sub, 0700), 0);

	/* a directory: its policy files, sorted, ids in that order */
	paths[0] = dir;
	assert_int_equal(mseg_policy_load(paths, 1, &set, &diag), 0);
	assert_int_equal(diag.n, 0);
	assert_int_equal(set.n_policies, 2);
	assert_string_equal(set.policies[0].name, "from-json");
	assert_int_equal(set.policies[0].id, 1);
	assert_string_equal(set.policies[1].name, "from-yaml");
	assert_int_equal(set.policies[1].id, 2);
	assert_string_equal(set.policies[1].file, a);

	/* loading the same again: every policy is a duplicate; the set is unchanged */
	assert_int_equal(mseg_policy_load(paths, 1, &set, &diag), -EINVAL);
	assert_int_equal(diag.n, 2);
	assert_non_null(strstr(diag.items[0].message, "duplicate"));
	assert_int_equal(set.n_policies, 2);
	mseg_diag_free(&diag);

	/* a file and a missing path: all-or-nothing across paths */
	mseg_policy_set_free(&set);
	snprintf(bad, sizeof(bad), "%s/missing.yaml", dir);
	paths[0] = a;
	paths[1] = bad;
	assert_int_equal(mseg_policy_load(paths, 2, &set, &diag), -EINVAL);
	assert_int_equal(set.n_policies, 0);
	assert_int_equal(diag.n, 1);
	s = mseg_diag_entry_format(&diag.items[0]);
	assert_non_null(strstr(s, "missing.yaml: cannot read: No such file or directory"));
	free(s);
	mseg_diag_free(&diag);

	/* the same file twice is a duplicate across paths */
	paths[1] = a;
	assert_int_equal(mseg_policy_load(paths, 2, &set, &diag), -EINVAL);
	assert_int_equal(diag.n, 1);
	assert_int_equal(set.n_policies, 0);
	mseg_diag_free(&diag);

	unlink(a);
	unlink(b);
	unlink(c);
	rmdir(sub);
	assert_int_equal(rmdir(dir), 0);
}

/* Whatever the bytes, parsing returns 0 or -EINVAL with a message, and never crashes. */
static void check_garbage(const char *buf, size_t len)
{
	struct mseg_policy_set set = {0};
	struct mseg_diag diag = {0};
	int r = mseg_policy_parse_buffer("g.yaml", buf, len, &set, &diag);

	assert_true(r == 0 || r == -EINVAL);
	if (r < 0) {
		assert_true(diag.n > 0);
		assert_int_equal(set.n_policies, 0);
	}
	for (size_t i = 0; i < diag.n; i++) {
		char *s = mseg_diag_entry_format(&diag.items[i]);

		assert_non_null(s);
		free(s);
	}
	mseg_diag_free(&diag);
	mseg_policy_set_free(&set);
}

static void test_garbage_never_crashes(void **state)
{
	static const char *const cases[] = {
	    "",
	    "---\n",
	    "\x00\x01\x02\xff\xfe",
	    "[1, 2, 3]\n",
	    "just a string\n",
	    "42\n",
	    "{\"unterminated\": \n",
	    "a: b: c\n",
	    "- - - -\n",
	    "&a [*a, *a]\n",
	    "apiVersion: [networking.k8s.io/v1]\nkind: {}\n",
	    "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: []\nspec: 5\n",
	    "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a}\n"
	    "spec: {podSelector: {}, ingress: [{ports: [{port: 99999999999999999999999}]}]}\n",
	    "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a}\n"
	    "spec: {podSelector: {}, ingress: {from: 1}}\n",
	    "? [complex, key]\n: value\n",
	    "apiVersion: !!str networking.k8s.io/v1\nkind: NetworkPolicy\n",
	};
	char deep[4096];
	size_t n = 0;
	unsigned seed = 12345;
	char buf[sizeof(valid_doc)];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_garbage(cases[i], strlen(cases[i]) + (i == 2 ? 5 : 0));
	/* deep nesting: refused with a message, no recursion blow-up */
	for (int i = 0; i < 1000; i++)
		deep[n++] = '[';
	for (int i = 0; i < 1000; i++)
		deep[n++] = ']';
	check_garbage(deep, n);
	/* every truncation of a valid document */
	for (size_t len = 0; len <= strlen(valid_doc); len++)
		check_garbage(valid_doc, len);
	/* random byte flips (seeded, reproducible) */
	for (int round = 0; round < 3000; round++) {
		memcpy(buf, valid_doc, sizeof(buf));
		for (int k = 0; k < 1 + round % 4; k++) {
			seed = seed * 1103515245u + 12345u;
			size_t at = (seed >> 8) % (sizeof(buf) - 1);

			seed = seed * 1103515245u + 12345u;
			buf[at] = (char)((seed >> 16) & 0xff);
		}
		check_garbage(buf, sizeof(buf) - 1);
	}
}

static void test_topology_of_errors_is_json_too(void **state)
{
	/* JSON input gets line:column positions like YAML */
	expect_error(
	    "{\n  \"apiVersion\": \"networking.k8s.io/v1\",\n  \"kind\": \"NetworkPolicy\",\n"
	    "  \"metadata\": {\"name\": \"j\"},\n"
	    "  \"spec\": {\"podSelector\": {}, \"ingress\": [{\"ports\": [{\"port\": \"80\"}]}]}\n"
	    "}\n",
	    "e.yaml:5:63: spec.ingress[0].ports[0].port: \"80\" is not a valid port name: a "
	    "port name must contain at least one letter");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_messages_are_located),
	    cmocka_unit_test(test_every_error_is_reported_in_order),
	    cmocka_unit_test(test_all_or_nothing),
	    cmocka_unit_test(test_load_paths),
	    cmocka_unit_test(test_garbage_never_crashes),
	    cmocka_unit_test(test_topology_of_errors_is_json_too),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
