// SPDX-License-Identifier: Apache-2.0
/*
 * agent/identities.c and agent/policies.c: the identity label sets the agent persists are the
 * compiler's own (pinning them gives every endpoint the pinned id), identities and policies
 * survive a save/load, and policy.apply is all or nothing with kubectl-like results.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/identities.h"
#include "agent/policies.h"
#include "agent/store.h"
#include "policy/compile.h"
#include "policy/labels.h"
#include "policy/topology.h"

static const char topo_yaml[] =
    "namespaces:\n"
    "  - {name: prod, labels: {env: prod, team: a}}\n"
    "  - {name: dev}\n"
    "endpoints:\n"
    "  - {namespace: prod, name: web, labels: {app: web}, ip: 10.200.0.10,\n"
    "     ports: [{name: http, port: 80, protocol: TCP}, {name: alt, port: 8080, protocol: TCP},\n"
    "             {name: dns, port: 53, protocol: UDP}]}\n"
    "  - {namespace: prod, name: web2, labels: {app: web}, ip: 10.200.0.11,\n"
    "     ports: [{name: http, port: 80, protocol: TCP}, {name: alt, port: 8080, protocol: TCP},\n"
    "             {name: dns, port: 53, protocol: UDP}]}\n"
    "  - {namespace: prod, name: db, labels: {app: db, tier: x}, ip: 10.200.0.12}\n"
    "  - {namespace: dev, name: web, labels: {app: web}, ip: 10.200.0.13}\n";

static char *tmpdir(void)
{
	char *dir = strdup("/tmp/mseg-test-reconcile.XXXXXX");

	assert_non_null(mkdtemp(dir));
	return dir;
}

static void rmdir_all(char *dir)
{
	char path[4096];
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
}

static const struct mseg_labels *ns_labels(const struct mseg_topology *t, const char *ns)
{
	for (size_t i = 0; i < t->n_namespaces; i++)
		if (!strcmp(t->namespaces[i].name, ns))
			return &t->namespaces[i].labels;
	fail();
	return NULL;
}

/* Pinning the agent's label sets must give each endpoint exactly the pinned id. */
static void test_identity_labels_match_compiler(void **state)
{
	struct mseg_topology topo = {0};
	struct mseg_policy_set none = {0};
	struct mseg_diag diag = {0};
	struct mseg_identities *ids = NULL;
	struct mseg_compiled *c = NULL;
	uint32_t want[8];

	(void)state;
	if (mseg_topology_parse_buffer("t.yaml", topo_yaml, strlen(topo_yaml), &topo, &diag) < 0)
		fail_msg("%s", diag.n ? mseg_diag_entry_format(&diag.items[0]) : "?");
	assert_int_equal(mseg_identities_new(&ids), 0);
	for (size_t i = 0; i < topo.n_endpoints; i++) {
		struct mseg_labels l = {0};

		assert_int_equal(
		    mseg_agent_identity_labels(&topo.endpoints[i],
					       ns_labels(&topo, topo.endpoints[i].namespace), &l),
		    0);
		/* equal label sets (web and web2) share one id */
		want[i] = i == 1 ? want[0] : 5000 + (uint32_t)i;
		assert_int_equal(mseg_identities_put(ids, &l, want[i]), 0);
		mseg_labels_free(&l);
	}
	assert_int_equal(mseg_compile(&topo, &none, &(struct mseg_compile_opts){0}, ids, &c), 0);
	assert_int_equal(c->n_endpoints, topo.n_endpoints);
	for (size_t i = 0; i < topo.n_endpoints; i++)
		assert_int_equal(c->endpoint_identity[i], want[i]);
	mseg_compiled_free(c);
	mseg_identities_free(ids);
	mseg_topology_free(&topo);
}

static void test_identities_save_load(void **state)
{
	struct mseg_agent_identities rec = {0}, back = {0};
	struct mseg_labels a = {0}, b = {0};
	struct mseg_identities *ids = NULL;
	char why[MSEG_STORE_WHY_LEN] = "", *dir = tmpdir();
	uint32_t got;
	bool added;

	(void)state;
	mseg_labels_set(&a, "app", "web");
	mseg_labels_set(&b, "app", "db");
	assert_int_equal(mseg_agent_identities_record(&rec, &a, 300, &added), 0);
	assert_true(added);
	assert_int_equal(mseg_agent_identities_record(&rec, &b, 256, &added), 0);
	assert_int_equal(mseg_agent_identities_record(&rec, &a, 300, &added), 0);
	assert_false(added);
	assert_int_equal(mseg_agent_identities_save(dir, &rec), 0);

	assert_int_equal(mseg_identities_new(&ids), 0);
	assert_int_equal(mseg_agent_identities_load(dir, &back, ids, why), 0);
	assert_int_equal(back.n, 2);
	assert_non_null(mseg_agent_identities_find(&back, 256));
	assert_int_equal(mseg_identities_get(ids, &a, &got), 0);
	assert_int_equal(got, 300);
	assert_int_equal(mseg_identities_get(ids, &b, &got), 0);
	assert_int_equal(got, 256);
	mseg_labels_free(&b);
	mseg_labels_set(&b, "app", "new");
	assert_int_equal(mseg_identities_get(ids, &b, &got), 0);
	assert_true(got != 256 && got != 300);

	mseg_identities_free(ids);
	mseg_agent_identities_free(&rec);
	mseg_agent_identities_free(&back);
	mseg_labels_free(&a);
	mseg_labels_free(&b);
	rmdir_all(dir);
}

static const char two_docs[] = "apiVersion: networking.k8s.io/v1\n"
			       "kind: NetworkPolicy\n"
			       "metadata: {name: a, namespace: prod}\n"
			       "spec: {podSelector: {}}\n"
			       "---\n"
			       "apiVersion: mseg.io/v1\n"
			       "kind: ClusterPolicy\n"
			       "metadata: {name: c}\n"
			       "spec:\n"
			       "  tier: admin\n"
			       "  priority: 10\n"
			       "  ingress: [{action: deny}]\n";

static int apply(struct mseg_agent_policies *ps, const char *name, const char *text,
		 enum mseg_apply_action *actions, size_t *n, struct mseg_diag *diag)
{
	struct mseg_policy_doc d = {.name = name, .text = text, .len = strlen(text)};
	struct mseg_agent_policies next = {0};
	struct mseg_apply_result *res = NULL;
	size_t n_res = 0;
	int r;

	r = mseg_agent_policies_apply(ps, &d, 1, &next, &res, &n_res, diag);
	if (r < 0) {
		for (size_t i = 0; i < diag->n; i++)
			print_message("(expected?) %s:%u:%u: %s\n", diag->items[i].file,
				      diag->items[i].line, diag->items[i].col,
				      diag->items[i].message);
		return r;
	}
	for (size_t i = 0; i < n_res; i++)
		actions[i] = res[i].action;
	*n = n_res;
	mseg_apply_results_free(res, n_res);
	mseg_agent_policies_free(ps);
	*ps = next;
	return 0;
}

static void test_policies_apply(void **state)
{
	struct mseg_agent_policies ps = {.next_id = 1}, back = {0};
	enum mseg_apply_action act[4];
	struct mseg_diag diag = {0};
	char why[MSEG_STORE_WHY_LEN] = "", *dir = tmpdir(), *changed;
	size_t n;

	(void)state;
	assert_int_equal(apply(&ps, "p.yaml", two_docs, act, &n, &diag), 0);
	assert_int_equal(n, 2);
	assert_int_equal(act[0], MSEG_APPLY_CREATED);
	assert_int_equal(act[1], MSEG_APPLY_CREATED);
	assert_int_equal(ps.n, 2);
	assert_int_equal(ps.v[0]->id, 1);
	assert_int_equal(ps.v[1]->id, 2);
	/* each policy keeps only its own document, at its own line */
	assert_null(strstr(ps.v[0]->text, "ClusterPolicy"));
	assert_int_equal(ps.v[1]->pol.line, 6);

	/* same text: unchanged; one document changed: only that one is configured */
	assert_int_equal(apply(&ps, "p.yaml", two_docs, act, &n, &diag), 0);
	assert_int_equal(act[0], MSEG_APPLY_UNCHANGED);
	assert_int_equal(act[1], MSEG_APPLY_UNCHANGED);
	changed = strdup(two_docs);
	strstr(changed, "priority: 10")[10] = '2';
	assert_int_equal(apply(&ps, "p.yaml", changed, act, &n, &diag), 0);
	assert_int_equal(act[0], MSEG_APPLY_UNCHANGED);
	assert_int_equal(act[1], MSEG_APPLY_CONFIGURED);
	assert_int_equal(ps.v[1]->id, 2);
	assert_int_equal(ps.v[1]->pol.priority, 20);
	free(changed);

	/* any error: nothing changes, every error located */
	assert_int_equal(apply(&ps, "bad.yaml",
			       "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
			       "metadata: {name: a, namespace: prod}\nspec:\n  podSelector: {}\n"
			       "  ingress: [{ports: [{port: 0}]}]\n",
			       act, &n, &diag),
			 -EINVAL);
	assert_true(diag.n >= 1);
	assert_string_equal(diag.items[0].file, "bad.yaml");
	assert_int_equal(diag.items[0].line, 6);
	mseg_diag_free(&diag);
	assert_int_equal(ps.n, 2);

	/* the same policy twice in one request is an error too */
	assert_int_equal(
	    apply(&ps, "dup.yaml",
		  "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
		  "metadata: {name: z, namespace: prod}\nspec: {podSelector: {}}\n---\n"
		  "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
		  "metadata: {name: z, namespace: prod}\nspec: {podSelector: {}}\n",
		  act, &n, &diag),
	    -EINVAL);
	mseg_diag_free(&diag);

	/* ids are never reused: removing 1 and adding a new policy gives 3 */
	mseg_agent_policies_remove(&ps, 0);
	assert_int_equal(apply(&ps, "q.json",
			       "{\"apiVersion\": \"networking.k8s.io/v1\", \"kind\": "
			       "\"NetworkPolicy\", \"metadata\": {\"name\": \"j\", \"namespace\": "
			       "\"x\"}, \"spec\": {\"podSelector\": {}}}",
			       act, &n, &diag),
			 0);
	assert_int_equal(ps.v[ps.n - 1]->id, 3);

	assert_int_equal(mseg_agent_policies_save(dir, &ps), 0);
	assert_int_equal(mseg_agent_policies_load(dir, &back, why), 0);
	assert_int_equal(back.n, ps.n);
	assert_int_equal(back.next_id, 4);
	for (size_t i = 0; i < ps.n; i++) {
		assert_int_equal(back.v[i]->id, ps.v[i]->id);
		assert_int_equal(back.v[i]->pol.id, ps.v[i]->id);
		assert_string_equal(back.v[i]->pol.name, ps.v[i]->pol.name);
	}
	mseg_agent_policies_free(&back);
	mseg_agent_policies_free(&ps);
	rmdir_all(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_identity_labels_match_compiler),
	    cmocka_unit_test(test_identities_save_load),
	    cmocka_unit_test(test_policies_apply),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
