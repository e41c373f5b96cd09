// SPDX-License-Identifier: Apache-2.0
/* Object names of table inet mseg and the NFLOG prefix that carries a decision. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "agent/datapath_nft.h"
#include "bpf/abi.h"
#include "lib/macro.h"

static void test_endpoint_base_readable_and_escaped(void **state)
{
	char buf[MSEG_NFT_NAME_MAX - 16], other[MSEG_NFT_NAME_MAX - 16];
	char longname[200];

	assert_int_equal(mseg_nft_endpoint_base(buf, sizeof(buf), "prod", "web-1", 7), 0);
	assert_string_equal(buf, "ep_prod_web-1");
	/* anything outside [a-z0-9-] is escaped, so the mapping stays one-to-one */
	assert_int_equal(mseg_nft_endpoint_base(buf, sizeof(buf), "a_b", "c", 1), 0);
	assert_string_equal(buf, "ep_a_5fb_c");
	assert_int_equal(mseg_nft_endpoint_base(other, sizeof(other), "a", "b_c", 2), 0);
	assert_string_equal(other, "ep_a_b_5fc");
	assert_string_not_equal(buf, other);
	assert_int_equal(mseg_nft_endpoint_base(buf, sizeof(buf), "Prod", "x.y", 1), 0);
	assert_string_equal(buf, "ep__50rod_x_2ey");
	/* too long for a set name with its suffix: the endpoint id instead */
	memset(longname, '_', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(mseg_nft_endpoint_base(buf, sizeof(buf), "x", longname, 42), 0);
	assert_string_equal(buf, "ep_42");
	assert_true(strlen(buf) + strlen("_out_clsany") < MSEG_NFT_NAME_MAX);
	/* a missing name too */
	assert_int_equal(mseg_nft_endpoint_base(buf, sizeof(buf), "", "a", 9), 0);
	assert_string_equal(buf, "ep_9");
	assert_int_equal(mseg_nft_endpoint_base(buf, 8, "x", "a", 9), -ENOBUFS);
}

static void test_decision_names(void **state)
{
	char buf[MSEG_NFT_NAME_MAX];
	struct mseg_nft_decision d = {
	    .dir = MSEG_DIR_INGRESS,
	    .verdict = MSEG_VERDICT_ALLOW,
	    .by = {.kind = MSEG_DECIDED_RULE, .policy = 5, .rule = 3, .dir = MSEG_DIR_INGRESS},
	};
	struct mseg_nft_decision e = d;

	assert_int_equal(mseg_nft_decision_name(buf, sizeof(buf), &d), 0);
	assert_string_equal(buf, "allow_p5_ing3_in");
	d.dir = MSEG_DIR_EGRESS;
	d.verdict = MSEG_VERDICT_DENY;
	d.by.dir = MSEG_DIR_EGRESS;
	assert_int_equal(mseg_nft_decision_name(buf, sizeof(buf), &d), 0);
	assert_string_equal(buf, "deny_p5_egr3_out");
	d.by = (struct mseg_decider){.kind = MSEG_DECIDED_ISOLATION, .policy = 2};
	assert_int_equal(mseg_nft_decision_name(buf, sizeof(buf), &d), 0);
	assert_string_equal(buf, "deny_iso_p2_out");
	d.by = (struct mseg_decider){.kind = MSEG_DECIDED_DEFAULT};
	assert_int_equal(mseg_nft_decision_name(buf, sizeof(buf), &d), 0);
	assert_string_equal(buf, "deny_default_out");
	d.verdict = MSEG_VERDICT_ALLOW;
	d.audit = 1;
	d.audit_by = (struct mseg_decider){
	    .kind = MSEG_DECIDED_RULE, .policy = 4, .rule = 0, .dir = MSEG_DIR_EGRESS};
	assert_int_equal(mseg_nft_decision_name(buf, sizeof(buf), &d), 0);
	assert_string_equal(buf, "audit_default_by_p4_egr0_out");
	d = (struct mseg_nft_decision){
	    .dir = MSEG_DIR_EGRESS, .special = true, .reason = MSEG_DROP_SPOOFED_IP};
	assert_int_equal(mseg_nft_decision_name(buf, sizeof(buf), &d), 0);
	assert_string_equal(buf, "drop_spoofed_ip_out");
	assert_int_equal(mseg_nft_decision_name(buf, 5, &d), -ENOBUFS);

	/* equality ignores fields a decision does not use */
	e.by.rule = 3;
	d = e;
	d.audit_by.policy = 99; /* no audit: audit_by is noise */
	assert_true(mseg_nft_decision_equal(&d, &e));
	d.by.rule = 4;
	assert_false(mseg_nft_decision_equal(&d, &e));
}

/* Rule hits read the counters back by name: every decision's name gives its decider. */
static void test_decision_name_parse(void **state)
{
	const struct mseg_nft_decision ds[] = {
	    {.dir = MSEG_DIR_INGRESS,
	     .verdict = MSEG_VERDICT_ALLOW,
	     .by = {.kind = MSEG_DECIDED_RULE, .policy = 3, .rule = 0, .dir = MSEG_DIR_INGRESS}},
	    {.dir = MSEG_DIR_EGRESS,
	     .verdict = MSEG_VERDICT_DENY,
	     .reason = MSEG_DROP_POLICY_DENY,
	     .by = {.kind = MSEG_DECIDED_RULE,
		    .policy = 4000000000u,
		    .rule = 65535,
		    .dir = MSEG_DIR_EGRESS}},
	    {.dir = MSEG_DIR_EGRESS,
	     .verdict = MSEG_VERDICT_DENY,
	     .reason = MSEG_DROP_ISOLATED,
	     .by = {.kind = MSEG_DECIDED_ISOLATION, .policy = 2, .dir = MSEG_DIR_EGRESS}},
	    {.dir = MSEG_DIR_INGRESS,
	     .verdict = MSEG_VERDICT_ALLOW,
	     .audit = 1,
	     .by = {.kind = MSEG_DECIDED_RULE, .policy = 1, .rule = 7, .dir = MSEG_DIR_INGRESS},
	     .audit_by =
		 {.kind = MSEG_DECIDED_RULE, .policy = 4, .rule = 2, .dir = MSEG_DIR_INGRESS}},
	    {.dir = MSEG_DIR_INGRESS,
	     .verdict = MSEG_VERDICT_ALLOW,
	     .by = {.kind = MSEG_DECIDED_DEFAULT, .dir = MSEG_DIR_INGRESS}},
	};
	static const char *const bad[] = {
	    "drop_spoofed_ip_out", "allow_p3_ing0",   "allow_p3_ing0_up",
	    "allow_p_ing0_in",	   "allow_p3_in0_in", "audit_p1_ing7_in",
	    "deny_iso_p2_out_",	   "counter",	      "allow_p3_ing70000_in",
	};
	struct mseg_decider by;
	char name[MSEG_NFT_NAME_MAX];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(ds); i++) {
		assert_int_equal(mseg_nft_decision_name(name, sizeof(name), &ds[i]), 0);
		assert_int_equal(mseg_nft_decision_name_parse(name, &by), 0);
		assert_int_equal(by.kind, ds[i].by.kind);
		assert_int_equal(by.policy, ds[i].by.policy);
		assert_int_equal(by.rule, ds[i].by.rule);
		assert_int_equal(by.dir, ds[i].by.dir);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(mseg_nft_decision_name_parse(bad[i], &by), -EINVAL);

	/* the sums the hits are read from: one per decider, variants added up */
	const struct mseg_nft_hit hits[] = {
	    {.by = {.kind = MSEG_DECIDED_RULE, .policy = 3, .rule = 1, .dir = MSEG_DIR_EGRESS},
	     .packets = 5,
	     .bytes = 500},
	    {.by = {.kind = MSEG_DECIDED_ISOLATION, .policy = 3, .dir = MSEG_DIR_INGRESS},
	     .packets = 20,
	     .bytes = 600},
	};
	struct mseg_decider q = {
	    .kind = MSEG_DECIDED_RULE, .policy = 3, .rule = 1, .dir = MSEG_DIR_EGRESS};
	uint64_t pk = 0, bytes = 0;

	assert_true(mseg_nft_hits_find(hits, ARRAY_SIZE(hits), &q, &pk, &bytes));
	assert_int_equal(pk, 5);
	assert_int_equal(bytes, 500);
	q.dir = MSEG_DIR_INGRESS;
	assert_false(mseg_nft_hits_find(hits, ARRAY_SIZE(hits), &q, &pk, &bytes));
	q = (struct mseg_decider){
	    .kind = MSEG_DECIDED_ISOLATION, .policy = 3, .dir = MSEG_DIR_INGRESS};
	assert_true(mseg_nft_hits_find(hits, ARRAY_SIZE(hits), &q, &pk, &bytes));
	assert_int_equal(pk, 20);
}

static void test_log_prefix_round_trip(void **state)
{
	char buf[128];
	uint8_t verdict, dir;
	uint16_t reason;
	struct mseg_decider by;
	struct mseg_nft_decision d = {
	    .dir = MSEG_DIR_EGRESS,
	    .verdict = MSEG_VERDICT_DENY,
	    .reason = MSEG_DROP_POLICY_DENY,
	    .by = {.kind = MSEG_DECIDED_RULE,
		   .policy = 4000000000u,
		   .rule = 65535,
		   .dir = MSEG_DIR_EGRESS},
	};

	assert_int_equal(mseg_nft_log_prefix(buf, sizeof(buf), &d), 0);
	assert_string_equal(buf, "mseg:D:o:1:R:4000000000:e:65535");
	assert_int_equal(mseg_nft_log_prefix_parse(buf, &verdict, &dir, &reason, &by), 0);
	assert_int_equal(verdict, MSEG_EVENT_DROPPED);
	assert_int_equal(dir, MSEG_DIR_EGRESS);
	assert_int_equal(reason, MSEG_DROP_POLICY_DENY);
	assert_int_equal(by.kind, MSEG_DECIDED_RULE);
	assert_int_equal(by.policy, 4000000000u);
	assert_int_equal(by.rule, 65535);
	assert_int_equal(by.dir, MSEG_DIR_EGRESS);

	/* audit: allowed, the event names the policy that would have dropped */
	d = (struct mseg_nft_decision){
	    .dir = MSEG_DIR_INGRESS,
	    .verdict = MSEG_VERDICT_ALLOW,
	    .audit = 1,
	    .reason = MSEG_DROP_ISOLATED,
	    .by = {.kind = MSEG_DECIDED_DEFAULT},
	    .audit_by = {.kind = MSEG_DECIDED_ISOLATION, .policy = 7},
	};
	assert_int_equal(mseg_nft_log_prefix(buf, sizeof(buf), &d), 0);
	assert_string_equal(buf, "mseg:A:i:2:I:7:i:0");
	assert_int_equal(mseg_nft_log_prefix_parse(buf, &verdict, &dir, &reason, &by), 0);
	assert_int_equal(verdict, MSEG_EVENT_AUDIT);
	assert_int_equal(by.kind, MSEG_DECIDED_ISOLATION);
	assert_int_equal(by.policy, 7);

	/* a plain allow, logged by msegd --flows: forwarded, with the allowing rule */
	d = (struct mseg_nft_decision){
	    .dir = MSEG_DIR_INGRESS,
	    .verdict = MSEG_VERDICT_ALLOW,
	    .by = {.kind = MSEG_DECIDED_RULE, .policy = 3, .rule = 2, .dir = MSEG_DIR_INGRESS},
	};
	assert_int_equal(mseg_nft_log_prefix(buf, sizeof(buf), &d), 0);
	assert_string_equal(buf, "mseg:F:i:0:R:3:i:2");
	assert_int_equal(mseg_nft_log_prefix_parse(buf, &verdict, &dir, &reason, &by), 0);
	assert_int_equal(verdict, MSEG_EVENT_FORWARDED);
	assert_int_equal(dir, MSEG_DIR_INGRESS);
	assert_int_equal(reason, 0);
	assert_int_equal(by.kind, MSEG_DECIDED_RULE);
	assert_int_equal(by.policy, 3);
	assert_int_equal(by.rule, 2);

	/* special drops name no policy */
	d = (struct mseg_nft_decision){
	    .dir = MSEG_DIR_EGRESS, .special = true, .reason = MSEG_DROP_SPOOFED_MAC};
	assert_int_equal(mseg_nft_log_prefix(buf, sizeof(buf), &d), 0);
	assert_int_equal(mseg_nft_log_prefix_parse(buf, &verdict, &dir, &reason, &by), 0);
	assert_int_equal(reason, MSEG_DROP_SPOOFED_MAC);
	assert_int_equal((int)by.kind, MSEG_ABI_DECIDED_NONE);
}

static void test_log_prefix_rejects_foreign(void **state)
{
	static const char *const bad[] = {
	    "",
	    "mseg",
	    "mseg:",
	    "other:D:o:1:R:1:e:0",
	    "mseg:X:o:1:R:1:e:0",
	    "mseg:f:o:0:R:1:e:0",
	    "mseg:D:x:1:R:1:e:0",
	    "mseg:D:o:99:R:1:e:0",
	    "mseg:D:o:1:Q:1:e:0",
	    "mseg:D:o:1:R:-1:e:0",
	    "mseg:D:o:1:R:1:x:0",
	    "mseg:D:o:1:R:1:e:70000",
	    "mseg:D:o:1:R:1:e:0 ",
	    "mseg:D:o:1:R:99999999999:e:0",
	    "mseg:D:o:1:R::e:0",
	};
	uint8_t verdict, dir;
	uint16_t reason;
	struct mseg_decider by;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(mseg_nft_log_prefix_parse(bad[i], &verdict, &dir, &reason, &by),
				 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_endpoint_base_readable_and_escaped),
	    cmocka_unit_test(test_decision_names),
	    cmocka_unit_test(test_decision_name_parse),
	    cmocka_unit_test(test_log_prefix_round_trip),
	    cmocka_unit_test(test_log_prefix_rejects_foreign),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
