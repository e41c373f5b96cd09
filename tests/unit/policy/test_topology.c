// SPDX-License-Identifier: Apache-2.0
/* The endpoints file: namespaces (listed and implied), endpoints, named ports, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/cidr.h"
#include "policy/labels.h"
#include "policy/topology.h"

static const char topo_doc[] =
    "namespaces:\n"
    "  - {name: x, labels: {team: red}}\n"
    "  - name: empty\n"
    "endpoints:\n"
    "  - namespace: x\n"
    "    name: a\n"
    "    labels: {pod: a}\n"
    "    ip: 10.200.0.10\n"
    "    ports: [{name: serve-80-tcp, port: 80, protocol: TCP},\n"
    "            {name: dns, port: 53, protocol: UDP}, {name: web, port: 8080}]\n"
    "  - {namespace: y, name: b, ip: 10.200.0.11}\n"
    "  - {name: c, ip: 10.200.0.12, labels: {app.kubernetes.io/name: c}}\n";

static void test_topology(void **state)
{
	struct mseg_topology t = {0};
	struct mseg_diag diag = {0};
	char buf[MSEG_CIDR_STRLEN];
	char *s;

	assert_int_equal(
	    mseg_topology_parse_buffer("t.yaml", topo_doc, strlen(topo_doc), &t, &diag), 0);
	assert_int_equal(diag.n, 0);
	assert_int_equal(t.n_namespaces, 4);
	assert_string_equal(t.namespaces[0].name, "x");
	s = mseg_labels_format(&t.namespaces[0].labels);
	assert_string_equal(s, "kubernetes.io/metadata.name=x,team=red");
	free(s);
	assert_string_equal(t.namespaces[1].name, "empty");
	/* used but not listed: only the automatic label, in order of first use */
	assert_string_equal(t.namespaces[2].name, "y");
	s = mseg_labels_format(&t.namespaces[2].labels);
	assert_string_equal(s, "kubernetes.io/metadata.name=y");
	free(s);
	assert_string_equal(t.namespaces[3].name, "default");

	assert_int_equal(t.n_endpoints, 3);
	assert_int_equal(t.endpoints[0].id, 1);
	assert_string_equal(t.endpoints[0].namespace, "x");
	assert_string_equal(t.endpoints[0].name, "a");
	assert_string_equal(mseg_labels_get(&t.endpoints[0].labels, "pod"), "a");
	assert_string_equal(mseg_cidr_format(&t.endpoints[0].ip, false, buf), "10.200.0.10/32");
	assert_int_equal(t.endpoints[0].n_ports, 3);
	assert_string_equal(t.endpoints[0].ports[1].name, "dns");
	assert_int_equal(t.endpoints[0].ports[1].port, 53);
	assert_int_equal(t.endpoints[0].ports[1].proto, MSEG_PROTO_UDP);
	assert_int_equal(t.endpoints[0].ports[2].proto, MSEG_PROTO_TCP);
	assert_int_equal(t.endpoints[1].id, 2);
	assert_int_equal(t.endpoints[1].n_ports, 0);
	assert_int_equal(t.endpoints[2].id, 3);
	assert_string_equal(t.endpoints[2].namespace, "default");
	mseg_topology_free(&t);
	mseg_topology_free(&t);
}

static void test_topology_errors(void **state)
{
	static const char doc[] = "namespaces:\n"
				  "  - {name: x}\n"
				  "  - {name: x}\n"
				  "  - {name: z, labels: {kubernetes.io/metadata.name: other}}\n"
				  "endpoints:\n"
				  "  - {name: a, ip: 10.0.0.1, ports: [{name: http, port: 80},\n"
				  "                                  {name: http, port: 81}]}\n"
				  "  - {name: a, ip: 10.0.0.1}\n"
				  "  - {name: b, ip: 10.0.0.0/24, nmae: x}\n"
				  "  - {name: c}\n";
	static const char *const expected[] = {
	    "t.yaml:3:12: namespaces[1].name: namespace \"x\" is listed twice",
	    "t.yaml:4:23: namespaces[2].labels: kubernetes.io/metadata.name is always the "
	    "namespace's name \"z\", not \"other\"",
	    "t.yaml:7:42: endpoints[0].ports[1].name: port name \"http\" is used twice",
	    "t.yaml:8:12: endpoints[1].name: endpoint \"default/a\" is listed twice",
	    "t.yaml:8:19: endpoints[1].ip: 10.0.0.1 is already the address of default/a",
	    "t.yaml:9:19: endpoints[2].ip: \"10.0.0.0/24\" is not an IPv4 address (expected "
	    "a.b.c.d)",
	    "t.yaml:9:32: endpoints[2].nmae: unknown field \"nmae\", did you mean \"name\"?",
	    "t.yaml:10:5: endpoints[3].ip: required field is missing, expected an IPv4 address",
	};
	struct mseg_topology t = {0};
	struct mseg_diag diag = {0};

	assert_int_equal(mseg_topology_parse_buffer("t.yaml", doc, strlen(doc), &t, &diag),
			 -EINVAL);
	assert_int_equal(t.n_endpoints, 0);
	assert_null(t.namespaces);
	for (size_t i = 0; i < diag.n; i++) {
		char *s = mseg_diag_entry_format(&diag.items[i]);

		if (i >= sizeof(expected) / sizeof(expected[0]) || strcmp(s, expected[i]))
			print_error("got %s\n", s);
		assert_true(i < sizeof(expected) / sizeof(expected[0]));
		assert_string_equal(s, expected[i]);
		free(s);
	}
	assert_int_equal(diag.n, sizeof(expected) / sizeof(expected[0]));
	mseg_diag_free(&diag);
}

static void test_topology_load(void **state)
{
	char path[] = "/tmp/mseg-topo-XXXXXX";
	struct mseg_topology t = {0};
	struct mseg_diag diag = {0};
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, topo_doc, strlen(topo_doc)), (ssize_t)strlen(topo_doc));
	close(fd);
	assert_int_equal(mseg_topology_load(path, &t, &diag), 0);
	assert_int_equal(t.n_endpoints, 3);
	mseg_topology_free(&t);
	unlink(path);
	assert_int_equal(mseg_topology_load(path, &t, &diag), -EINVAL);
	assert_int_equal(diag.n, 1);
	assert_non_null(strstr(diag.items[0].message, "cannot read"));
	mseg_diag_free(&diag);
	/* an empty file is an empty topology */
	assert_int_equal(mseg_topology_parse_buffer("e.yaml", "", 0, &t, &diag), 0);
	assert_int_equal(t.n_endpoints, 0);
	assert_int_equal(t.n_namespaces, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_topology),
	    cmocka_unit_test(test_topology_errors),
	    cmocka_unit_test(test_topology_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
