// SPDX-License-Identifier: Apache-2.0
/*
 * bpf-verdict: per-packet verdict cost of mseg's tc programs (BPF_PROG_TEST_RUN) for allowed,
 * denied and reply packets as the policy map grows, net of the empty program measured in the
 * same run. Runs in its own network and mount namespace; needs root.
 *
 *   bpf-verdict [--rules 10,1000,10000,100000] [--repeat 100000] [--trials 5] [--json]
 *
 * The goal (issue 4): cost at 100,000 rules <= 1.3 x cost at 10, for every kind.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "agent/datapath_bpf_bench.h"
#include "log.h"

#define MAX_COUNTS 16

static int quiet_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

static int parse_counts(const char *s, uint32_t *out, size_t *n)
{
	char *end;

	*n = 0;
	while (*s) {
		unsigned long v = strtoul(s, &end, 10);

		if (end == s || v == 0 || v > 1000000 || *n == MAX_COUNTS)
			return -EINVAL;
		out[(*n)++] = (uint32_t)v;
		s = *end == ',' ? end + 1 : end;
		if (*end && *end != ',')
			return -EINVAL;
	}
	return *n ? 0 : -EINVAL;
}

static void print_table(const struct mseg_bpf_bench_result *res, size_t n, uint32_t repeat,
			unsigned trials)
{
	printf("bpf-verdict: ns/packet net of the empty program (%.1f ns), median of %u trials "
	       "x %u runs [min-max]\n",
	       res[0].empty.median, trials, repeat);
	printf("%9s %9s %9s", "rules", "entries", "apply_ms");
	for (int k = 0; k < MSEG_BENCH_KINDS; k++)
		printf("  %-24s", mseg_bpf_bench_kind_name(k));
	printf("\n");
	for (size_t i = 0; i < n; i++) {
		printf("%9u %9u %9.1f", res[i].rules, res[i].entries, res[i].apply_ms);
		for (int k = 0; k < MSEG_BENCH_KINDS; k++) {
			char cell[64];

			snprintf(cell, sizeof(cell), "%.1f [%.1f-%.1f] x%.2f",
				 res[i].kind[k].median, res[i].kind[k].min, res[i].kind[k].max,
				 res[i].kind[k].median / res[0].kind[k].median);
			printf("  %-24s", cell);
		}
		printf("\n");
	}
	printf("ratio = median / median at %u rules; goal at the largest count: <= 1.30\n",
	       res[0].rules);
}

static void print_json(const struct mseg_bpf_bench_result *res, size_t n, uint32_t repeat,
		       unsigned trials)
{
	printf("{\"benchmark\":\"bpf-verdict\",\"repeat\":%u,\"trials\":%u,\"unit\":\"ns\","
	       "\"empty_ns\":%.2f,\"results\":[",
	       repeat, trials, res[0].empty.median);
	for (size_t i = 0; i < n; i++) {
		printf("%s{\"rules\":%u,\"entries\":%u,\"apply_ms\":%.2f", i ? "," : "",
		       res[i].rules, res[i].entries, res[i].apply_ms);
		for (int k = 0; k < MSEG_BENCH_KINDS; k++)
			printf(",\"%s\":{\"median\":%.2f,\"min\":%.2f,\"max\":%.2f,\"ratio\":%.3f}",
			       mseg_bpf_bench_kind_name(k), res[i].kind[k].median,
			       res[i].kind[k].min, res[i].kind[k].max,
			       res[i].kind[k].median / res[0].kind[k].median);
		printf("}");
	}
	printf("]}\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"rules", required_argument, NULL, 'r'},  {"repeat", required_argument, NULL, 'n'},
	    {"trials", required_argument, NULL, 't'}, {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},	      {}};
	uint32_t counts[MAX_COUNTS] = {10, 1000, 10000, 100000};
	struct mseg_bpf_bench_result res[MAX_COUNTS];
	struct mseg_bpf_bench_opts o = {
	    .rules = counts, .n_rules = 4, .repeat = 100000, .trials = 5};
	char dir[64] = "";
	bool json = false;
	int c, r;

	mseg_log_init("bpf-verdict", MSEG_LOG_INFO);
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (parse_counts(optarg, counts, &o.n_rules) < 0) {
				log_err("invalid --rules '%s': want counts like 10,1000", optarg);
				return 2;
			}
			break;
		case 'n':
			o.repeat = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 't':
			o.trials = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'j':
			json = true;
			break;
		default:
			printf("usage: bpf-verdict [--rules N,N,...] [--repeat N] [--trials N] "
			       "[--json]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (!o.repeat || !o.trials) {
		log_err("--repeat and --trials must be positive");
		return 2;
	}
	libbpf_set_print(quiet_libbpf);
	r = mseg_bpf_sandbox_enter(dir, sizeof(dir));
	if (r < 0)
		return log_errno(r,
				 "cannot enter a private network namespace with a bpffs (root?)"),
		       1;
	o.bpf_dir = dir;
	o.ifindex = mseg_bpf_sandbox_veth("mbench");
	if (o.ifindex < 0) {
		log_errno(o.ifindex, "cannot create the veth 'mbench'");
		mseg_bpf_sandbox_leave(dir);
		return 1;
	}
	r = mseg_bpf_bench_run(&o, res);
	mseg_bpf_sandbox_leave(dir);
	if (r < 0)
		return log_errno(r, "benchmark failed"), 1;

	if (json)
		print_json(res, o.n_rules, o.repeat, o.trials);
	else
		print_table(res, o.n_rules, o.repeat, o.trials);
	return 0;
}
