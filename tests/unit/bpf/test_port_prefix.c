// SPDX-License-Identifier: Apache-2.0
/* Port range -> aligned blocks (agent/datapath_bpf_maps.c), and the table encoders: pure. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agent/datapath_bpf.h"

/* Checks that blocks cover exactly [lo, hi], are aligned, ascending and minimal in count. */
static void check_range(unsigned lo, unsigned hi)
{
	struct mseg_port_prefix pp[MSEG_PORT_PREFIXES_MAX];
	size_t n = mseg_bpf_port_prefixes((uint16_t)lo, (uint16_t)hi, pp);
	uint32_t next = lo;

	assert_true(n >= 1 && n <= 30);
	for (size_t i = 0; i < n; i++) {
		uint32_t size = 1u << (16 - pp[i].plen);

		assert_true(pp[i].plen <= 16);
		assert_int_equal(pp[i].port, next);	      /* contiguous, ascending */
		assert_int_equal(pp[i].port & (size - 1), 0); /* aligned */
		next += size;
		/* Minimal: two neighbours that could merge into one aligned block never occur. */
		if (i + 1 < n && pp[i + 1].plen == pp[i].plen && pp[i].plen > 0 &&
		    (pp[i].port & ((size << 1) - 1)) == 0)
			fail_msg("blocks %u/%u and %u/%u of [%u,%u] should be one", pp[i].port,
				 pp[i].plen, pp[i + 1].port, pp[i + 1].plen, lo, hi);
	}
	assert_int_equal(next, hi + 1);
}

static void test_exhaustive_small(void **state)
{
	/* Every range inside [0, 300] and around the top of the port space. */
	for (unsigned lo = 0; lo <= 300; lo++)
		for (unsigned hi = lo; hi <= 300; hi++)
			check_range(lo, hi);
	for (unsigned lo = 65235; lo <= 65535; lo++)
		for (unsigned hi = lo; hi <= 65535; hi++)
			check_range(lo, hi);
}

static void test_known_splits(void **state)
{
	struct mseg_port_prefix pp[MSEG_PORT_PREFIXES_MAX];

	assert_int_equal(mseg_bpf_port_prefixes(0, 65535, pp), 1);
	assert_int_equal(pp[0].plen, 0);
	assert_int_equal(mseg_bpf_port_prefixes(80, 80, pp), 1);
	assert_int_equal(pp[0].plen, 16);
	assert_int_equal(pp[0].port, 80);
	/* The worst case: 30 blocks. */
	assert_int_equal(mseg_bpf_port_prefixes(1, 65534, pp), 30);
	/* 8000-8080: 8000/10 (8000..8063), 8064/12 (..8079), 8080/16 */
	assert_int_equal(mseg_bpf_port_prefixes(8000, 8080, pp), 3);
	assert_int_equal(pp[0].port, 8000);
	assert_int_equal(pp[0].plen, 10);
	assert_int_equal(pp[1].port, 8064);
	assert_int_equal(pp[1].plen, 12);
	assert_int_equal(pp[2].port, 8080);
	assert_int_equal(pp[2].plen, 16);
	assert_int_equal(mseg_bpf_port_prefixes(5, 4, pp), 0);
}

static void test_entry_keys(void **state)
{
	struct mseg_policy_key keys[MSEG_PORT_PREFIXES_MAX];
	struct mseg_table_entry e = {
	    .endpoint = 7,
	    .dir = MSEG_DIR_EGRESS,
	    .proto = MSEG_PROTO_TCP,
	    .port_lo = 1024,
	    .port_hi = 2047,
	    .remote = 300,
	};
	struct mseg_verdict_value v;

	assert_int_equal(mseg_bpf_entry_keys(&e, keys), 1);
	assert_int_equal(keys[0].endpoint, 7);
	assert_int_equal(keys[0].remote, 300);
	assert_int_equal(keys[0].dir, MSEG_DIR_EGRESS);
	assert_int_equal(keys[0].proto, 6);
	assert_int_equal(keys[0].plen, 6);
	assert_int_equal(keys[0].port, 1024);
	assert_int_equal(keys[0].pad, 0);
	assert_int_equal(keys[0].pad2, 0);

	/* Any protocol with a partial range is outside the contract. */
	e.proto = MSEG_PROTO_ANY;
	assert_int_equal(mseg_bpf_entry_keys(&e, keys), -EINVAL);
	e.port_lo = 0;
	e.port_hi = 65535;
	assert_int_equal(mseg_bpf_entry_keys(&e, keys), 1);
	assert_int_equal(keys[0].plen, 0);
	e.dir = 2;
	assert_int_equal(mseg_bpf_entry_keys(&e, keys), -EINVAL);

	e.dir = MSEG_DIR_INGRESS;
	e.verdict = MSEG_VERDICT_ALLOW;
	e.audit = 1;
	e.decided_by = (struct mseg_decider){.kind = MSEG_DECIDED_DEFAULT};
	e.audit_by = (struct mseg_decider){
	    .kind = MSEG_DECIDED_RULE, .policy = 9, .rule = 2, .dir = MSEG_DIR_INGRESS};
	assert_int_equal(mseg_bpf_entry_value(&e, &v), 0);
	assert_int_equal(v.verdict, 1);
	assert_int_equal(v.audit, 1);
	assert_int_equal(v.decided_by.kind, MSEG_ABI_DECIDED_DEFAULT);
	assert_int_equal(v.audit_by.policy, 9);
	assert_int_equal(v.audit_by.rule, 2);
	e.verdict = 7;
	assert_int_equal(mseg_bpf_entry_value(&e, &v), -EINVAL);
}

static void test_ipcache_key(void **state)
{
	struct mseg_cidr c = {.family = MSEG_AF_INET, .prefixlen = 24, .addr = {10, 1, 2, 0}};
	struct mseg_ipcache_key k;

	assert_int_equal(mseg_bpf_ipcache_key(&c, &k), 0);
	assert_int_equal(k.prefixlen, 32 + 24);
	assert_int_equal(k.family, MSEG_ABI_AF_INET);
	assert_memory_equal(k.addr, c.addr, 4);
	c.family = MSEG_AF_INET6;
	assert_int_equal(mseg_bpf_ipcache_key(&c, &k), -EAFNOSUPPORT);
}

static void test_reason_names(void **state)
{
	assert_string_equal(mseg_drop_reason_name(MSEG_DROP_SPOOFED_IP), "spoofed-ip");
	assert_string_equal(mseg_drop_reason_name(MSEG_DROP_ISOLATED), "isolated");
	assert_string_equal(mseg_drop_reason_name(MSEG_DROP_REASON_MAX), "unknown");
	for (uint16_t r = 0; r < MSEG_DROP_REASON_MAX; r++)
		assert_string_not_equal(mseg_drop_reason_name(r), "unknown");
	assert_string_equal(mseg_event_verdict_name(MSEG_EVENT_AUDIT), "audit");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exhaustive_small), cmocka_unit_test(test_known_splits),
	    cmocka_unit_test(test_entry_keys),	     cmocka_unit_test(test_ipcache_key),
	    cmocka_unit_test(test_reason_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
