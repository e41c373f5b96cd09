// SPDX-License-Identifier: Apache-2.0
/*
 * Regression guard for the datapath's O(1) lookups: the verdict cost at 100,000 rules must
 * stay within 2x the cost at 10 (the benchmark, tools/bench/bpf_verdict.c, holds the real
 * goal of 1.3x with more repetitions). Same measuring code, fewer runs; needs root and BPF.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/datapath_bpf_bench.h"

static void test_cost_flat_in_rule_count(void **state)
{
	static const uint32_t counts[] = {10, 100000};
	struct mseg_bpf_bench_result res[2];
	struct mseg_bpf_bench_opts o = {
	    .rules = counts, .n_rules = 2, .repeat = 20000, .trials = 5};
	char dir[64] = "";
	int r;

	if (geteuid() != 0) {
		print_message("skipping: needs root for BPF and namespaces\n");
		skip();
	}
	r = mseg_bpf_sandbox_enter(dir, sizeof(dir));
	if (r < 0) {
		print_message("skipping: no private namespace with a bpffs: %s\n", strerror(-r));
		skip();
	}
	o.bpf_dir = dir;
	o.ifindex = mseg_bpf_sandbox_veth("mcost");
	if (o.ifindex < 0) {
		mseg_bpf_sandbox_leave(dir);
		print_message("skipping: cannot create a veth\n");
		skip();
	}
	r = mseg_bpf_bench_run(&o, res);
	mseg_bpf_sandbox_leave(dir);
	assert_int_equal(r, 0);

	for (int k = 0; k < MSEG_BENCH_KINDS; k++) {
		/* A floor of 20 ns keeps timer noise on a tiny base from failing the ratio. */
		double base = res[0].kind[k].median > 20 ? res[0].kind[k].median : 20;
		double ratio = res[1].kind[k].median / base;

		print_message("%s: %.1f ns at 10 rules, %.1f ns at 100000 (x%.2f)\n",
			      mseg_bpf_bench_kind_name(k), res[0].kind[k].median,
			      res[1].kind[k].median, ratio);
		if (ratio > 2.0)
			fail_msg("%s packets cost x%.2f at 100000 rules (limit 2)",
				 mseg_bpf_bench_kind_name(k), ratio);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cost_flat_in_rule_count),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
