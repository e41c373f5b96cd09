// SPDX-License-Identifier: Apache-2.0
/*
 * The reference evaluator on hand-built model structs (no parser involved): every step of the
 * decision procedure, what decided each side, and the isolating set.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>

#include "policy/cidr.h"
#include "policy/evaluate.h"

#define IP(a, b, c, d) (((unsigned)(a) << 24) | ((b) << 16) | ((c) << 8) | (d))

/* ---- topology: namespaces x, y (listed) and z (not listed); four endpoints ------------ */

static struct mseg_label nsx_l[] = {{"kubernetes.io/metadata.name", "x"}, {"ns", "x"}};
static struct mseg_label nsy_l[] = {{"kubernetes.io/metadata.name", "y"}, {"ns", "y"}};
static struct mseg_namespace namespaces[] = {{"x", {nsx_l, 2}}, {"y", {nsy_l, 2}}};

static struct mseg_label pod_a[] = {{"pod", "a"}};
static struct mseg_label pod_b[] = {{"pod", "b"}};
static struct mseg_label pod_c[] = {{"pod", "c"}};
static struct mseg_named_port xa_ports[] = {{"serve-80-tcp", 80, MSEG_PROTO_TCP},
					    {"web", 8080, MSEG_PROTO_TCP}};
static struct mseg_named_port xb_ports[] = {{"web", 9090, MSEG_PROTO_TCP}};

static struct mseg_endpoint endpoints[4];
static struct mseg_topology topo;

#define XA (&endpoints[0])
#define XB (&endpoints[1])
#define YA (&endpoints[2])
#define ZC (&endpoints[3])

static int setup(void **state)
{
	(void)state;
	endpoints[0] = (struct mseg_endpoint){
	    1, "x", "a", {pod_a, 1}, xa_ports, 2, mseg_cidr_from_v4(IP(10, 0, 0, 1), 32)};
	endpoints[1] = (struct mseg_endpoint){
	    2, "x", "b", {pod_b, 1}, xb_ports, 1, mseg_cidr_from_v4(IP(10, 0, 0, 2), 32)};
	endpoints[2] = (struct mseg_endpoint){
	    3, "y", "a", {pod_a, 1}, NULL, 0, mseg_cidr_from_v4(IP(10, 0, 1, 1), 32)};
	endpoints[3] = (struct mseg_endpoint){
	    4, "z", "c", {pod_c, 1}, NULL, 0, mseg_cidr_from_v4(IP(10, 0, 2, 1), 32)};
	topo = (struct mseg_topology){namespaces, 2, endpoints, 4};
	return 0;
}

/* ---- building blocks ---------------------------------------------------------------- */

static struct mseg_flow tcp(const struct mseg_endpoint *s, const struct mseg_endpoint *d,
			    uint16_t port)
{
	return (struct mseg_flow){
	    .src = {.ep = s}, .dst = {.ep = d}, .proto = MSEG_PROTO_TCP, .port = port};
}

static struct mseg_eval_result eval(const struct mseg_policy *p, size_t n,
				    const struct mseg_flow *f, bool default_deny)
{
	struct mseg_policy_set set = {(struct mseg_policy *)p, n};
	struct mseg_compile_opts opts = {.default_deny = default_deny};
	struct mseg_eval_result r;

	assert_int_equal(mseg_evaluate(&topo, &set, &opts, f, &r), 0);
	return r;
}

static void assert_rule(const struct mseg_decider *d, uint32_t policy, uint16_t rule,
			enum mseg_dir dir)
{
	assert_int_equal(d->kind, MSEG_DECIDED_RULE);
	assert_int_equal(d->policy, policy);
	assert_int_equal(d->rule, rule);
	assert_int_equal(d->dir, dir);
}

/* A namespaced policy (NetworkPolicy unless kind says otherwise) selecting pod=<sel>. */
static struct mseg_policy ns_policy(uint32_t id, enum mseg_policy_kind kind, const char *ns,
				    struct mseg_label *sel, bool ingress, bool egress)
{
	return (struct mseg_policy){
	    .id = id,
	    .kind = kind,
	    .namespace = (char *)ns,
	    .name = "p",
	    .tier = MSEG_TIER_NAMESPACE,
	    .has_subject_ep = true,
	    .subject_ep = {.match_labels = {sel, sel ? 1 : 0}},
	    .ingress = ingress,
	    .egress = egress,
	};
}

static struct mseg_policy cluster_policy(uint32_t id, enum mseg_tier tier, int priority,
					 struct mseg_label *subject_pod)
{
	return (struct mseg_policy){
	    .id = id,
	    .kind = MSEG_KIND_CLUSTER_POLICY,
	    .name = "cp",
	    .tier = tier,
	    .priority = priority,
	    .has_subject_ep = subject_pod != NULL,
	    .subject_ep = {.match_labels = {subject_pod, subject_pod ? 1 : 0}},
	};
}

static struct mseg_port tcp_port(uint16_t lo, uint16_t hi)
{
	return (struct mseg_port){.proto = MSEG_PROTO_TCP,
				  .has_port = true,
				  .port = lo,
				  .end_port = hi,
				  .icmp_type = -1,
				  .icmp_code = -1};
}

/* ---- tests -------------------------------------------------------------------------- */

static void test_no_policy_default_allow_and_default_deny(void **state)
{
	struct mseg_flow f = tcp(XA, XB, 80);
	struct mseg_eval_result r = eval(NULL, 0, &f, false);

	(void)state;
	assert_int_equal(r.verdict, MSEG_VERDICT_ALLOW);
	assert_true(r.egress.applies && r.ingress.applies);
	assert_int_equal(r.egress.decided_by.kind, MSEG_DECIDED_DEFAULT);
	assert_int_equal(r.ingress.decided_by.kind, MSEG_DECIDED_DEFAULT);
	assert_int_equal(r.ingress.n_isolated_by, 0);
	mseg_eval_result_free(&r);

	r = eval(NULL, 0, &f, true);
	assert_int_equal(r.verdict, MSEG_VERDICT_DENY);
	assert_int_equal(r.egress.verdict, MSEG_VERDICT_DENY);
	assert_int_equal(r.ingress.decided_by.kind, MSEG_DECIDED_DEFAULT);
	mseg_eval_result_free(&r);
}

static void test_isolation_names_every_selecting_policy(void **state)
{
	/* two ingress policies select x/b, nothing allows: isolation by the lowest id, both
	 * listed; an egress-only policy of x/b and a policy of another pod are not in S */
	struct mseg_policy p[4] = {
	    ns_policy(7, MSEG_KIND_NETWORK_POLICY, "x", pod_b, true, false),
	    ns_policy(3, MSEG_KIND_NETWORK_POLICY, "x", NULL, true, false),
	    ns_policy(5, MSEG_KIND_NETWORK_POLICY, "x", pod_b, false, true),
	    ns_policy(9, MSEG_KIND_NETWORK_POLICY, "x", pod_a, true, false),
	};
	struct mseg_flow f = tcp(XA, XB, 80);
	struct mseg_eval_result r = eval(p, 4, &f, false);

	(void)state;
	assert_int_equal(r.verdict, MSEG_VERDICT_DENY);
	assert_int_equal(r.ingress.verdict, MSEG_VERDICT_DENY);
	assert_int_equal(r.ingress.decided_by.kind, MSEG_DECIDED_ISOLATION);
	assert_int_equal(r.ingress.decided_by.policy, 3);
	assert_int_equal(r.ingress.n_isolated_by, 2);
	assert_int_equal(r.ingress.isolated_by[0], 3);
	assert_int_equal(r.ingress.isolated_by[1], 7);
	/* egress at x/a: no egress policy selects it */
	assert_int_equal(r.egress.verdict, MSEG_VERDICT_ALLOW);
	assert_int_equal(r.egress.decided_by.kind, MSEG_DECIDED_DEFAULT);
	mseg_eval_result_free(&r);
}

static void test_allow_rule_pod_selector_stays_in_namespace(void **state)
{
	/* NetworkPolicy in x: allow from pod=a (podSelector only: namespace x only) */
	struct mseg_peer peer = {.kind = MSEG_PEER_ENDPOINTS,
				 .has_ep_sel = true,
				 .ep_sel = {.match_labels = {pod_a, 1}}};
	struct mseg_rule rule = {.action = MSEG_ACTION_ALLOW, .peers = &peer, .n_peers = 1};
	struct mseg_policy p = ns_policy(1, MSEG_KIND_NETWORK_POLICY, "x", pod_b, true, false);
	struct mseg_flow f1 = tcp(XA, XB, 80), f2 = tcp(YA, XB, 80);
	struct mseg_eval_result r;

	(void)state;
	p.ingress_rules = &rule;
	p.n_ingress_rules = 1;
	r = eval(&p, 1, &f1, false);
	assert_int_equal(r.verdict, MSEG_VERDICT_ALLOW);
	assert_rule(&r.ingress.decided_by, 1, 0, MSEG_DIR_INGRESS);
	assert_int_equal(r.ingress.n_isolated_by, 1);
	mseg_eval_result_free(&r);

	r = eval(&p, 1, &f2, false); /* y/a also has pod=a but lives in y */
	assert_int_equal(r.verdict, MSEG_VERDICT_DENY);
	assert_int_equal(r.ingress.decided_by.kind, MSEG_DECIDED_ISOLATION);
	mseg_eval_result_free(&r);
}

static void test_namespace_selector_and_unlisted_namespace(void **state)
{
	/* from namespaceSelector {kubernetes.io/metadata.name: z}: z is not listed in the
	 * topology but still carries its automatic label */
	struct mseg_label z_name[] = {{"kubernetes.io/metadata.name", "z"}};
	struct mseg_peer peer = {.kind = MSEG_PEER_ENDPOINTS,
				 .has_ns_sel = true,
				 .ns_sel = {.match_labels = {z_name, 1}}};
	struct mseg_rule rule = {.action = MSEG_ACTION_ALLOW, .peers = &peer, .n_peers = 1};
	struct mseg_policy p = ns_policy(1, MSEG_KIND_NETWORK_POLICY, "x", NULL, true, false);
	struct mseg_flow f1 = tcp(ZC, XA, 80), f2 = tcp(YA, XA, 80);
	struct mseg_eval_result r;

	(void)state;
	p.ingress_rules = &rule;
	p.n_ingress_rules = 1;
	r = eval(&p, 1, &f1, false);
	assert_int_equal(r.verdict, MSEG_VERDICT_ALLOW);
	mseg_eval_result_free(&r);
	r = eval(&p, 1, &f2, false);
	assert_int_equal(r.verdict, MSEG_VERDICT_DENY);
	mseg_eval_result_free(&r);
}

static void test_deny_beats_allow_first_by_id(void **state)
{
	struct mseg_rule allow = {.action = MSEG_ACTION_ALLOW};
	struct mseg_rule deny[2] = {{.action = MSEG_ACTION_DENY, .n_ports = 1},
				    {.action = MSEG_ACTION_DENY}};
	struct mseg_port p80 = tcp_port(80, 80);
	struct mseg_policy p[3] = {
	    ns_policy(2, MSEG_KIND_NETWORK_POLICY, "x", NULL, true, false),
	    ns_policy(6, MSEG_KIND_POLICY, "x", NULL, true, false),
	    ns_policy(4, MSEG_KIND_POLICY, "x", NULL, true, false),
	};
	struct mseg_flow f80 = tcp(YA, XB, 80), f81 = tcp(YA, XB, 81);
	struct mseg_eval_result r;

	(void)state;
	deny[0].ports = &p80;
	p[0].ingress_rules = &allow, p[0].n_ingress_rules = 1;
	p[1].ingress_rules = deny, p[1].n_ingress_rules = 2; /* deny all (rule 1) */
	p[2].ingress_rules = deny, p[2].n_ingress_rules = 1; /* deny port 80 */
	r = eval(p, 3, &f80, false);
	assert_int_equal(r.verdict, MSEG_VERDICT_DENY);
	assert_rule(&r.ingress.decided_by, 4, 0, MSEG_DIR_INGRESS); /* id 4 before id 6 */
	mseg_eval_result_free(&r);
	r = eval(p, 3, &f81, false);
	assert_int_equal(r.verdict, MSEG_VERDICT_DENY);
	assert_rule(&r.ingress.decided_by, 6, 1, MSEG_DIR_INGRESS);
	assert_int_equal(r.ingress.n_isolated_by, 3);
	mseg_eval_result_free(&r);
}

static void test_admin_tier_priority_and_pass(void **state)
{
	struct mseg_rule allow = {.action = MSEG_ACTION_ALLOW};
	struct mseg_rule deny = {.action = MSEG_ACTION_DENY};
	struct mseg_rule pass = {.action = MSEG_ACTION_PASS};
	struct mseg_policy p[3] = {
	    cluster_policy(1, MSEG_TIER_ADMIN, 20, pod_b),
	    cluster_policy(2, MSEG_TIER_ADMIN, 10, NULL),
	    ns_policy(3, MSEG_KIND_NETWORK_POLICY, "x", pod_b, true, false), /* isolates */
	};
	struct mseg_flow f = tcp(XA, XB, 80);
	struct mseg_eval_result r;

	(void)state;
	p[0].ingress = true, p[0].ingress_rules = &allow, p[0].n_ingress_rules = 1;
	p[1].ingress = true, p[1].ingress_rules = &deny, p[1].n_ingress_rules = 1;
	/* priority 10 (deny) before 20 (allow) although its id is higher */
	r = eval(p, 3, &f, false);
	assert_int_equal(r.verdict, MSEG_VERDICT_DENY);
	assert_rule(&r.ingress.decided_by, 2, 0, MSEG_DIR_INGRESS);
	mseg_eval_result_free(&r);

	/* equal priority: the lower id first */
	p[1].priority = 20;
	r = eval(p, 3, &f, false);
	assert_int_equal(r.verdict, MSEG_VERDICT_ALLOW);
	assert_rule(&r.ingress.decided_by, 1, 0, MSEG_DIR_INGRESS); /* over the isolation */
	mseg_eval_result_free(&r);

	/* pass at the top skips the rest of the admin tier: the namespace tier isolates */
	p[1].priority = 5;
	p[1].ingress_rules = &pass;
	r = eval(p, 3, &f, false);
	assert_int_equal(r.verdict, MSEG_VERDICT_DENY);
	assert_int_equal(r.ingress.decided_by.kind, MSEG_DECIDED_ISOLATION);
	assert_int_equal(r.ingress.decided_by.policy, 3);
	mseg_eval_result_free(&r);
}

static void test_baseline_only_for_unselected(void **state)
{
	struct mseg_rule deny = {.action = MSEG_ACTION_DENY};
	struct mseg_rule allow = {.action = MSEG_ACTION_ALLOW};
	struct mseg_policy p[2] = {
	    cluster_policy(1, MSEG_TIER_BASELINE, 0, NULL),
	    ns_policy(2, MSEG_KIND_NETWORK_POLICY, "x", pod_b, true, false),
	};
	struct mseg_flow to_b = tcp(YA, XB, 80), to_a = tcp(YA, XA, 80);
	struct mseg_eval_result r;

	(void)state;
	p[0].ingress = true, p[0].ingress_rules = &deny, p[0].n_ingress_rules = 1;
	p[1].ingress_rules = &allow, p[1].n_ingress_rules = 1;
	r = eval(p, 2, &to_b, false); /* selected by p2: baseline never consulted */
	assert_int_equal(r.verdict, MSEG_VERDICT_ALLOW);
	assert_rule(&r.ingress.decided_by, 2, 0, MSEG_DIR_INGRESS);
	mseg_eval_result_free(&r);
	r = eval(p, 2, &to_a, false); /* unselected: baseline denies */
	assert_int_equal(r.verdict, MSEG_VERDICT_DENY);
	assert_rule(&r.ingress.decided_by, 1, 0, MSEG_DIR_INGRESS);
	assert_int_equal(r.ingress.n_isolated_by, 0);
	mseg_eval_result_free(&r);
}

static void test_audit_never_denies_but_reports(void **state)
{
	struct mseg_rule deny = {.action = MSEG_ACTION_DENY};
	struct mseg_policy p = ns_policy(4, MSEG_KIND_POLICY, "x", pod_b, true, false);
	struct mseg_flow f = tcp(XA, XB, 80);
	struct mseg_eval_result r;

	(void)state;
	p.mode = MSEG_MODE_AUDIT;
	p.ingress_rules = &deny, p.n_ingress_rules = 1;
	r = eval(&p, 1, &f, false);
	assert_int_equal(r.verdict, MSEG_VERDICT_ALLOW);
	assert_true(r.audit);
	assert_true(r.ingress.audit);
	assert_false(r.egress.audit);
	assert_int_equal(r.ingress.decided_by.kind, MSEG_DECIDED_DEFAULT);
	assert_rule(&r.ingress.audit_by, 4, 0, MSEG_DIR_INGRESS);
	/* an audit policy does not isolate either */
	assert_int_equal(r.ingress.n_isolated_by, 0);
	mseg_eval_result_free(&r);

	/* enforced, the same policy denies, and audit stays off */
	p.mode = MSEG_MODE_ENFORCE;
	r = eval(&p, 1, &f, false);
	assert_int_equal(r.verdict, MSEG_VERDICT_DENY);
	assert_false(r.audit);
	assert_false(r.ingress.audit);
	mseg_eval_result_free(&r);
}

static void test_named_port_resolves_at_destination(void **state)
{
	/* egress from x/a to port "web": resolves on the destination (x/b: 9090), not on x/a */
	struct mseg_port web = {
	    .proto = MSEG_PROTO_TCP, .named_port = "web", .icmp_type = -1, .icmp_code = -1};
	struct mseg_rule rule = {.action = MSEG_ACTION_ALLOW, .ports = &web, .n_ports = 1};
	struct mseg_policy p = ns_policy(1, MSEG_KIND_NETWORK_POLICY, "x", pod_a, false, true);
	struct mseg_flow f;
	struct mseg_eval_result r;

	(void)state;
	p.egress_rules = &rule, p.n_egress_rules = 1;
	f = tcp(XA, XB, 9090);
	r = eval(&p, 1, &f, false);
	assert_int_equal(r.verdict, MSEG_VERDICT_ALLOW);
	assert_rule(&r.egress.decided_by, 1, 0, MSEG_DIR_EGRESS);
	mseg_eval_result_free(&r);
	f = tcp(XA, XB, 8080); /* x/a's own "web" */
	r = eval(&p, 1, &f, false);
	assert_int_equal(r.verdict, MSEG_VERDICT_DENY);
	mseg_eval_result_free(&r);
	f = tcp(XA, YA, 8080); /* y/a declares no ports */
	r = eval(&p, 1, &f, false);
	assert_int_equal(r.verdict, MSEG_VERDICT_DENY);
	mseg_eval_result_free(&r);
	/* to a bare address a named port never matches */
	f = (struct mseg_flow){.src = {.ep = XA},
			       .dst = {.ip = mseg_cidr_from_v4(IP(192, 0, 2, 1), 32)},
			       .proto = MSEG_PROTO_TCP,
			       .port = 9090};
	r = eval(&p, 1, &f, false);
	assert_int_equal(r.verdict, MSEG_VERDICT_DENY);
	assert_false(r.ingress.applies);
	mseg_eval_result_free(&r);
}

static void test_ipblock_except_matches_pod_addresses(void **state)
{
	struct mseg_cidr except = mseg_cidr_from_v4(IP(10, 0, 0, 2), 32);
	struct mseg_peer peer = {.kind = MSEG_PEER_IPBLOCK,
				 .ipblock = {mseg_cidr_from_v4(IP(10, 0, 0, 0), 16), &except, 1}};
	struct mseg_rule rule = {.action = MSEG_ACTION_ALLOW, .peers = &peer, .n_peers = 1};
	struct mseg_policy p = ns_policy(1, MSEG_KIND_NETWORK_POLICY, "y", NULL, true, false);
	struct mseg_flow f;
	struct mseg_eval_result r;

	(void)state;
	p.ingress_rules = &rule, p.n_ingress_rules = 1;
	f = tcp(XA, YA, 80);
	r = eval(&p, 1, &f, false);
	assert_int_equal(r.verdict, MSEG_VERDICT_ALLOW);
	mseg_eval_result_free(&r);
	f = tcp(XB, YA, 80); /* 10.0.0.2 is excepted */
	r = eval(&p, 1, &f, false);
	assert_int_equal(r.verdict, MSEG_VERDICT_DENY);
	mseg_eval_result_free(&r);
	/* a bare address inside the block: egress side does not apply, ingress allows */
	f = (struct mseg_flow){.src = {.ip = mseg_cidr_from_v4(IP(10, 0, 9, 9), 32)},
			       .dst = {.ep = YA},
			       .proto = MSEG_PROTO_UDP,
			       .port = 53};
	r = eval(&p, 1, &f, false);
	assert_false(r.egress.applies);
	assert_int_equal(r.verdict, MSEG_VERDICT_ALLOW);
	mseg_eval_result_free(&r);
	/* outside the block */
	f.src.ip = mseg_cidr_from_v4(IP(10, 1, 0, 1), 32);
	r = eval(&p, 1, &f, false);
	assert_int_equal(r.verdict, MSEG_VERDICT_DENY);
	mseg_eval_result_free(&r);
}

static void test_ports_protocol_and_end_port(void **state)
{
	struct mseg_port ports[2] = {tcp_port(8000, 8100),
				     {.proto = MSEG_PROTO_UDP, .icmp_type = -1, .icmp_code = -1}};
	struct mseg_rule rule = {.action = MSEG_ACTION_ALLOW, .ports = ports, .n_ports = 2};
	struct mseg_policy p = ns_policy(1, MSEG_KIND_NETWORK_POLICY, "x", NULL, true, false);
	struct mseg_flow f = tcp(YA, XA, 8000);
	struct mseg_eval_result r;
	struct {
		uint8_t proto;
		uint16_t port;
		uint8_t want;
	} cases[] = {
	    {MSEG_PROTO_TCP, 7999, MSEG_VERDICT_DENY},	{MSEG_PROTO_TCP, 8000, MSEG_VERDICT_ALLOW},
	    {MSEG_PROTO_TCP, 8100, MSEG_VERDICT_ALLOW}, {MSEG_PROTO_TCP, 8101, MSEG_VERDICT_DENY},
	    {MSEG_PROTO_UDP, 1, MSEG_VERDICT_ALLOW},	{MSEG_PROTO_UDP, 65535, MSEG_VERDICT_ALLOW},
	    {MSEG_PROTO_SCTP, 8000, MSEG_VERDICT_DENY},
	};

	(void)state;
	p.ingress_rules = &rule, p.n_ingress_rules = 1;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		f.proto = cases[i].proto;
		f.port = cases[i].port;
		r = eval(&p, 1, &f, false);
		assert_int_equal(r.verdict, cases[i].want);
		mseg_eval_result_free(&r);
	}
}

static void test_icmp_type_and_code(void **state)
{
	struct mseg_port echo = {.proto = MSEG_PROTO_ICMP, .icmp_type = 8, .icmp_code = -1};
	struct mseg_rule rule = {.action = MSEG_ACTION_DENY, .ports = &echo, .n_ports = 1};
	struct mseg_policy p = ns_policy(1, MSEG_KIND_POLICY, "x", NULL, true, false);
	struct mseg_flow f = {.src = {.ep = YA}, .dst = {.ep = XA}, .proto = MSEG_PROTO_ICMP};
	struct mseg_eval_result r;

	(void)state;
	p.ingress_rules = &rule, p.n_ingress_rules = 1;
	f.port = 8 << 8 | 3;
	r = eval(&p, 1, &f, false);
	assert_int_equal(r.verdict, MSEG_VERDICT_DENY);
	assert_rule(&r.ingress.decided_by, 1, 0, MSEG_DIR_INGRESS);
	mseg_eval_result_free(&r);
	/* type 0: the deny does not match, and the policy isolates (S is not empty) */
	f.port = 0;
	r = eval(&p, 1, &f, false);
	assert_int_equal(r.verdict, MSEG_VERDICT_DENY);
	assert_int_equal(r.ingress.decided_by.kind, MSEG_DECIDED_ISOLATION);
	mseg_eval_result_free(&r);
	echo.icmp_code = 0;
	f.port = 8 << 8 | 3;
	rule.action = MSEG_ACTION_ALLOW;
	r = eval(&p, 1, &f, false);
	assert_int_equal(r.ingress.decided_by.kind, MSEG_DECIDED_ISOLATION);
	mseg_eval_result_free(&r);
	f.port = 8 << 8;
	r = eval(&p, 1, &f, false);
	assert_int_equal(r.verdict, MSEG_VERDICT_ALLOW);
	mseg_eval_result_free(&r);
}

static void test_cluster_peer_by_endpoint_spans_namespaces(void **state)
{
	/* a ClusterPolicy endpointSelector-only peer matches pod=a in every namespace */
	struct mseg_peer peer = {.kind = MSEG_PEER_ENDPOINTS,
				 .has_ep_sel = true,
				 .ep_sel = {.match_labels = {pod_a, 1}}};
	struct mseg_rule rule = {.action = MSEG_ACTION_DENY, .peers = &peer, .n_peers = 1};
	struct mseg_policy p = cluster_policy(1, MSEG_TIER_ADMIN, 0, NULL);
	struct mseg_flow f = tcp(XB, YA, 80);
	struct mseg_eval_result r;

	(void)state;
	p.egress = true, p.egress_rules = &rule, p.n_egress_rules = 1;
	r = eval(&p, 1, &f, false);
	assert_int_equal(r.verdict, MSEG_VERDICT_DENY);
	assert_rule(&r.egress.decided_by, 1, 0, MSEG_DIR_EGRESS);
	assert_int_equal(r.ingress.decided_by.kind, MSEG_DECIDED_DEFAULT);
	mseg_eval_result_free(&r);
	f = tcp(XA, XB, 80);
	r = eval(&p, 1, &f, false);
	assert_int_equal(r.verdict, MSEG_VERDICT_ALLOW);
	mseg_eval_result_free(&r);
}

static void test_audit_admin_policy_is_skipped_for_the_real_verdict(void **state)
{
	/* an audit admin deny sits above an enforced isolating policy with an allow rule:
	 * the real verdict is the namespace tier's allow, audit names the admin rule */
	struct mseg_rule deny = {.action = MSEG_ACTION_DENY};
	struct mseg_rule allow = {.action = MSEG_ACTION_ALLOW};
	struct mseg_policy p[2] = {
	    cluster_policy(1, MSEG_TIER_ADMIN, 0, NULL),
	    ns_policy(2, MSEG_KIND_NETWORK_POLICY, "x", pod_b, true, false),
	};
	struct mseg_flow f = tcp(YA, XB, 80);
	struct mseg_eval_result r;

	(void)state;
	p[0].mode = MSEG_MODE_AUDIT;
	p[0].ingress = true, p[0].ingress_rules = &deny, p[0].n_ingress_rules = 1;
	p[1].ingress_rules = &allow, p[1].n_ingress_rules = 1;
	r = eval(p, 2, &f, false);
	assert_int_equal(r.verdict, MSEG_VERDICT_ALLOW);
	assert_true(r.audit);
	assert_rule(&r.ingress.decided_by, 2, 0, MSEG_DIR_INGRESS);
	assert_rule(&r.ingress.audit_by, 1, 0, MSEG_DIR_INGRESS);
	assert_int_equal(r.ingress.n_isolated_by, 1);
	mseg_eval_result_free(&r);

	/* a real deny is never flagged as audit */
	p[1].n_ingress_rules = 0;
	r = eval(p, 2, &f, false);
	assert_int_equal(r.verdict, MSEG_VERDICT_DENY);
	assert_false(r.audit);
	assert_false(r.ingress.audit);
	mseg_eval_result_free(&r);
}

static void test_bad_flow_rejected(void **state)
{
	struct mseg_flow f = tcp(XA, XB, 80);
	struct mseg_eval_result r;

	(void)state;
	f.proto = MSEG_PROTO_ANY;
	assert_int_equal(mseg_evaluate(&topo, NULL, NULL, &f, &r), -EINVAL);
	f = tcp(NULL, XB, 80); /* neither endpoint nor address */
	assert_int_equal(mseg_evaluate(&topo, NULL, NULL, &f, &r), -EINVAL);
	assert_null(mseg_topology_namespace(&topo, "z"));
	assert_ptr_equal(mseg_topology_namespace(&topo, "y"), &namespaces[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_no_policy_default_allow_and_default_deny),
	    cmocka_unit_test(test_isolation_names_every_selecting_policy),
	    cmocka_unit_test(test_allow_rule_pod_selector_stays_in_namespace),
	    cmocka_unit_test(test_namespace_selector_and_unlisted_namespace),
	    cmocka_unit_test(test_deny_beats_allow_first_by_id),
	    cmocka_unit_test(test_admin_tier_priority_and_pass),
	    cmocka_unit_test(test_baseline_only_for_unselected),
	    cmocka_unit_test(test_audit_never_denies_but_reports),
	    cmocka_unit_test(test_named_port_resolves_at_destination),
	    cmocka_unit_test(test_ipblock_except_matches_pod_addresses),
	    cmocka_unit_test(test_ports_protocol_and_end_port),
	    cmocka_unit_test(test_icmp_type_and_code),
	    cmocka_unit_test(test_cluster_peer_by_endpoint_spans_namespaces),
	    cmocka_unit_test(test_audit_admin_policy_is_skipped_for_the_real_verdict),
	    cmocka_unit_test(test_bad_flow_rejected),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
