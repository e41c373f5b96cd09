// SPDX-License-Identifier: Apache-2.0
/* mseg.io/v1 Policy and ClusterPolicy documents: actions, ICMP, modes, tiers, subjects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy/labels.h"
#include "policy/parse.h"

static void parse_ok(const char *text, struct mseg_policy_set *set)
{
	struct mseg_diag diag = {0};
	int r = mseg_policy_parse_buffer("m.yaml", text, strlen(text), set, &diag);

	for (size_t i = 0; i < diag.n; i++) {
		char *s = mseg_diag_entry_format(&diag.items[i]);

		print_error("unexpected: %s\n", s);
		free(s);
	}
	assert_int_equal(r, 0);
	mseg_diag_free(&diag);
}

static void test_policy_actions_icmp_mode(void **state)
{
	static const char doc[] = "apiVersion: mseg.io/v1\n"
				  "kind: Policy\n"
				  "metadata: {name: db, namespace: prod}\n"
				  "spec:\n"
				  "  podSelector: {matchLabels: {app: db}}\n"
				  "  mode: audit\n"
				  "  ingress:\n"
				  "    - action: deny\n"
				  "      from: [{namespaceSelector: {matchLabels: {env: dev}}}]\n"
				  "    - from: [{podSelector: {}}]\n"
				  "      ports:\n"
				  "        - {protocol: ICMP, icmp: {type: 8, code: 0}}\n"
				  "        - {protocol: ICMP, icmp: {type: 0}}\n"
				  "        - {protocol: ICMP}\n"
				  "        - {protocol: TCP, port: 5432}\n"
				  "    - action: allow\n";
	struct mseg_policy_set set = {0};
	const struct mseg_policy *p;
	const struct mseg_rule *r;

	parse_ok(doc, &set);
	p = &set.policies[0];
	assert_int_equal(p->kind, MSEG_KIND_POLICY);
	assert_int_equal(p->tier, MSEG_TIER_NAMESPACE);
	assert_int_equal(p->mode, MSEG_MODE_AUDIT);
	assert_true(p->ingress);
	assert_false(p->egress);
	assert_int_equal(p->n_ingress_rules, 3);
	assert_int_equal(p->ingress_rules[0].action, MSEG_ACTION_DENY);
	assert_true(p->ingress_rules[0].peers[0].has_ns_sel);
	r = &p->ingress_rules[1];
	assert_int_equal(r->action, MSEG_ACTION_ALLOW); /* the default */
	assert_int_equal(r->ports[0].proto, MSEG_PROTO_ICMP);
	assert_int_equal(r->ports[0].icmp_type, 8);
	assert_int_equal(r->ports[0].icmp_code, 0);
	assert_false(r->ports[0].has_port);
	assert_int_equal(r->ports[1].icmp_type, 0);
	assert_int_equal(r->ports[1].icmp_code, -1);
	assert_int_equal(r->ports[2].icmp_type, -1);
	assert_int_equal(r->ports[2].icmp_code, -1);
	assert_int_equal(r->ports[3].proto, MSEG_PROTO_TCP);
	assert_int_equal(r->ports[3].port, 5432);
	assert_int_equal(p->ingress_rules[2].action, MSEG_ACTION_ALLOW);
	assert_int_equal(p->ingress_rules[2].n_peers, 0);
	mseg_policy_set_free(&set);
}

static void test_cluster_policy(void **state)
{
	static const char doc[] =
	    "apiVersion: mseg.io/v1\n"
	    "kind: ClusterPolicy\n"
	    "metadata: {name: dev-never-prod}\n"
	    "spec:\n"
	    "  tier: admin\n"
	    "  priority: 10\n"
	    "  subject:\n"
	    "    namespaceSelector: {matchLabels: {env: prod}}\n"
	    "  ingress:\n"
	    "    - action: deny\n"
	    "      from: [{namespaceSelector: {matchLabels: {env: dev}}}]\n"
	    "    - action: pass\n"
	    "      from: [{endpointSelector: {matchLabels: {app: mon}}}]\n"
	    "    - action: allow\n"
	    "      from: [{ipBlock: {cidr: 192.168.0.0/24}}]\n"
	    "      ports: [{protocol: ICMP, icmp: {type: 8}}]\n"
	    "---\n"
	    "apiVersion: mseg.io/v1\n"
	    "kind: ClusterPolicy\n"
	    "metadata: {name: baseline-deny}\n"
	    "spec:\n"
	    "  tier: baseline\n"
	    "  priority: 1000\n"
	    "  mode: audit\n"
	    "  egress:\n"
	    "    - action: deny\n"
	    "---\n"
	    "apiVersion: mseg.io/v1\n"
	    "kind: ClusterPolicy\n"
	    "metadata: {name: both}\n"
	    "spec:\n"
	    "  tier: admin\n"
	    "  priority: 0\n"
	    "  subject: {endpointSelector: {matchLabels: {app: x}}, namespaceSelector: {}}\n"
	    "  ingress: []\n"
	    "  egress: [{to: [{namespaceSelector: {}, endpointSelector: {}}]}]\n";
	struct mseg_policy_set set = {0};
	const struct mseg_policy *p;

	parse_ok(doc, &set);
	assert_int_equal(set.n_policies, 3);
	p = &set.policies[0];
	assert_int_equal(p->kind, MSEG_KIND_CLUSTER_POLICY);
	assert_null(p->namespace);
	assert_int_equal(p->tier, MSEG_TIER_ADMIN);
	assert_int_equal(p->priority, 10);
	assert_int_equal(p->mode, MSEG_MODE_ENFORCE);
	assert_true(p->has_subject_ns);
	assert_false(p->has_subject_ep);
	assert_string_equal(mseg_labels_get(&p->subject_ns.match_labels, "env"), "prod");
	assert_true(p->ingress);
	assert_false(p->egress);
	assert_int_equal(p->n_ingress_rules, 3);
	assert_int_equal(p->ingress_rules[0].action, MSEG_ACTION_DENY);
	assert_int_equal(p->ingress_rules[1].action, MSEG_ACTION_PASS);
	assert_true(p->ingress_rules[1].peers[0].has_ep_sel);
	assert_false(p->ingress_rules[1].peers[0].has_ns_sel);
	assert_int_equal(p->ingress_rules[2].peers[0].kind, MSEG_PEER_IPBLOCK);
	assert_int_equal(p->ingress_rules[2].ports[0].icmp_type, 8);

	p = &set.policies[1];
	assert_int_equal(p->tier, MSEG_TIER_BASELINE);
	assert_int_equal(p->priority, 1000);
	assert_int_equal(p->mode, MSEG_MODE_AUDIT);
	assert_false(p->has_subject_ns);
	assert_false(p->has_subject_ep);
	assert_false(p->ingress);
	assert_true(p->egress);
	assert_int_equal(p->egress_rules[0].n_peers, 0);

	p = &set.policies[2];
	assert_true(p->has_subject_ns);
	assert_true(p->has_subject_ep);
	assert_true(p->ingress); /* the list is there, empty */
	assert_int_equal(p->n_ingress_rules, 0);
	assert_true(p->egress);
	assert_true(p->egress_rules[0].peers[0].has_ns_sel);
	assert_true(p->egress_rules[0].peers[0].has_ep_sel);
	mseg_policy_set_free(&set);
}

static void test_same_name_other_kind_is_fine(void **state)
{
	static const char doc[] = "apiVersion: mseg.io/v1\nkind: Policy\n"
				  "metadata: {name: a}\nspec: {podSelector: {}}\n"
				  "---\n"
				  "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
				  "metadata: {name: a}\nspec: {podSelector: {}}\n"
				  "---\n"
				  "apiVersion: mseg.io/v1\nkind: Policy\n"
				  "metadata: {name: a, namespace: other}\nspec: {podSelector: {}}\n"
				  "---\n"
				  "apiVersion: mseg.io/v1\nkind: ClusterPolicy\n"
				  "metadata: {name: a}\nspec: {tier: admin, priority: 1}\n";
	struct mseg_policy_set set = {0};

	parse_ok(doc, &set);
	assert_int_equal(set.n_policies, 4);
	mseg_policy_set_free(&set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_policy_actions_icmp_mode),
	    cmocka_unit_test(test_cluster_policy),
	    cmocka_unit_test(test_same_name_other_kind_is_fine),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
