// SPDX-License-Identifier: Apache-2.0
/* NetworkPolicy documents: every field, Kubernetes defaulting, selectors, YAML and JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy/cidr.h"
#include "policy/labels.h"
#include "policy/parse.h"

static void parse_ok(const char *text, struct mseg_policy_set *set)
{
	struct mseg_diag diag = {0};
	int r = mseg_policy_parse_buffer("t.yaml", text, strlen(text), set, &diag);

	for (size_t i = 0; i < diag.n; i++) {
		char *s = mseg_diag_entry_format(&diag.items[i]);

		print_error("unexpected: %s\n", s);
		free(s);
	}
	assert_int_equal(r, 0);
	assert_int_equal(diag.n, 0);
	mseg_diag_free(&diag);
}

static const char *cidr_str(const struct mseg_cidr *c, char *buf)
{
	return mseg_cidr_format(c, false, buf);
}

static void test_full_network_policy(void **state)
{
	static const char doc[] =
	    "apiVersion: networking.k8s.io/v1\n"
	    "kind: NetworkPolicy\n"
	    "metadata:\n"
	    "  name: web\n"
	    "  namespace: prod\n"
	    "  labels: {anything: goes}\n"
	    "  annotations: {kubectl.kubernetes.io/last-applied-configuration: '{}'}\n"
	    "  uid: 1234\n"
	    "  resourceVersion: \"5\"\n"
	    "  generation: 2\n"
	    "  creationTimestamp: 2024-01-01T00:00:00Z\n"
	    "spec:\n"
	    "  podSelector:\n"
	    "    matchLabels: {app: web}\n"
	    "    matchExpressions:\n"
	    "      - {key: tier, operator: In, values: [front, edge]}\n"
	    "      - {key: canary, operator: DoesNotExist}\n"
	    "  policyTypes: [Ingress, Egress]\n"
	    "  ingress:\n"
	    "    - from:\n"
	    "        - podSelector: {matchLabels: {app: api}}\n"
	    "        - namespaceSelector: {matchLabels: {team: red}}\n"
	    "        - namespaceSelector: {}\n"
	    "          podSelector: {matchExpressions: [{key: x, operator: Exists}]}\n"
	    "        - ipBlock: {cidr: 10.0.0.1/8, except: [10.1.0.0/16]}\n"
	    "      ports:\n"
	    "        - port: 80\n"
	    "        - {protocol: UDP, port: 5000, endPort: 5010}\n"
	    "        - {protocol: SCTP}\n"
	    "        - {port: http}\n"
	    "    - {}\n"
	    "  egress:\n"
	    "    - to: [{podSelector: {}}]\n"
	    "status: {whatever: 1}\n";
	struct mseg_policy_set set = {0};
	const struct mseg_policy *p;
	const struct mseg_rule *r;
	char buf[MSEG_CIDR_STRLEN];

	parse_ok(doc, &set);
	assert_int_equal(set.n_policies, 1);
	p = &set.policies[0];
	assert_int_equal(p->id, 1);
	assert_int_equal(p->kind, MSEG_KIND_NETWORK_POLICY);
	assert_int_equal(p->tier, MSEG_TIER_NAMESPACE);
	assert_int_equal(p->mode, MSEG_MODE_ENFORCE);
	assert_string_equal(p->name, "web");
	assert_string_equal(p->namespace, "prod");
	assert_string_equal(p->file, "t.yaml");
	assert_int_equal(p->line, 1);
	assert_true(p->has_subject_ep);
	assert_false(p->has_subject_ns);
	assert_string_equal(mseg_labels_get(&p->subject_ep.match_labels, "app"), "web");
	assert_int_equal(p->subject_ep.n_exprs, 2);
	assert_string_equal(p->subject_ep.exprs[0].key, "tier");
	assert_int_equal(p->subject_ep.exprs[0].op, MSEG_SEL_IN);
	assert_int_equal(p->subject_ep.exprs[0].n_values, 2);
	assert_string_equal(p->subject_ep.exprs[0].values[1], "edge");
	assert_int_equal(p->subject_ep.exprs[1].op, MSEG_SEL_DOES_NOT_EXIST);
	assert_int_equal(p->subject_ep.exprs[1].n_values, 0);
	assert_true(p->ingress);
	assert_true(p->egress);

	assert_int_equal(p->n_ingress_rules, 2);
	r = &p->ingress_rules[0];
	assert_int_equal(r->action, MSEG_ACTION_ALLOW);
	assert_int_equal(r->line, 20);
	assert_int_equal(r->n_peers, 4);
	assert_int_equal(r->peers[0].kind, MSEG_PEER_ENDPOINTS);
	assert_true(r->peers[0].has_ep_sel);
	assert_false(r->peers[0].has_ns_sel);
	assert_string_equal(mseg_labels_get(&r->peers[0].ep_sel.match_labels, "app"), "api");
	assert_true(r->peers[1].has_ns_sel);
	assert_false(r->peers[1].has_ep_sel);
	assert_true(r->peers[2].has_ns_sel);
	assert_true(r->peers[2].has_ep_sel);
	assert_int_equal(r->peers[2].ns_sel.n_exprs, 0);
	assert_int_equal(r->peers[2].ns_sel.match_labels.n, 0);
	assert_int_equal(r->peers[2].ep_sel.exprs[0].op, MSEG_SEL_EXISTS);
	assert_int_equal(r->peers[3].kind, MSEG_PEER_IPBLOCK);
	/* Kubernetes accepts host bits in an ipBlock and means the network */
	assert_string_equal(cidr_str(&r->peers[3].ipblock.cidr, buf), "10.0.0.0/8");
	assert_int_equal(r->peers[3].ipblock.n_except, 1);
	assert_string_equal(cidr_str(&r->peers[3].ipblock.except[0], buf), "10.1.0.0/16");

	assert_int_equal(r->n_ports, 4);
	assert_int_equal(r->ports[0].proto, MSEG_PROTO_TCP);
	assert_true(r->ports[0].has_port);
	assert_int_equal(r->ports[0].port, 80);
	assert_int_equal(r->ports[0].end_port, 80);
	assert_null(r->ports[0].named_port);
	assert_int_equal(r->ports[1].proto, MSEG_PROTO_UDP);
	assert_int_equal(r->ports[1].port, 5000);
	assert_int_equal(r->ports[1].end_port, 5010);
	assert_int_equal(r->ports[2].proto, MSEG_PROTO_SCTP);
	assert_false(r->ports[2].has_port);
	assert_null(r->ports[2].named_port);
	assert_int_equal(r->ports[2].port, 0);
	assert_int_equal(r->ports[2].end_port, 65535);
	assert_false(r->ports[3].has_port);
	assert_string_equal(r->ports[3].named_port, "http");
	assert_int_equal(r->ports[3].icmp_type, -1);
	assert_int_equal(r->ports[3].icmp_code, -1);

	/* an empty rule: every peer, every port */
	r = &p->ingress_rules[1];
	assert_int_equal(r->n_peers, 0);
	assert_int_equal(r->n_ports, 0);
	assert_int_equal(p->n_egress_rules, 1);
	assert_int_equal(p->egress_rules[0].n_peers, 1);
	mseg_policy_set_free(&set);
	assert_int_equal(set.n_policies, 0);
}

static void test_policy_types_defaulting(void **state)
{
	static const char doc[] = "apiVersion: networking.k8s.io/v1\n"
				  "kind: NetworkPolicy\n"
				  "metadata: {name: only-ingress}\n"
				  "spec: {podSelector: {}}\n"
				  "---\n"
				  "apiVersion: networking.k8s.io/v1\n"
				  "kind: NetworkPolicy\n"
				  "metadata: {name: with-egress}\n"
				  "spec: {podSelector: {}, egress: [{}]}\n"
				  "---\n"
				  "# an empty egress list adds no Egress type, as in Kubernetes\n"
				  "apiVersion: networking.k8s.io/v1\n"
				  "kind: NetworkPolicy\n"
				  "metadata: {name: empty-egress}\n"
				  "spec: {podSelector: {}, egress: []}\n"
				  "---\n"
				  "apiVersion: networking.k8s.io/v1\n"
				  "kind: NetworkPolicy\n"
				  "metadata: {name: egress-only}\n"
				  "spec: {podSelector: {}, policyTypes: [Egress], ingress: [{}]}\n"
				  "---\n"
				  "apiVersion: networking.k8s.io/v1\n"
				  "kind: NetworkPolicy\n"
				  "metadata: {name: empty-types}\n"
				  "spec: {podSelector: {}, policyTypes: [], egress: [{}]}\n"
				  "---\n"
				  "---\n";
	struct mseg_policy_set set = {0};

	parse_ok(doc, &set);
	assert_int_equal(set.n_policies, 5);
	for (size_t i = 0; i < set.n_policies; i++) {
		assert_int_equal(set.policies[i].id, i + 1);
		assert_string_equal(set.policies[i].namespace, "default");
	}
	assert_true(set.policies[0].ingress);
	assert_false(set.policies[0].egress);
	assert_true(set.policies[1].ingress);
	assert_true(set.policies[1].egress);
	assert_true(set.policies[2].ingress);
	assert_false(set.policies[2].egress);
	assert_false(set.policies[3].ingress);
	assert_true(set.policies[3].egress);
	/* rules of a type not listed are kept but never apply */
	assert_int_equal(set.policies[3].n_ingress_rules, 1);
	assert_true(set.policies[4].ingress);
	assert_true(set.policies[4].egress);
	assert_int_equal(set.policies[4].line, 22);
	mseg_policy_set_free(&set);
}

static void test_null_pod_selector_is_empty(void **state)
{
	static const char doc[] = "apiVersion: networking.k8s.io/v1\n"
				  "kind: NetworkPolicy\n"
				  "metadata:\n"
				  "  name: deny\n"
				  "spec:\n"
				  "  podSelector:\n"
				  "  ingress:\n";
	struct mseg_policy_set set = {0};

	parse_ok(doc, &set);
	assert_true(set.policies[0].has_subject_ep);
	assert_int_equal(set.policies[0].subject_ep.match_labels.n, 0);
	assert_int_equal(set.policies[0].subject_ep.n_exprs, 0);
	assert_int_equal(set.policies[0].n_ingress_rules, 0);
	assert_true(set.policies[0].ingress);
	mseg_policy_set_free(&set);
}

static void test_json_document(void **state)
{
	static const char doc[] =
	    "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\","
	    "\"metadata\":{\"name\":\"j\",\"namespace\":\"x\"},"
	    "\"spec\":{\"podSelector\":{\"matchLabels\":{\"pod\":\"a\"}},"
	    "\"ingress\":[{\"from\":[{\"ipBlock\":{\"cidr\":\"192.168.0.0/16\"}}],"
	    "\"ports\":[{\"port\":\"serve-80-tcp\"},{\"port\":81,\"protocol\":\"UDP\"}]}]}}\n";
	struct mseg_policy_set set = {0};
	const struct mseg_rule *r;

	parse_ok(doc, &set);
	assert_int_equal(set.n_policies, 1);
	r = &set.policies[0].ingress_rules[0];
	assert_string_equal(r->ports[0].named_port, "serve-80-tcp");
	assert_int_equal(r->ports[1].port, 81);
	assert_int_equal(r->ports[1].proto, MSEG_PROTO_UDP);
	assert_int_equal(r->peers[0].ipblock.cidr.prefixlen, 16);
	mseg_policy_set_free(&set);
}

static void test_kubectl_list(void **state)
{
	static const char doc[] = "apiVersion: v1\n"
				  "kind: List\n"
				  "metadata: {resourceVersion: \"\"}\n"
				  "items:\n"
				  "  - apiVersion: networking.k8s.io/v1\n"
				  "    kind: NetworkPolicy\n"
				  "    metadata: {name: a, namespace: x}\n"
				  "    spec: {podSelector: {}}\n"
				  "  - apiVersion: networking.k8s.io/v1\n"
				  "    kind: NetworkPolicy\n"
				  "    metadata: {name: b, namespace: x}\n"
				  "    spec: {podSelector: {}}\n";
	struct mseg_policy_set set = {0};

	parse_ok(doc, &set);
	assert_int_equal(set.n_policies, 2);
	assert_string_equal(set.policies[1].name, "b");
	assert_int_equal(set.policies[1].line, 9);
	mseg_policy_set_free(&set);
}

static void test_appends_with_ids(void **state)
{
	static const char a[] = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
				"metadata: {name: a}\nspec: {podSelector: {}}\n";
	static const char b[] = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
				"metadata: {name: b}\nspec: {podSelector: {}}\n";
	struct mseg_policy_set set = {0};

	parse_ok(a, &set);
	parse_ok(b, &set);
	assert_int_equal(set.n_policies, 2);
	assert_int_equal(set.policies[0].id, 1);
	assert_int_equal(set.policies[1].id, 2);
	mseg_policy_set_free(&set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full_network_policy),
	    cmocka_unit_test(test_policy_types_defaulting),
	    cmocka_unit_test(test_null_pod_selector_is_empty),
	    cmocka_unit_test(test_json_document),
	    cmocka_unit_test(test_kubectl_list),
	    cmocka_unit_test(test_appends_with_ids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
