// SPDX-License-Identifier: Apache-2.0
/*
 * The compiler agrees with the reference evaluator on every case of the truth-table suite
 * (tests/data/k8s and tests/data/mseg, whose grids the CLI suite checks against hand-made
 * expectations): for every pair of endpoints, plus bare addresses inside and outside the pod
 * ranges, on TCP/UDP/SCTP ports 80 and 81, a few other ports, ICMP and another protocol, with
 * and without --default-deny, both sides' verdict, audit flag and decider must be equal.
 * Run from the source tree (the unit test runner does); MSEG_TEST_DATA overrides the path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/cidr.h"
#include "policy/compile.h"
#include "policy/diag.h"
#include "policy/evaluate.h"
#include "policy/parse.h"
#include "policy/topology.h"

static const char *data_dir(void)
{
	const char *d = getenv("MSEG_TEST_DATA");

	return d && *d ? d : "tests/data";
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The "endpoints FILE" line of a case's .expect, if any. */
static char *case_topology(const char *dir, const char *yaml)
{
	char *path = NULL, line[512], *res = NULL;
	size_t len = strlen(yaml);
	FILE *f;

	if (asprintf(&path, "%s/%.*s.expect", dir, (int)(len - 5), yaml) < 0)
		return NULL;
	f = fopen(path, "re");
	free(path);
	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "endpoints ", 10)) {
			line[strcspn(line, "\n")] = 0;
			if (asprintf(&res, "%s/%s", dir, line + 10) < 0)
				res = NULL;
			break;
		}
	fclose(f);
	return res;
}

static void flow_end(const struct mseg_topology *t, size_t i, struct mseg_flow_end *e)
{
	static const unsigned bare[] = {10u << 24 | 200u << 16 | 1u << 8 | 99,
					10u << 24 | 200u << 16 | 3u << 8 | 200,
					192u << 24 | 2u << 8 | 1};

	*e = (struct mseg_flow_end){0};
	if (i < t->n_endpoints) {
		e->ep = &t->endpoints[i];
		e->ip = e->ep->ip;
	} else {
		e->ip = mseg_cidr_from_v4(bare[i - t->n_endpoints], 32);
	}
}

/* Returns the number of disagreements (printed). */
static unsigned check_case(const char *dir, const char *yaml, unsigned long *n_checked)
{
	static const struct {
		uint8_t proto;
		uint16_t port;
	} probes[] = {
	    {MSEG_PROTO_TCP, 80},      {MSEG_PROTO_TCP, 81},	      {MSEG_PROTO_UDP, 80},
	    {MSEG_PROTO_UDP, 81},      {MSEG_PROTO_SCTP, 80},	      {MSEG_PROTO_SCTP, 81},
	    {MSEG_PROTO_TCP, 82},      {MSEG_PROTO_TCP, 8080},	      {MSEG_PROTO_UDP, 53},
	    {MSEG_PROTO_ICMP, 8 << 8}, {MSEG_PROTO_ICMP, 3 << 8 | 4}, {47, 0},
	};
	char *path = NULL, *topo_path = case_topology(dir, yaml);
	char *paths[1];
	struct mseg_topology t = {0};
	struct mseg_policy_set set = {0};
	struct mseg_diag diag = {0};
	unsigned bad = 0;

	assert_true(asprintf(&path, "%s/%s", dir, yaml) > 0);
	if (!topo_path)
		assert_true(asprintf(&topo_path, "%s/topology.yaml", data_dir()) > 0);
	paths[0] = path;
	if (mseg_topology_load(topo_path, &t, &diag) < 0 ||
	    mseg_policy_load(paths, 1, &set, &diag) < 0) {
		printf("%s: does not load (%zu diagnostics)\n", path, diag.n);
		mseg_diag_free(&diag);
		mseg_topology_free(&t);
		free(path);
		free(topo_path);
		return 1;
	}
	for (int dd = 0; dd < 2; dd++) {
		struct mseg_compile_opts opts = {.default_deny = dd};
		struct mseg_identities *ids = NULL;
		struct mseg_compiled *c = NULL;
		size_t n = t.n_endpoints + 3;

		assert_int_equal(mseg_identities_new(&ids), 0);
		assert_int_equal(mseg_compile(&t, &set, &opts, ids, &c), 0);
		for (size_t s = 0; s < n; s++)
			for (size_t d = 0; d < n; d++)
				for (size_t k = 0; k < sizeof(probes) / sizeof(probes[0]); k++) {
					struct mseg_flow f = {.proto = probes[k].proto,
							      .port = probes[k].port};
					struct mseg_eval_result res = {0};

					flow_end(&t, s, &f.src);
					flow_end(&t, d, &f.dst);
					assert_int_equal(mseg_evaluate(&t, &set, &opts, &f, &res),
							 0);
					for (int sd = 0; sd < 2; sd++) {
						const struct mseg_side *side = sd == MSEG_DIR_EGRESS
										   ? &res.egress
										   : &res.ingress;
						const struct mseg_flow_end *self =
						    sd == MSEG_DIR_EGRESS ? &f.src : &f.dst;
						const struct mseg_flow_end *remote =
						    sd == MSEG_DIR_EGRESS ? &f.dst : &f.src;
						struct mseg_decider by;
						uint8_t v, a;

						if (!self->ep)
							continue;
						assert_int_equal(
						    mseg_compiled_lookup(c, self->ep->id, sd,
									 &remote->ip, f.proto,
									 f.port, &v, &a, &by),
						    0);
						(*n_checked)++;
						if (v == side->verdict && a == side->audit &&
						    by.kind == side->decided_by.kind &&
						    by.policy == side->decided_by.policy &&
						    by.rule == side->decided_by.rule)
							continue;
						if (++bad > 20)
							continue;
						printf(
						    "%s%s: %zu->%zu proto %u port %u %s: table "
						    "%u/%u "
						    "by %d:%u:%u, evaluator %u/%u by %d:%u:%u\n",
						    yaml, dd ? " --default-deny" : "", s, d,
						    f.proto, f.port, sd ? "egress" : "ingress", v,
						    a, by.kind, by.policy, by.rule, side->verdict,
						    side->audit, side->decided_by.kind,
						    side->decided_by.policy, side->decided_by.rule);
					}
					mseg_eval_result_free(&res);
				}
		mseg_compiled_free(c);
		mseg_identities_free(ids);
	}
	mseg_diag_free(&diag);
	mseg_policy_set_free(&set);
	mseg_topology_free(&t);
	free(path);
	free(topo_path);
	return bad;
}

static void run_dir(const char *sub)
{
	char *dir = NULL;
	char **names = NULL;
	size_t n = 0;
	unsigned long checked = 0;
	unsigned bad = 0;
	struct dirent *de;
	DIR *d;

	assert_true(asprintf(&dir, "%s/%s", data_dir(), sub) > 0);
	d = opendir(dir);
	if (!d)
		fail_msg("%s: cannot open (run from the source tree or set MSEG_TEST_DATA)", dir);
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);

		/* case files are NN-name.yaml; NN-name.topology.yaml are endpoints files */
		if (len < 6 || strcmp(de->d_name + len - 5, ".yaml") ||
		    strstr(de->d_name, ".topology."))
			continue;
		names = realloc(names, (n + 1) * sizeof(*names));
		assert_non_null(names);
		names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++) {
		bad += check_case(dir, names[i], &checked);
		free(names[i]);
	}
	free(names);
	free(dir);
	printf("%s: %zu cases, %lu side decisions compared\n", sub, n, checked);
	assert_true(n >= 10);
	assert_int_equal(bad, 0);
}

static void test_k8s_suite(void **state)
{
	run_dir("k8s");
}

static void test_mseg_suite(void **state)
{
	run_dir("mseg");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_k8s_suite),
	    cmocka_unit_test(test_mseg_suite),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
